"""Pixel facts every layer agrees on: the image types briefcraft reads, dominant colours, sRGB linearisation.

Brand memory computes an ingested image's colours with these, and the compliance checks a generated image's,
so the two always compare like with like.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from PIL import Image

__all__ = ["IMAGE_TYPES", "PALETTE_COLOURS", "dominant_colours", "srgb_to_linear"]

#: File suffix -> the Pillow format its content must have.
IMAGE_TYPES = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP"}
#: How many dominant colours an image is reduced to.
PALETTE_COLOURS = 5


def dominant_colours(image: Image.Image) -> list[tuple[str, float]]:
    """The image's dominant colours as ('#RRGGBB', share of pixels), largest share first."""
    rgb = image.convert("RGB")
    scale = min(1.0, 128 / max(rgb.size))
    # Nearest-neighbour sampling counts the image's own colours; a smoothing filter would invent blends.
    small = rgb.resize((max(1, round(rgb.width * scale)), max(1, round(rgb.height * scale))),
                       Image.Resampling.NEAREST)
    quantized = small.quantize(colors=PALETTE_COLOURS, method=Image.Quantize.MEDIANCUT)
    flat = quantized.getpalette() or []
    counts: list[tuple[int, int]] = sorted(quantized.getcolors() or [], reverse=True)  # type: ignore[arg-type]
    total = sum(count for count, _ in counts)
    return [("#{:02X}{:02X}{:02X}".format(*flat[3 * index: 3 * index + 3]), round(count / total, 3))
            for count, index in counts]


def srgb_to_linear(rgb: ArrayLike) -> np.ndarray:
    """Linear-light values of sRGB components given as 0-255 (IEC 61966-2-1)."""
    c = np.asarray(rgb, dtype=np.float64) / 255.0
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
