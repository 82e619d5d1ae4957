"""The layout renderer: exact sizes, same spec same pixels, WCAG contrast on the rendered panel."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from briefcraft.channels import load_catalog
from briefcraft.tools.assets import save_png
from briefcraft.tools.render import LayoutRenderer, RenderSpec, contrast_ratio

PALETTES = [("#1F3A5F", "#F2C14E", "#F78154"), ("#777777",), ("#FFFFFF", "#EEEEEE"), ("#00FF00", "#FF00FF")]


def _spec(width: int = 400, height: int = 300, palette: tuple[str, ...] = PALETTES[0]) -> RenderSpec:
    return RenderSpec(width=width, height=height, headline="Smooth energy for the ride", subline="Oat cold brew",
                      palette=palette, seed=7)


@pytest.mark.parametrize("size", sorted({s for c in load_catalog().values() for s in c.images}))
def test_every_catalog_size_renders_exactly(size: tuple[int, int]) -> None:
    assert LayoutRenderer().render(_spec(*size)).size == size


def test_same_spec_same_pixels_and_seed_matters() -> None:
    renderer = LayoutRenderer()
    assert renderer.render(_spec()).tobytes() == renderer.render(_spec()).tobytes()
    other = RenderSpec(**{**_spec().__dict__, "seed": 8})
    assert renderer.render(other).tobytes() != renderer.render(_spec()).tobytes()


@pytest.mark.parametrize("palette", PALETTES)
@pytest.mark.parametrize("size", [(1080, 1080), (728, 90)])
def test_text_contrast_on_rendered_pixels(palette: tuple[str, ...], size: tuple[int, int]) -> None:
    image = LayoutRenderer().render(_spec(*size, palette=palette)).convert("RGB")
    width, height = size
    # The text panel: bottom 40% of a tile, left 72% of a banner. Its two commonest colours are panel and ink.
    box = (0, 0, int(width * 0.72), height) if width / height >= 3 else (0, int(height * 0.6), width, height)
    colours = sorted(image.crop(box).getcolors(maxcolors=1 << 20) or [], reverse=True)
    (_, panel), (_, ink) = colours[:2]
    assert ink in ((255, 255, 255), (0, 0, 0))
    assert contrast_ratio(panel, ink) >= 4.5


def test_bad_specs_are_named() -> None:
    with pytest.raises(ValueError, match="size 8x300 is out of range"):
        _spec(8, 300)
    with pytest.raises(ValueError, match="palette is empty"):
        _spec(palette=())


def test_asset_store_is_content_addressed(tmp_path: Path) -> None:
    image = LayoutRenderer().render(_spec())
    first = save_png(image, tmp_path, {"briefcraft:renderer": "layout"})
    second = save_png(image, tmp_path, {"briefcraft:renderer": "layout"})
    assert first == second
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == [f"{first[1]}.png"]
    assert Image.open(first[0]).text["briefcraft:renderer"] == "layout"
