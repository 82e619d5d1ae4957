"""The layout renderer: exact sizes, same spec same pixels, finals that redraw the preview at full size."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from briefcraft.channels import load_catalog
from briefcraft.tools.assets import save_png
from briefcraft.tools.render import LayoutRenderer, RenderSpec

PALETTES = [("#1F3A5F", "#F2C14E", "#F78154"), ("#777777",), ("#FFFFFF", "#EEEEEE"), ("#00FF00", "#FF00FF")]


def _spec(width: int = 400, height: int = 300, palette: tuple[str, ...] = PALETTES[0]) -> RenderSpec:
    return RenderSpec(width=width, height=height, palette=palette, seed=7)


@pytest.mark.parametrize("size", sorted({s for c in load_catalog().values() for s in c.images}))
def test_every_catalog_size_renders_exactly(size: tuple[int, int]) -> None:
    assert LayoutRenderer().render(_spec(*size)).image.size == size


def test_same_spec_same_pixels_and_seed_matters() -> None:
    renderer = LayoutRenderer()
    assert renderer.render(_spec()).image.tobytes() == renderer.render(_spec()).image.tobytes()
    other = RenderSpec(**{**_spec().__dict__, "seed": 8})
    assert renderer.render(other).image.tobytes() != renderer.render(_spec()).image.tobytes()


@pytest.mark.parametrize("palette", PALETTES)
def test_a_final_is_its_preview_redrawn_at_full_size(palette: tuple[str, ...]) -> None:
    preview = LayoutRenderer().render(_spec(256, 192, palette)).image
    final = LayoutRenderer().render(_spec(1024, 768, palette)).image
    shrunk = np.asarray(final.resize(preview.size, Image.Resampling.BOX), dtype=np.int16)
    assert np.abs(shrunk - np.asarray(preview, dtype=np.int16)).mean() < 4  # the same shapes, only sharper


def test_bad_specs_are_named() -> None:
    with pytest.raises(ValueError, match="size 8x300 is out of range"):
        _spec(8, 300)
    with pytest.raises(ValueError, match="palette is empty"):
        _spec(palette=())


def test_asset_store_is_content_addressed(tmp_path: Path) -> None:
    image = LayoutRenderer().render(_spec()).image
    first = save_png(image, tmp_path, {"briefcraft:renderer": "layout"})
    second = save_png(image, tmp_path, {"briefcraft:renderer": "layout"})
    assert first == second
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == [f"{first[1]}.png"]
    assert Image.open(first[0]).text["briefcraft:renderer"] == "layout"
