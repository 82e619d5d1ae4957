"""The layout renderer: composes a channel image from the brand palette and a headline, offline.

It makes no AI imagery, and says so: every image it makes carries ``renderer='layout'`` and ``LABEL``,
which the review, the pack and the audit show. The [imagery] issue adds diffusers beside it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from PIL import Image, ImageColor, ImageDraw, ImageFont

__all__ = ["LABEL", "LayoutRenderer", "RenderSpec", "contrast_ratio", "overlay_headline", "relative_luminance"]

LABEL = "Layout render (brand palette and headline; not AI imagery)"
RGB = tuple[int, int, int]


@dataclass(frozen=True)
class RenderSpec:
    """What to draw: size, text and palette; the seed places the decorative shapes (or seeds the generator).

    ``prompt`` is for AI backends. ``preview_size`` marks a final: the size of the approved preview it is
    refined from (regenerated from the same seed and prompt).
    """

    width: int
    height: int
    headline: str
    subline: str
    palette: tuple[str, ...]
    seed: int
    prompt: str = ""
    preview_size: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        if not (16 <= self.width <= 8192 and 16 <= self.height <= 8192):
            raise ValueError(f"size {self.width}x{self.height} is out of range; allowed: 16 to 8192 px a side")
        if not self.palette:
            raise ValueError("palette is empty; give at least one colour as '#RRGGBB'")
        for colour in self.palette:
            ImageColor.getrgb(colour)  # raises ValueError naming a bad colour


def relative_luminance(colour: RGB) -> float:
    """WCAG 2.x relative luminance of an sRGB colour."""

    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(v) for v in colour)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_ratio(a: RGB, b: RGB) -> float:
    """WCAG contrast ratio between two colours (1 to 21)."""
    high, low = sorted((relative_luminance(a), relative_luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def _rgb(colour: str) -> RGB:
    r, g, b = ImageColor.getrgb(colour)[:3]
    return (r, g, b)


def _wrap(draw: ImageDraw.ImageDraw, text: str, font: ImageFont.FreeTypeFont, width: float) -> list[str]:
    lines: list[str] = []
    for word in text.split():
        if lines and draw.textlength(f"{lines[-1]} {word}", font=font) <= width:
            lines[-1] = f"{lines[-1]} {word}"
        else:
            lines.append(word)
    return lines


def _fit(
    draw: ImageDraw.ImageDraw, text: str, box: tuple[float, float], start: int
) -> tuple[ImageFont.FreeTypeFont, list[str]]:
    """The largest font (from ``start`` px down) at which ``text`` wraps into ``box``."""
    size = start
    while True:
        font = ImageFont.load_default(size=size)
        assert isinstance(font, ImageFont.FreeTypeFont)  # Pillow ships a FreeType default font
        lines = _wrap(draw, text, font, box[0])
        fits = all(draw.textlength(line, font=font) <= box[0] for line in lines)
        if (fits and len(lines) * size * 1.2 <= box[1]) or size <= 8:
            return font, lines
        size = max(8, int(size * 0.9))


def overlay_headline(image: Image.Image, spec: RenderSpec) -> Image.Image:
    """Set the headline (and subline) on a panel in the darkest palette colour, in place; returns ``image``."""
    palette = [_rgb(c) for c in spec.palette]
    draw = ImageDraw.Draw(image)
    short = min(spec.width, spec.height)
    # The panel takes the darkest palette colour; white or black on it always reaches 4.5:1 (WCAG AA).
    panel = min(palette, key=relative_luminance)
    ink = max(((255, 255, 255), (0, 0, 0)), key=lambda c: contrast_ratio(c, panel))
    banner = spec.width / spec.height >= 3
    if banner:
        left, top, right, bottom = 0.0, 0.0, spec.width * 0.72, float(spec.height)
    else:
        left, top, right, bottom = 0.0, spec.height * 0.6, float(spec.width), float(spec.height)
    draw.rectangle((left, top, right, bottom), fill=panel)
    pad = 0.06 * short if not banner else 0.12 * spec.height
    box = (right - left - 2 * pad, (bottom - top - 2 * pad) * (1.0 if banner else 0.72))
    font, lines = _fit(draw, spec.headline, box, start=int(short * (0.5 if banner else 0.11)))
    y = top + pad
    for line in lines:
        draw.text((left + pad, y), line, font=font, fill=ink)
        y += font.size * 1.2
    if spec.subline and not banner:
        sub_box = (box[0], bottom - pad - y)
        sub_font, sub_lines = _fit(draw, spec.subline, sub_box, start=max(8, int(font.size) // 2))
        for line in sub_lines[:1]:
            draw.text((left + pad, y + pad * 0.2), line, font=sub_font, fill=ink)
    return image


class LayoutRenderer:
    """Renders ``RenderSpec``s with Pillow: a palette gradient, seeded shapes, and the headline on a panel."""

    renderer = "layout"
    label = LABEL

    def render(self, spec: RenderSpec) -> Image.Image:
        """Draw one image; the same spec always gives the same pixels."""
        palette = [_rgb(c) for c in spec.palette]
        start, end = palette[0], palette[1 % len(palette)]
        mask = Image.linear_gradient("L").rotate(45, expand=True).resize((spec.width, spec.height))
        image = Image.composite(Image.new("RGB", mask.size, end), Image.new("RGB", mask.size, start), mask)
        draw = ImageDraw.Draw(image)
        rng = random.Random(spec.seed)
        short = min(spec.width, spec.height)
        for colour in palette[2:] or palette[:1]:
            radius = rng.uniform(0.15, 0.45) * short
            x, y = rng.uniform(0, spec.width), rng.uniform(0, spec.height)
            draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=colour)
        return overlay_headline(image, spec)
