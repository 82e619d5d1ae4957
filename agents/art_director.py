"""Art director: turns the brief and the brand palette into channel images.

A preview per channel goes to review; after approval, finals are rendered at every catalog size with
the approved headline, each refined from the approved preview (same prompt and seed). The renderer is
injected: the offline ``LayoutRenderer`` by default, ``DiffusionRenderer`` for AI imagery.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Protocol

from PIL import Image

from briefcraft.channels import get_channel
from briefcraft.schemas import AuditEvent, BrandContext, CreativeBrief, ImageAsset, Subtask
from briefcraft.settings import Settings
from briefcraft.tools.assets import save_png
from briefcraft.tools.imagegen import DiffusionRenderer
from briefcraft.tools.render import LayoutRenderer, RenderSpec

__all__ = ["PREVIEW_MAX_SIDE", "ImageRenderer", "image_prompt", "make_preview", "make_renderer", "render_finals"]

#: Previews are drawn with their longer side this many pixels: fast, and enough to judge a layout.
PREVIEW_MAX_SIDE = 512


class ImageRenderer(Protocol):
    """What the art director needs from an image backend."""

    renderer: str
    label: str

    def render(self, spec: RenderSpec) -> Image.Image:
        """Draw one image for ``spec``."""
        ...


def make_renderer(settings: Settings) -> ImageRenderer:
    """The backend ``settings.image_backend`` names; a diffusers pipeline is loaded here, once."""
    if settings.image_backend == "diffusers":
        return DiffusionRenderer.from_settings(settings)
    return LayoutRenderer()


def image_prompt(brief: CreativeBrief, brand: BrandContext) -> str:
    """The picture to generate, from the brief and the brand's visual rules (text is set on it afterwards)."""
    parts = [f"Advertising photograph of {brief.product}"]
    if brief.audience:
        parts.append(f"for {brief.audience}")
    if brief.tone:
        parts.append(f"mood: {', '.join(brief.tone)}")
    parts += [rule.text.strip().replace("\n", " ")[:160] for rule in brand.visual_rules[:2]]
    return "; ".join(parts)


def _alt_text(headline: str, product: str) -> str:
    # The W3C alt decision tree: an image of text carries that text in its alt.
    return headline if headline == product else f"{headline} — {product}"


def _store(
    renderer: ImageRenderer, spec: RenderSpec, store: Path, *, item_id: str, channel: str, variant: int,
    revision: int, stage: Literal["preview", "final"], product: str, source_id: str | None = None,
) -> tuple[ImageAsset, AuditEvent]:
    image = renderer.render(spec)
    path, digest = save_png(
        image, store, {"briefcraft:renderer": renderer.renderer, "briefcraft:label": renderer.label}
    )
    asset = ImageAsset(
        id=item_id, channel=channel, variant=variant, revision=revision, stage=stage,
        renderer=renderer.renderer, label=renderer.label, path=str(path), sha256=digest,
        width=spec.width, height=spec.height, headline=spec.headline,
        alt_text=_alt_text(spec.headline, product), palette=list(spec.palette), seed=spec.seed,
        source_id=source_id, prompt=spec.prompt,
    )
    event = AuditEvent(
        kind="render", node="make_visual" if stage == "preview" else "finalize", item_id=item_id,
        provider=renderer.renderer, seed=spec.seed, path=str(path), sha256=digest,
    )
    return asset, event


def make_preview(
    renderer: ImageRenderer, subtask: Subtask, brief: CreativeBrief, brand: BrandContext, store: Path, seed: int
) -> tuple[ImageAsset, AuditEvent]:
    """Render the preview for a visual subtask; a rewrite (revision > 0) takes a new seed."""
    width, height = get_channel(subtask.channel).images[0]
    scale = PREVIEW_MAX_SIDE / max(width, height)
    headline = brief.key_messages[0] if brief.key_messages else brief.product
    spec = RenderSpec(
        width=max(16, round(width * scale)), height=max(16, round(height * scale)), headline=headline,
        subline=brief.product, palette=tuple(brand.palette), seed=seed + subtask.revision,
        prompt=image_prompt(brief, brand),
    )
    return _store(
        renderer, spec, store, item_id=subtask.id, channel=subtask.channel, variant=subtask.variant,
        revision=subtask.revision, stage="preview", product=brief.product,
    )


def render_finals(
    renderer: ImageRenderer, preview: ImageAsset, headline: str, product: str, store: Path
) -> tuple[list[ImageAsset], list[AuditEvent]]:
    """Render an approved preview at every size of its channel, with the approved headline, refined from it."""
    finals: list[ImageAsset] = []
    events: list[AuditEvent] = []
    for width, height in get_channel(preview.channel).images:
        spec = RenderSpec(
            width=width, height=height, headline=headline, subline=product, palette=tuple(preview.palette),
            seed=preview.seed, prompt=preview.prompt, preview_size=(preview.width, preview.height),
        )
        asset, event = _store(
            renderer, spec, store, item_id=f"{preview.id}-{width}x{height}", channel=preview.channel,
            variant=preview.variant, revision=preview.revision, stage="final", product=product,
            source_id=preview.id,
        )
        finals.append(asset)
        events.append(event)
    return finals, events
