"""The compositor: every catalog size exact, the subject kept, WCAG contrast on the rendered pixels, brand font,
logo with clear space, safe zones, and the same pixels for the same inputs."""

from __future__ import annotations

import shutil
from pathlib import Path

import gradio
import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter

from briefcraft.channels import get_channel, load_catalog
from briefcraft.tools.compose import BUNDLED_FONT, Overlay, compose, contrast_ratio, find_font, smart_crop
from briefcraft.tools.render import LayoutRenderer, RenderSpec

NORTHBOUND = ("#1F3A5F", "#F4E9D8", "#E8A33D", "#2E5E4E")
PASTELS = ("#F4E9D8", "#EEEEEE", "#FFE4E1")  # no two reach 4.5:1
LOGO = Path(__file__).parents[1] / "examples" / "brands" / "northbound" / "logo.png"
SIZES = sorted({size for channel in load_catalog().values() for size in channel.images})


def _photo(subject: tuple[int, int, int, int] = (800, 300, 1100, 700), size: tuple[int, int] = (1200, 1200)
           ) -> Image.Image:
    """A plain backdrop with one red subject."""
    image = Image.new("RGB", size, (200, 210, 220))
    ImageDraw.Draw(image).ellipse(subject, fill=(180, 30, 30))
    return image


def _noise(size: tuple[int, int] = (1200, 1200)) -> Image.Image:
    """A busy picture no single colour reaches 4.5:1 against everywhere."""
    return Image.fromarray(np.random.default_rng(0).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))


def _overlay(**changes: object) -> Overlay:
    values: dict[str, object] = dict(headline="Cold brew, warm hello", cta="Find a store", palette=NORTHBOUND,
                                     logo=LOGO)
    return Overlay(**(values | changes))  # type: ignore[arg-type]


def _contrasts(pixels: np.ndarray, ink: tuple[int, int, int]) -> np.ndarray:
    """WCAG contrast of every pixel against ``ink``."""
    def luminance(rgb: np.ndarray) -> np.ndarray:
        c = rgb / 255.0
        return np.asarray(np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4) @ [0.2126, 0.7152, 0.0722])

    lum, ink_lum = luminance(pixels.astype(np.float64)), luminance(np.array(ink, dtype=np.float64))
    return np.asarray((np.maximum(lum, ink_lum) + 0.05) / (np.minimum(lum, ink_lum) + 0.05))


def _background_contrast(image: Image.Image, box: tuple[int, int, int, int], ink: str) -> float:
    """The lowest contrast between ``ink`` and the rendered pixels in ``box`` that are neither glyphs (within
    1.5:1 of the ink) nor their anti-aliased edges (the glyph mask grown by 2 px)."""
    rgb = (int(ink[1:3], 16), int(ink[3:5], 16), int(ink[5:7], 16))
    pixels = np.asarray(image.convert("RGB").crop(box))
    glyphs = _contrasts(pixels, rgb) < 1.5
    grown = np.asarray(Image.fromarray((glyphs * 255).astype(np.uint8)).filter(ImageFilter.MaxFilter(5))) > 0
    background = pixels[~grown]
    assert glyphs.sum() > 20 and len(background) > 20  # both glyphs and background are there
    return float(_contrasts(background, rgb).min())


@pytest.mark.parametrize("size", SIZES)
def test_every_catalog_size_is_exact_with_readable_text(size: tuple[int, int]) -> None:
    for picture in (_photo(), _noise(), LayoutRenderer().render(RenderSpec(1200, 1200, NORTHBOUND, seed=3)).image):
        image, composition = compose(picture, *size, _overlay())
        assert image.size == size
        headline, button = composition.text_boxes
        assert composition.contrast >= 4.5
        assert _background_contrast(image, headline, composition.ink) >= 4.5
        assert composition.ink in NORTHBOUND and (composition.panel is None or composition.panel in NORTHBOUND)
        assert not composition.notes
        assert all(v >= 0 for v in button) and button[2] <= size[0] and button[3] <= size[1]


def test_busy_picture_gets_a_palette_panel_and_a_calm_one_none() -> None:
    _, calm = compose(_photo(), 1080, 1080, _overlay())
    assert calm.panel is None and calm.ink == "#1F3A5F"  # navy straight on the light backdrop
    _, busy = compose(_noise(), 1080, 1080, _overlay())
    assert busy.panel in NORTHBOUND and contrast_ratio(
        *(tuple(int(c[i:i + 2], 16) for i in (1, 3, 5)) for c in (busy.ink, busy.panel))  # type: ignore[arg-type]
    ) >= 4.5


def test_a_palette_without_a_legible_pair_falls_back_to_white_or_black_and_says_so() -> None:
    image, composition = compose(_noise(), 1080, 1080, _overlay(palette=PASTELS))
    assert composition.ink in ("#FFFFFF", "#000000") and composition.panel in PASTELS
    assert composition.notes and "outside the palette" in composition.notes[0]
    assert _background_contrast(image, composition.text_boxes[0], composition.ink) >= 4.5


@pytest.mark.parametrize(("subject", "size"), [
    ((900, 500, 1150, 700), (600, 1200)),   # right edge, cropped to a tall strip
    ((50, 500, 300, 700), (600, 1200)),     # left edge
    ((500, 40, 700, 260), (1200, 400)),     # top, cropped to a banner
    ((500, 950, 700, 1150), (1200, 400)),   # bottom
])
def test_smart_crop_keeps_the_subject(subject: tuple[int, int, int, int], size: tuple[int, int]) -> None:
    picture = _photo(subject)
    cropped, box = smart_crop(picture, *size)
    assert cropped.size == size
    assert box[0] <= subject[0] and box[1] <= subject[1] and box[2] >= subject[2] and box[3] >= subject[3]
    # No stretching: the box has the target's aspect ratio (to a pixel).
    assert abs((box[2] - box[0]) / (box[3] - box[1]) - size[0] / size[1]) < 0.01


def test_a_centred_subject_gives_a_centred_crop() -> None:
    _, box = smart_crop(_photo((500, 500, 700, 700)), 400, 1200)
    assert box == (400, 0, 800, 1200)


def test_same_inputs_same_pixels() -> None:
    first = compose(_photo(), 1200, 628, _overlay())
    second = compose(_photo(), 1200, 628, _overlay())
    assert first[0].tobytes() == second[0].tobytes() and first[1] == second[1]
    assert compose(_photo(), 1200, 628, _overlay(cta="Order now"))[0].tobytes() != first[0].tobytes()


@pytest.mark.parametrize("size", [(1080, 1080), (1200, 600), (728, 90), (1080, 1920)])
def test_logo_sits_in_a_bottom_corner_with_clear_space(size: tuple[int, int]) -> None:
    image, composition = compose(_photo(), *size, _overlay())
    assert composition.logo_box is not None
    left, top, right, bottom = composition.logo_box
    clear = round(0.06 * min(size))
    assert right <= size[0] - clear and bottom <= size[1] - clear * (1 if size != (1080, 1920) else 0)
    assert right > size[0] * 0.8 and bottom > size[1] * 0.5  # the bottom-right corner
    for text in composition.text_boxes:  # nothing within the clear space
        apart = max(left - text[2], text[0] - right, top - text[3], text[1] - bottom)
        assert apart >= clear // 2
    with Image.open(LOGO) as logo:
        expected = logo.convert("RGB").resize((right - left, bottom - top), Image.Resampling.LANCZOS)
    diff = np.abs(np.asarray(image.crop(composition.logo_box), np.int16) - np.asarray(expected, np.int16))
    assert diff.mean() < 2  # it is the logo, at its size


def test_story_text_and_logo_stay_out_of_the_platform_safe_zones() -> None:
    story = get_channel("instagram_story")
    assert story.safe_zone == (0.14, 0, 0.14, 0)
    _, composition = compose(_photo(), 1080, 1920, _overlay(safe_zone=story.safe_zone))
    assert composition.logo_box is not None
    for box in [*composition.text_boxes, composition.logo_box]:
        assert box[1] >= 0.14 * 1920 and box[3] <= 0.86 * 1920


def test_brand_font_is_found_by_family_and_used(tmp_path: Path) -> None:
    assets = Path(gradio.__file__).parent / "templates"  # gradio ships the KaTeX fonts as .ttf files
    fonts = tmp_path / "fonts"
    fonts.mkdir()
    assert find_font(("KaTeX Main",), (fonts,)) is None
    for face in ("Regular", "Bold", "Italic"):
        shutil.copy(next(assets.rglob(f"KaTeX_Main-{face}*.ttf")), fonts / f"KaTeX_Main-{face}.ttf")
    # Found once installed (no restart), the first family installed, the bold face.
    assert find_font(("Canela", "KaTeX Main"), (fonts,)) == fonts / "KaTeX_Main-Bold.ttf"
    branded, used = compose(_photo(), 1080, 1080, _overlay(fonts=("Canela", "KaTeX Main"), font_dirs=(fonts,)))
    plain, fallback = compose(_photo(), 1080, 1080, _overlay(fonts=("Canela",), font_dirs=(fonts,)))
    assert used.font == "KaTeX_Main-Bold" and used.font_requested == ["Canela", "KaTeX Main"]
    assert fallback.font == BUNDLED_FONT
    assert branded.tobytes() != plain.tobytes()


def test_bad_overlays_are_named() -> None:
    with pytest.raises(ValueError, match="palette is empty"):
        _overlay(palette=())
    with pytest.raises(ValueError, match="safe_zone"):
        _overlay(safe_zone=(0.6, 0, 0, 0))
    with pytest.raises(ValueError, match="size 8x300 is out of range"):
        compose(_photo(), 8, 300, _overlay())
