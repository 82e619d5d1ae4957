"""The layout renderer: a picture from the brand palette alone, offline, for when no image model is configured.

It makes no AI imagery, and says so: every image it makes carries ``renderer='layout'`` and ``LABEL``,
which the review, the pack and the audit show. The compositor sets the copy on it like on any other picture.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageColor, ImageDraw

from briefcraft.schemas import StyleLora
from briefcraft.tools.compose import check_palette, check_size

__all__ = ["LABEL", "LayoutRenderer", "RenderSpec", "Rendered"]

LABEL = "Layout render (brand palette and headline; not AI imagery)"


@dataclass(frozen=True)
class RenderSpec:
    """The picture to make: its size, palette and seed, and for AI backends the prompt and the brand's style LoRAs.

    ``source`` marks a final: the approved preview's picture, which the final is refined from so that it keeps
    what the director approved. Backends may return the nearest size they can make; the compositor crops.
    """

    width: int
    height: int
    palette: tuple[str, ...]
    seed: int
    prompt: str = ""
    source: Path | None = None
    style_loras: tuple[StyleLora, ...] = ()

    def __post_init__(self) -> None:
        check_size(self.width, self.height)
        check_palette(self.palette)


@dataclass(frozen=True)
class Rendered:
    """A picture and what making it used, for the audit ledger and its cost (None: not measured or not used)."""

    image: Image.Image
    model: str | None = None
    """The model that made it; None for a renderer without one (layout)."""
    input_tokens: int | None = None
    input_image_tokens: int | None = None
    output_tokens: int | None = None
    gpu_seconds: float | None = None
    """GPU time of the call, for diffusers on a GPU (not time spent waiting for the GPU)."""
    attempts: int | None = None
    """Attempts a remote call took (retries + 1); None for local renderers."""


class LayoutRenderer:
    """Draws a palette gradient with seeded shapes.

    Shapes are placed in proportion to the size, so a final (same seed, the preview's aspect ratio) is its
    preview redrawn at full resolution; there is nothing to refine, so ``spec.source`` is not read.
    """

    renderer = "layout"
    label = LABEL

    def render(self, spec: RenderSpec) -> Rendered:
        """Draw one picture; the same spec always gives the same pixels."""
        palette = [ImageColor.getrgb(c)[:3] for c in spec.palette]
        start, end = palette[0], palette[1 % len(palette)]
        mask = Image.linear_gradient("L").rotate(45, expand=True).resize((spec.width, spec.height))
        image = Image.composite(Image.new("RGB", mask.size, end), Image.new("RGB", mask.size, start), mask)
        draw = ImageDraw.Draw(image)
        rng = random.Random(spec.seed)
        short = min(spec.width, spec.height)
        for colour in spec.palette[2:] or spec.palette[:1]:
            radius = rng.uniform(0.15, 0.45) * short
            x, y = rng.uniform(0, spec.width), rng.uniform(0, spec.height)
            draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=colour)
        return Rendered(image)
