"""Art director: turns the brief and the brand palette into channel images.

A renderer makes the picture; the compositor (tools/compose.py) sets the headline, call to action and logo on it
at the channel's sizes. A preview per channel goes to review; after approval its picture is refined once at full
size (same prompt and seed) and composed at every catalog size with the approved copy. The renderer is injected:
the offline ``LayoutRenderer`` by default, ``DiffusionRenderer`` for AI imagery.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextvars import copy_context
from pathlib import Path
from typing import Literal, Protocol, TypeVar

from PIL import Image

from briefcraft import __version__
from briefcraft.agents.spend import noted
from briefcraft.channels import get_channel
from briefcraft.pricing import PricingTable
from briefcraft.schemas import AuditEvent, BrandContext, CreativeBrief, ImageAsset, Provenance, StyleLora, Subtask
from briefcraft.settings import Settings
from briefcraft.tools.assets import asset_path, save_bytes, save_png, write_atomic
from briefcraft.tools.compose import Overlay, compose
from briefcraft.tools.image_checks import alt_text
from briefcraft.tools.imagegen import DiffusionRenderer
from briefcraft.tools.openai_images import OpenAIImagesRenderer
from briefcraft.tools.provenance import (
    COMPOSITE,
    COMPOSITE_SYNTHETIC,
    SignerFiles,
    Stamp,
    StampReport,
    WatermarkMethod,
    stamp,
)
from briefcraft.tools.render import LayoutRenderer, Rendered, RenderSpec

__all__ = [
    "FINAL_MAX_SIDE", "PREVIEW_MAX_SIDE", "ImageRenderer", "cover_size", "final_alt_text", "image_prompt", "in_threads",
    "make_preview", "make_renderer", "render_cost", "render_finals", "stamp_finals",
]

_T = TypeVar("_T")
_R = TypeVar("_R")

#: Previews are drawn with their longer side this many pixels: fast, and enough to judge a layout.
PREVIEW_MAX_SIDE = 512
#: Seeds apart between image variants, so no variant's rewrite takes the seed of the next variant.
_VARIANT_SEEDS = 1000
#: A final picture's longer side at most: every catalog size crops from it (Etsy's 2000 px is the largest).
FINAL_MAX_SIDE = 2048


class ImageRenderer(Protocol):
    """What the art director needs from an image backend."""

    renderer: str
    label: str

    def render(self, spec: RenderSpec) -> Rendered:
        """The picture for ``spec``, without copy, about the spec's size (the compositor crops it exactly), with
        what making it used."""
        ...


def make_renderer(settings: Settings) -> ImageRenderer:
    """The backend ``settings.image_backend`` names; a diffusers pipeline is loaded here, once."""
    if settings.image_backend == "diffusers":
        return DiffusionRenderer.from_settings(settings)
    if settings.image_backend == "openai":
        return OpenAIImagesRenderer.from_settings(settings)
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


def _alt_text(headline: str, cta: str, product: str) -> str:
    # The picture shows the product; a headline that already names it needs no description saying so again.
    return alt_text(headline=headline, cta=cta, subject="" if product.casefold() in headline.casefold() else product)


def final_alt_text(preview: ImageAsset, headline: str, cta: str, product: str) -> str:
    """A final's alt text: the text it shows (the approved copy's), then what the picture shows. That is the
    product, or, when a reviewer edited the preview's alt text, their description: what they wrote after the
    preview's own text or the final's (either with its button, or the headline alone), or all of it where they
    started with neither."""
    if preview.alt_text == _alt_text(preview.headline, preview.cta, product):
        return _alt_text(headline, cta, product)
    described = " ".join(preview.alt_text.split())
    shown = {text for head, button in ((preview.headline, preview.cta), (headline, cta)) if head or button
             for text in (alt_text(headline=head, cta=button), " ".join(head.split())) if text}
    for text in sorted(shown, key=len, reverse=True):  # the longest first: the headline with its button, if given
        if described.casefold().startswith(text.casefold()):
            described = described[len(text):].lstrip(" —-–:;,.")
            break
    return alt_text(headline=headline, cta=cta, subject=described or product)


def _overlay(channel: str, brand: BrandContext, headline: str, cta: str, font_dirs: tuple[Path, ...]) -> Overlay:
    return Overlay(
        headline=headline, cta=cta, palette=tuple(brand.palette), fonts=tuple(brand.fonts),
        logo=Path(brand.logo) if brand.logo else None, font_dirs=font_dirs, safe_zone=get_channel(channel).safe_zone,
    )


def render_cost(renderer: str, made: Rendered, pricing: PricingTable) -> float | None:
    """USD for one picture: GPU-seconds at the GPU rate, an API's tokens at its model's price, nothing for a picture
    made on this machine's CPU; None when the model has no price row or the API reported no usage."""
    if made.gpu_seconds is not None:
        return round(pricing.gpu_cost(made.gpu_seconds), 8)
    if renderer == "diffusers":
        return 0.0
    price = pricing.image_price(renderer, made.model or "*")
    if price is None:
        return None
    if made.model is None:
        return price.cost(0, 0, 0)
    if made.input_tokens is None or made.output_tokens is None:
        return None
    return round(price.cost(made.input_tokens, made.input_image_tokens or 0, made.output_tokens), 8)


def _picture(renderer: ImageRenderer, spec: RenderSpec, store: Path, pricing: PricingTable, *, item_id: str,
             revision: int, node: str) -> tuple[Image.Image, Path, AuditEvent]:
    """Make and keep the picture (before copy): a final is refined from it, every size is cropped from it."""
    started = time.perf_counter()
    made = renderer.render(spec)
    latency = (time.perf_counter() - started) * 1000
    path, digest = save_png(made.image, store, {"briefcraft:renderer": renderer.renderer,
                                                "briefcraft:label": renderer.label, "briefcraft:prompt": spec.prompt})
    event = noted(AuditEvent(
        kind="render", node=node, item_id=item_id, revision=revision, provider=renderer.renderer, model=made.model,
        seed=spec.seed,
        path=str(path), sha256=digest, latency_ms=round(latency, 1), input_tokens=made.input_tokens,
        input_image_tokens=made.input_image_tokens, output_tokens=made.output_tokens, gpu_seconds=made.gpu_seconds,
        attempts=made.attempts,
        cost_usd=render_cost(renderer.renderer, made, pricing),
    ))
    return made.image, path, event


def _compose(
    renderer: ImageRenderer, picture: Image.Image, picture_path: Path, size: tuple[int, int], overlay: Overlay,
    store: Path, *, item_id: str, channel: str, variant: int, revision: int, stage: Literal["preview", "final"],
    alt: str, seed: int, prompt: str, style_loras: tuple[StyleLora, ...], source_id: str | None = None,
) -> tuple[ImageAsset, AuditEvent]:
    image, composition = compose(picture, *size, overlay)
    path, digest = save_png(
        image, store, {"briefcraft:renderer": renderer.renderer, "briefcraft:label": renderer.label}
    )
    asset = ImageAsset(
        id=item_id, channel=channel, variant=variant, revision=revision, stage=stage,
        renderer=renderer.renderer, label=renderer.label, path=str(path), sha256=digest,
        width=size[0], height=size[1], headline=overlay.headline, cta=overlay.cta,
        alt_text=alt, palette=list(overlay.palette), seed=seed,
        source_id=source_id, prompt=prompt, picture=str(picture_path), composition=composition,
        style_loras=list(style_loras) if renderer.renderer == "diffusers" else [],
    )
    event = AuditEvent(kind="render", node="make_visual" if stage == "preview" else "finalize", item_id=item_id,
                       revision=revision, provider="compositor", path=str(path), sha256=digest)
    return asset, event


def make_preview(
    renderer: ImageRenderer, subtask: Subtask, brief: CreativeBrief, brand: BrandContext, store: Path, seed: int,
    *, pricing: PricingTable, font_dirs: tuple[Path, ...] = (),
) -> tuple[ImageAsset, list[AuditEvent]]:
    """Render the preview for a visual subtask; each variant, and each rewrite of it, takes its own seed."""
    width, height = get_channel(subtask.channel).images[0]
    scale = PREVIEW_MAX_SIDE / max(width, height)
    size = (max(16, round(width * scale)), max(16, round(height * scale)))
    spec = RenderSpec(width=size[0], height=size[1], palette=tuple(brand.palette),
                      seed=seed + _VARIANT_SEEDS * (subtask.variant - 1) + subtask.revision,
                      prompt=image_prompt(brief, brand), style_loras=tuple(brand.style_loras))
    picture, picture_path, made = _picture(renderer, spec, store, pricing, item_id=subtask.id,
                                             revision=subtask.revision, node="make_visual")
    headline = brief.key_messages[0] if brief.key_messages else brief.product
    asset, composed = _compose(
        renderer, picture, picture_path, size, _overlay(subtask.channel, brand, headline, "", font_dirs), store,
        item_id=subtask.id, channel=subtask.channel, variant=subtask.variant, revision=subtask.revision,
        stage="preview", alt=_alt_text(headline, "", brief.product), seed=spec.seed, prompt=spec.prompt,
        style_loras=spec.style_loras,
    )
    return asset, [made, composed]


def cover_size(sizes: tuple[tuple[int, int], ...], aspect: float, max_side: int = FINAL_MAX_SIDE) -> tuple[int, int]:
    """The smallest picture of ``aspect`` from which every size crops without upscaling (capped at ``max_side``)."""
    width = max(max(w, h * aspect) for w, h in sizes)
    height = width / aspect
    scale = min(1.0, max_side / max(width, height))
    return max(16, round(width * scale)), max(16, round(height * scale))


def in_threads(work: Callable[[_T], _R], items: Sequence[_T]) -> list[_R]:
    """``work`` on each item in threads, one per core, the results in the items' order (so the audit's order does
    not depend on timing). Image work overlaps there: PNG encoding, resizing, numpy and signing release the GIL, and
    a renderer on a GPU takes its own lock while the other threads compose and stamp."""
    with ThreadPoolExecutor(max_workers=max(1, min(len(items), os.cpu_count() or 1))) as pool:
        # each in a copy of the caller's context (taken here, in the caller's thread): what the work notes
        # (agents.spend) goes to the caller's step
        contexts = [copy_context() for _ in items]
        return list(pool.map(lambda context, item: context.run(work, item), contexts, items))


def render_finals(
    renderer: ImageRenderer, preview: ImageAsset, headline: str, cta: str, product: str, brand: BrandContext,
    store: Path, *, pricing: PricingTable, font_dirs: tuple[Path, ...] = (),
) -> tuple[list[ImageAsset], list[AuditEvent]]:
    """Refine the approved preview's picture once at full size, then compose it at every size of its channel."""
    sizes = get_channel(preview.channel).images
    spec = RenderSpec(
        *cover_size(sizes, preview.width / preview.height), palette=tuple(preview.palette), seed=preview.seed,
        prompt=preview.prompt, source=Path(preview.picture) if preview.picture else None,
        style_loras=tuple(preview.style_loras),  # what the approved preview was made with, not today's kit
    )
    picture, picture_path, made = _picture(renderer, spec, store, pricing, item_id=preview.id,
                                             revision=preview.revision, node="finalize")
    overlay = _overlay(preview.channel, brand, headline, cta, font_dirs)
    alt = final_alt_text(preview, headline, cta, product)
    finals: list[ImageAsset] = []
    events = [made]
    for width, height in sizes:
        asset, event = _compose(
            renderer, picture, picture_path, (width, height), overlay, store,
            item_id=f"{preview.id}-{width}x{height}", channel=preview.channel, variant=preview.variant,
            revision=preview.revision, stage="final", alt=alt, seed=preview.seed, prompt=preview.prompt,
            source_id=preview.id, style_loras=spec.style_loras,
        )
        finals.append(asset)
        events.append(event)
    return finals, events


def stamp_finals(
    finals: Sequence[ImageAsset], store: Path, *, signer: SignerFiles, dev_ca: bool, watermark: bool,
    watermark_method: WatermarkMethod, ai_label_channels: Sequence[str], records: Path,
) -> tuple[list[ImageAsset], list[AuditEvent]]:
    """Stamp each final (visible label where its channel asks, watermark, IPTC metadata, signed C2PA manifest with
    its picture as the ingredient) and keep the stamped file in the store in place of the unstamped one.

    The finals are stamped in parallel (``in_threads``). ``records`` keeps what each stamp wrote, so a re-run
    (after a crash) reuses a stamp instead of signing again."""
    def one(asset: ImageAsset) -> tuple[ImageAsset, AuditEvent]:
        ai = asset.renderer != "layout"  # a layout render has no model imagery: no AI source type, no AI label
        mark = Stamp(
            title=f"{asset.headline} ({asset.channel}, {asset.width}x{asset.height})", alt_text=asset.alt_text,
            digital_source_type=COMPOSITE if ai else COMPOSITE_SYNTHETIC,
            software_agent=f"briefcraft {__version__}", model=asset.label,
            ingredient=Path(asset.picture) if asset.picture else None, watermark=watermark,
            watermark_payload=asset.sha256[:8], watermark_method=watermark_method,
            ai_label="AI-generated" if ai and asset.channel in ai_label_channels else None,
        )
        report = _stamp_once(Path(asset.path), mark, signer, store, records)
        record = Provenance(
            digital_source_type=report.digital_source_type, signer=report.signer, dev_ca=dev_ca,
            actions=report.actions, ingredient=report.ingredient, watermark=report.watermark,
            watermark_payload=mark.watermark_payload if report.watermark == "embedded" else None,
            ai_label=mark.ai_label,
        )
        event = AuditEvent(
            kind="provenance", node="finalize", item_id=asset.id, revision=asset.revision, path=report.path,
            sha256=report.sha256,
            comment=f"C2PA {', '.join(report.actions)} signed by {report.signer}"
            f"{' (dev CA)' if dev_ca else ''}; watermark {report.watermark}"
            f"{'; label ' + repr(mark.ai_label) if mark.ai_label else ''}",
        )
        return asset.model_copy(update={"path": report.path, "sha256": report.sha256, "provenance": record}), event

    done = in_threads(one, finals)
    return [asset for asset, _ in done], [event for _, event in done]


def _stamp_once(source: Path, mark: Stamp, signer: SignerFiles, store: Path, records: Path) -> StampReport:
    """Stamp ``source`` into the store, or reuse the stamp an earlier (killed) run made of it with the same marks
    and signer: a C2PA signature differs every time, so signing again would leave a second, unused file."""
    record = records / f"{hashlib.sha256(repr((source.name, mark, signer)).encode()).hexdigest()}.json"
    if record.exists():
        earlier = StampReport.model_validate_json(record.read_text())
        if Path(earlier.path).exists():
            return earlier
    with tempfile.TemporaryDirectory() as scratch:  # outside the store: a kill leaves nothing there
        made = stamp(source, Path(scratch) / source.name, stamp=mark, signer=signer)
        data = Path(made.path).read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    report = made.model_copy(update={"path": str(asset_path(store, digest)), "sha256": digest})
    # The record first, then the picture: a kill between the two leaves a record without its file (stamped anew),
    # never a stamped file nothing points to.
    write_atomic(record, report.model_dump_json().encode())
    save_bytes(data, store)
    return report
