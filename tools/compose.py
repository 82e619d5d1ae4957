"""The compositor: a picture plus the approved copy and the brand kit in, a channel-ready image out.

For each channel size it crops the picture to the size's aspect ratio around its subject (never stretching),
sets the headline and call to action in the brand font inside the channel's safe zone, picks the text colour from
the brand palette so that every pixel behind the text has a WCAG contrast of at least 4.5:1 (on a palette panel when
the picture itself is too busy), and places the logo in a bottom corner with clear space. It is pure Pillow and
numpy: the same inputs give the same pixels.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageColor, ImageDraw, ImageFont

from briefcraft.imaging import srgb_to_linear
from briefcraft.schemas import Composition

__all__ = [
    "AA_CONTRAST", "BUNDLED_FONT", "Overlay", "check_palette", "check_size", "compose", "contrast_ratio", "find_font",
    "relative_luminance", "smart_crop", "subject_box",
]

#: WCAG 2.x AA minimum contrast for normal-size text.
AA_CONTRAST = 4.5
#: What a composition names when no brand font file is found.
BUNDLED_FONT = "Pillow's bundled font"

RGB = tuple[int, int, int]
Box = tuple[int, int, int, int]

#: Where installed fonts live on Linux, macOS and Windows; a brand's own folder is searched first.
_SYSTEM_FONT_DIRS = (
    Path("/usr/share/fonts"), Path("/usr/local/share/fonts"), Path.home() / ".local/share/fonts",
    Path.home() / ".fonts", Path("/Library/Fonts"), Path.home() / "Library/Fonts", Path("C:/Windows/Fonts"),
)
#: Saliency is computed on a copy this many pixels on its longer side: enough to find a subject, and cheap.
_SALIENCY_SIDE = 96


def check_size(width: int, height: int) -> None:
    """Refuse an image size outside 16 to 8192 px a side, naming it."""
    if not (16 <= width <= 8192 and 16 <= height <= 8192):
        raise ValueError(f"size {width}x{height} is out of range; allowed: 16 to 8192 px a side")


def check_palette(palette: tuple[str, ...]) -> None:
    """Refuse an empty palette or a colour Pillow cannot read, naming it."""
    if not palette:
        raise ValueError("palette is empty; give at least one colour as '#RRGGBB'")
    for colour in palette:
        ImageColor.getrgb(colour)  # raises ValueError naming a bad colour


@dataclass(frozen=True)
class Overlay:
    """The copy and brand assets set on a picture: headline, call to action, palette, font and logo."""

    headline: str
    palette: tuple[str, ...]
    cta: str = ""
    fonts: tuple[str, ...] = ()
    logo: Path | None = None
    font_dirs: tuple[Path, ...] = ()
    #: Fractions of the height/width kept free of text and logo (top, right, bottom, left), e.g. story UI zones.
    safe_zone: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)

    def __post_init__(self) -> None:
        check_palette(self.palette)
        if not all(0 <= f < 0.5 for f in self.safe_zone):
            raise ValueError(f"safe_zone {self.safe_zone}: each side must be a fraction in [0, 0.5)")


def relative_luminance(colour: RGB) -> float:
    """WCAG 2.x relative luminance of an sRGB colour."""
    return float(_luminance(np.asarray(colour, dtype=np.float64)))


def contrast_ratio(a: RGB, b: RGB) -> float:
    """WCAG contrast ratio between two colours (1 to 21)."""
    high, low = sorted((relative_luminance(a), relative_luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


_LUMINANCE_WEIGHTS = np.array([0.2126, 0.7152, 0.0722])
#: Each 8-bit value's share of relative luminance as the R, G and B component (256 x 3): pixels look theirs up,
#: rather than raising every component of every pixel behind the text to the power 2.4.
_COMPONENT_LUMINANCE = srgb_to_linear(np.arange(256)[:, None]) * _LUMINANCE_WEIGHTS


def _luminance(rgb: np.ndarray) -> np.ndarray:
    """Relative luminance of sRGB values (last axis R, G, B in 0-255; 8-bit pixels by table)."""
    if rgb.dtype == np.uint8:
        return np.asarray(sum(_COMPONENT_LUMINANCE[rgb[..., i], i] for i in range(3)))
    return np.asarray(srgb_to_linear(rgb) @ _LUMINANCE_WEIGHTS)


def _min_contrast(ink: RGB, lum: np.ndarray) -> float:
    """The lowest contrast between ``ink`` and any of the luminances ``lum``."""
    ink_lum = relative_luminance(ink)
    return float(((np.maximum(lum, ink_lum) + 0.05) / (np.minimum(lum, ink_lum) + 0.05)).min())


def _rgb(colour: str) -> RGB:
    r, g, b = ImageColor.getrgb(colour)[:3]
    return (r, g, b)


def _hex(colour: RGB) -> str:
    return "#{:02X}{:02X}{:02X}".format(*colour)


# --- smart crop ----------------------------------------------------------------------------------------


def _saliency(picture: Image.Image) -> np.ndarray:
    """Where the subject likely is: edges plus colour that stands out from the picture's mean, on a small copy."""
    scale = _SALIENCY_SIDE / max(picture.size)
    small = picture.convert("RGB").resize(
        (max(1, round(picture.width * scale)), max(1, round(picture.height * scale))), Image.Resampling.BOX
    )
    rgb = np.asarray(small, dtype=np.float64)
    grey = rgb.mean(axis=2)
    edges = np.abs(np.diff(grey, axis=0, append=grey[-1:])) + np.abs(np.diff(grey, axis=1, append=grey[:, -1:]))
    distinct = np.linalg.norm(rgb - rgb.reshape(-1, 3).mean(axis=0), axis=2)
    return np.asarray(edges / (edges.max() or 1.0) + distinct / (distinct.max() or 1.0))


def _best_offset(profile: np.ndarray, window: int) -> int:
    """The start of the ``window`` cells of ``profile`` holding the most weight (ties: the most central)."""
    sums = np.convolve(profile, np.ones(window), mode="valid")
    best = np.flatnonzero(sums >= sums.max() - 1e-9)
    centre = (len(profile) - window) / 2
    return int(best[np.argmin(np.abs(best - centre))])


def subject_box(picture: Image.Image, aspect: float) -> Box:
    """The largest box of ``aspect`` (width / height) inside the picture that holds the most of its subject."""
    width, height = picture.size
    saliency = _saliency(picture)
    if width / height > aspect:  # too wide: keep the full height, slide horizontally
        crop_w = max(1, min(width, round(height * aspect)))
        cells = max(1, round(crop_w / width * saliency.shape[1]))
        x = round(_best_offset(saliency.sum(axis=0), cells) * width / saliency.shape[1])
        x = min(x, width - crop_w)
        return (x, 0, x + crop_w, height)
    crop_h = max(1, min(height, round(width / aspect)))
    cells = max(1, round(crop_h / height * saliency.shape[0]))
    y = round(_best_offset(saliency.sum(axis=1), cells) * height / saliency.shape[0])
    y = min(y, height - crop_h)
    return (0, y, width, y + crop_h)


def smart_crop(picture: Image.Image, width: int, height: int) -> tuple[Image.Image, Box]:
    """``picture`` cropped to ``width:height`` around its subject and resized to exactly that size."""
    box = subject_box(picture, width / height)
    cropped = picture.convert("RGB").crop(box)
    if cropped.size != (width, height):
        cropped = cropped.resize((width, height), Image.Resampling.LANCZOS, reducing_gap=3.0)
    return cropped, box


# --- fonts ---------------------------------------------------------------------------------------------


def _key(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


@cache
def _fonts_in(folder: Path, _stamp: int) -> tuple[Path, ...]:
    """The font files under ``folder``; cached per folder until its modification time (``_stamp``) changes."""
    return tuple(sorted(p for p in folder.rglob("*") if p.suffix.lower() in (".ttf", ".otf", ".ttc")))


def _font_files(folders: tuple[Path, ...]) -> tuple[Path, ...]:
    # A font dropped into a folder later (e.g. the brand's fonts dir) is found without a restart.
    return tuple(f for folder in folders if folder.is_dir() for f in _fonts_in(folder, folder.stat().st_mtime_ns))


def find_font(families: tuple[str, ...], folders: tuple[Path, ...] = ()) -> Path | None:
    """The file of the first family in ``families`` found in ``folders`` or the system's font folders.

    A family matches a file whose name starts with it (spaces and case ignored); a bold face is preferred,
    since the font sets headlines. None when no family is installed.
    """
    files = _font_files(tuple(folders) + _SYSTEM_FONT_DIRS)
    for family in families:
        wanted = _key(family)
        matches = [f for f in files if wanted and _key(f.stem).startswith(wanted)]
        if matches:
            rest = [_key(f.stem)[len(wanted):] for f in matches]
            order = sorted(range(len(matches)), key=lambda i: (rest[i] not in ("bold", "b"), "bold" not in rest[i],
                                                                rest[i] not in ("", "regular"), len(rest[i])))
            return matches[order[0]]
    return None


def _font(path: Path | None, size: int) -> ImageFont.FreeTypeFont:
    font = ImageFont.truetype(str(path), size) if path else ImageFont.load_default(size=size)
    assert isinstance(font, ImageFont.FreeTypeFont)  # Pillow's bundled default is a FreeType font
    return font


def _wrap(draw: ImageDraw.ImageDraw, text: str, font: ImageFont.FreeTypeFont, width: float) -> list[str]:
    lines: list[str] = []
    for word in text.split():
        if lines and draw.textlength(f"{lines[-1]} {word}", font=font) <= width:
            lines[-1] = f"{lines[-1]} {word}"
        else:
            lines.append(word)
    return lines


def _fit(draw: ImageDraw.ImageDraw, text: str, font_path: Path | None, box: tuple[float, float], start: int
         ) -> tuple[ImageFont.FreeTypeFont, list[str]]:
    """The largest font (from ``start`` px down) at which ``text`` wraps into ``box`` (width, height)."""
    size = max(8, start)
    while True:
        font = _font(font_path, size)
        lines = _wrap(draw, text, font, box[0])
        fits = all(draw.textlength(line, font=font) <= box[0] for line in lines)
        if (fits and len(lines) * size * 1.2 <= box[1]) or size <= 8:
            return font, lines
        size = max(8, int(size * 0.9))


# --- colour --------------------------------------------------------------------------------------------


@dataclass
class _Colours:
    ink: RGB
    panel: RGB | None
    contrast: float
    notes: list[str] = field(default_factory=list)


def _pair(palette: list[RGB]) -> _Colours:
    """The most legible ink on a panel: two palette colours when they reach 4.5:1, else white or black on the
    darkest palette colour (always above 4.5:1), noted as outside the palette."""
    pairs = [(contrast_ratio(ink, panel), -i, ink, panel)
             for i, (ink, panel) in enumerate((a, b) for a in palette for b in palette if a != b)]
    if pairs and (best := max(pairs))[0] >= AA_CONTRAST:
        return _Colours(best[2], best[3], best[0])
    panel = min(palette, key=relative_luminance)
    ink = max(((255, 255, 255), (0, 0, 0)), key=lambda c: contrast_ratio(c, panel))
    return _Colours(ink, panel, contrast_ratio(ink, panel),
                    [f"no two palette colours reach {AA_CONTRAST}:1; text in {_hex(ink)}, outside the palette"])


def _text_colours(behind: np.ndarray, palette: list[RGB]) -> _Colours:
    """Ink for text over ``behind`` (the pixels under it): a palette colour straight on the picture when it
    reaches 4.5:1 against every one of them, else the most legible palette pair as ink on a panel."""
    lum = _luminance(behind.reshape(-1, 3))
    reached, _, direct = max((_min_contrast(ink, lum), -i, ink) for i, ink in enumerate(palette))
    if reached >= AA_CONTRAST:
        return _Colours(direct, None, reached)
    return _pair(palette)


# --- composition ---------------------------------------------------------------------------------------


def _logo(path: Path, height: int) -> Image.Image:
    with Image.open(path) as source:
        logo = source.convert("RGBA")
    return logo.resize((max(1, round(logo.width * height / logo.height)), height), Image.Resampling.LANCZOS)


@dataclass(frozen=True)
class _Frame:
    """Where things may go: the safe area less a margin (also the logo's clear space), and the text's end."""

    x0: int
    y0: int
    x1: int
    y1: int
    margin: int
    banner: bool
    text_end: int
    logo_box: Box | None


def _frame(image: Image.Image, overlay: Overlay, logo: Image.Image | None) -> tuple[_Frame, bool]:
    """The frame, and whether a tile's text goes at the top (where the picture holds less of its subject)."""
    width, height = image.size
    margin = max(2, round(0.06 * min(width, height)))
    top, right, bottom, left = overlay.safe_zone
    x0, y0 = round(left * width) + margin, round(top * height) + margin
    x1, y1 = width - round(right * width) - margin, height - round(bottom * height) - margin
    logo_box = (x1 - logo.width, y1 - logo.height, x1, y1) if logo else None
    banner = width / height >= 3
    at_top = False
    if not banner:
        saliency = _saliency(image)
        third = max(1, saliency.shape[0] // 3)
        at_top = bool(saliency[:third].sum() < saliency[-third:].sum())
    end = logo_box[0] - margin if logo_box and not at_top else x1  # text stays clear of the logo
    return _Frame(x0, y0, x1, y1, margin, banner, end, logo_box), at_top


def _button_font(draw: ImageDraw.ImageDraw, cta: str, font_path: Path | None, frame: _Frame, short: int
                 ) -> tuple[ImageFont.FreeTypeFont, int, int, int]:
    """The call to action's font (one line, as large as its room allows), the button's width, height, padding."""
    tall = frame.y1 - frame.y0
    room = (frame.text_end - frame.x0) * (0.45 if frame.banner else 1.0)
    font, _ = _fit(draw, cta, font_path, (room * 0.8, tall * (0.6 if frame.banner else 0.1)),
                   start=round(tall * 0.3) if frame.banner else max(10, round(short * 0.045)))
    pad = max(2, round(font.size * 0.5))
    return font, round(draw.textlength(cta, font=font)) + 2 * pad, round(font.size) + 2 * pad, pad


def compose(picture: Image.Image, width: int, height: int, overlay: Overlay) -> tuple[Image.Image, Composition]:
    """The channel image at ``width`` x ``height``: the picture cropped around its subject, with copy and logo.

    Inside the safe zone (less a margin that is also the logo's clear space) the logo takes the bottom-right
    corner. On a tile the headline and the call to action go in a band at the top or the bottom, whichever holds
    less of the subject; on a wide banner (3:1 or wider) they run left to right: headline, button, logo.
    """
    check_size(width, height)
    image, crop = smart_crop(picture, width, height)
    palette = [_rgb(c) for c in overlay.palette]
    font_path = find_font(overlay.fonts, overlay.font_dirs)
    short = min(width, height)
    draw = ImageDraw.Draw(image)
    logo = _logo(overlay.logo, max(12, round(short * (0.4 if width / height >= 3 else 0.09)))) if overlay.logo else None
    frame, at_top = _frame(image, overlay, logo)
    cta_font, cta_w, cta_h, bpad = (_button_font(draw, overlay.cta, font_path, frame, short) if overlay.cta
                                    else (None, 0, 0, 0))

    gap = frame.margin // 2
    if frame.banner:
        room = (frame.text_end - frame.x0 - (cta_w + frame.margin if cta_w else 0), frame.y1 - frame.y0)
        head_font, lines = _fit(draw, overlay.headline, font_path, room, start=round(room[1] * 0.6))
    else:
        room = (frame.text_end - frame.x0, round((frame.y1 - frame.y0) * 0.38) - (cta_h + gap if cta_h else 0))
        head_font, lines = _fit(draw, overlay.headline, font_path, room, start=round(short * 0.1))
    line_h = round(head_font.size * 1.2)
    text_h = line_h * len(lines)
    block_h = text_h + (cta_h + gap if cta_h and not frame.banner else 0)
    text_y = ((frame.y0 + frame.y1 - text_h) // 2 if frame.banner else frame.y0 if at_top else frame.y1 - block_h)
    text_w = round(max((draw.textlength(line, font=head_font) for line in lines), default=0))
    text_box: Box = (frame.x0, text_y, frame.x0 + text_w, text_y + text_h)

    # Every pixel behind the headline (with a little air around it) must contrast 4.5:1 with its ink.
    pad = max(2, round(0.35 * frame.margin))
    behind_box = (text_box[0] - pad, text_box[1] - pad, text_box[2] + pad, text_box[3] + pad)
    colours = _text_colours(np.asarray(image.crop(behind_box)), palette)
    if colours.panel is not None:
        draw.rectangle(behind_box, fill=colours.panel)
    for i, line in enumerate(lines):
        draw.text((text_box[0], text_box[1] + i * line_h), line, font=head_font, fill=colours.ink)
    boxes = [text_box]

    button = _Colours((0, 0, 0), None, 0.0)
    if cta_font is not None:
        button = _pair(palette)
        assert button.panel is not None  # _pair always gives a panel
        bx, by = ((frame.text_end - cta_w, (frame.y0 + frame.y1 - cta_h) // 2) if frame.banner
                  else (frame.x0, text_box[3] + pad + gap))
        boxes.append((bx, by, bx + cta_w, by + cta_h))
        draw.rounded_rectangle(boxes[-1], radius=bpad, fill=button.panel)
        draw.text((bx + bpad, by + bpad), overlay.cta, font=cta_font, fill=button.ink)

    if logo is not None and frame.logo_box is not None:
        image.paste(logo, frame.logo_box[:2], logo)
    return image, Composition(
        crop=crop, font=font_path.stem if font_path else BUNDLED_FONT, font_requested=list(overlay.fonts),
        ink=_hex(colours.ink), panel=_hex(colours.panel) if colours.panel else None,
        contrast=round(colours.contrast, 2), text_boxes=boxes, logo_box=frame.logo_box,
        notes=[*colours.notes, *button.notes],
    )
