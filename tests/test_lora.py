"""Brand style LoRA on a tiny Stable Diffusion pipeline: train, save, load, switch, unload, and the brand kit registry."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import safetensors.torch
import torch
from builders import make_tiny_sd_single_file, pixels
from PIL import Image, ImageDraw

from briefcraft.agents.art_director import make_preview, render_finals
from briefcraft.errors import ConfigError, IngestError
from briefcraft.memory.kit import apply_edit, distill, load_kit, parse_kit, save_kit, with_style_lora
from briefcraft.memory.store import ChromaBrandMemory
from briefcraft.pricing import load_pricing
from briefcraft.schemas import BrandContext, BrandKit, CreativeBrief, KitItem, StyleLora, Subtask
from briefcraft.settings import Settings
from briefcraft.tools.imagegen import DiffusionRenderer, ImageGenerator, Quality
from briefcraft.tools.lora import LORA_FILE, TARGET_MODULES, TrainReport, train_style_lora
from briefcraft.tools.render import RenderSpec
from briefcraft.ui.cli import main

FAST = Quality(steps=2, guidance=1.0)
#: Few steps on 64 px images; a learning rate high enough that the LoRA moves the tiny model's pixels for sure.
TRAINING: dict[str, Any] = {"steps": 6, "lr": 0.02, "resolution": 64, "device": "cpu"}


@pytest.fixture(scope="session")
def style_images(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four 'approved' images in one style: bold stripes over a brand colour, one a JPEG, one not square."""
    folder = tmp_path_factory.mktemp("approved")
    for index, colour in enumerate([(220, 40, 40), (30, 160, 60), (40, 60, 220), (240, 200, 30)]):
        image = Image.new("RGB", (64 + 32 * (index == 3), 64), colour)
        draw = ImageDraw.Draw(image)
        for x in range(0, image.width, 8):
            draw.rectangle([x, 0, x + 3, 63], fill=(255 - colour[0], 255 - colour[1], 255 - colour[2]))
        image.save(folder / f"approved-{index}.{'jpg' if index == 2 else 'png'}")
    (folder / "notes.txt").write_text("not an image; skipped")
    return folder


@pytest.fixture(scope="session")
def adapters(tiny_sd: tuple[Path, Path], style_images: Path,
             tmp_path_factory: pytest.TempPathFactory) -> tuple[TrainReport, TrainReport]:
    """Two adapters: the house style, and another one with a caption and a seed of its own."""
    out = tmp_path_factory.mktemp("loras")
    house = train_style_lora(str(tiny_sd[0]), style_images, out / "house", **TRAINING)
    other = train_style_lora(str(tiny_sd[0]), style_images, out / "other", seed=1, caption="stripes", **TRAINING)
    return house, other


@pytest.fixture(scope="session")
def generator(tiny_sd: tuple[Path, Path]) -> ImageGenerator:
    model, tiny_vae = tiny_sd
    return ImageGenerator.load(str(model), device="cpu", tiny_vae=str(tiny_vae))


def _outputs(generator: ImageGenerator) -> list[np.ndarray]:
    """One output of each mode: text-to-image, preview (tiny VAE), image-to-image, inpainting."""
    product = Image.new("RGB", (64, 64), (200, 120, 40))
    mask = Image.new("L", (64, 64), 0)
    mask.paste(255, (0, 0, 64, 32))
    return [pixels(image) for image in (
        generator.text_to_image("a cup", width=64, height=64, seed=1, quality=FAST)[0],
        generator.text_to_image("a cup", width=64, height=64, seed=1, quality=FAST, preview=True)[0],
        generator.image_to_image("a cup", product, seed=1, quality=Quality(2, 1.0, 0.8)),
        generator.inpaint("a beach", product, mask, seed=1, quality=Quality(2, 1.0, 1.0)),
    )]


def _same(a: list[np.ndarray], b: list[np.ndarray]) -> list[bool]:
    return [np.array_equal(x, y) for x, y in zip(a, b, strict=True)]


def test_training_writes_a_diffusers_lora_for_the_unet(adapters: tuple[TrainReport, TrainReport]) -> None:
    house, _ = adapters
    assert (house.output.name, house.images, house.steps, house.rank, house.resolution, house.device) == (
        LORA_FILE, 4, 6, 4, 64, "cpu")
    assert house.first_loss > 0 and house.final_loss > 0 and house.seconds > 0
    weights = safetensors.torch.load_file(house.output)
    assert weights and all(key.startswith("unet.") and ".lora." in key for key in weights)
    layers = {key.split(".lora.")[0] for key in weights}
    assert {target for target in TARGET_MODULES for layer in layers if layer.endswith(f".{target}")} == {
        "to_q", "to_k", "to_v", "to_out.0"}
    assert min(float(w.abs().max()) for key, w in weights.items() if ".lora.up." in key) > 0.01  # it learned
    assert [p.name for p in house.output.parent.iterdir()] == [LORA_FILE]  # nothing half-written left behind


def test_a_lora_changes_every_mode_and_turning_it_off_restores_the_base_exactly(
    generator: ImageGenerator, adapters: tuple[TrainReport, TrainReport]
) -> None:
    base = _outputs(generator)
    generator.use_loras([StyleLora(name="house", path=adapters[0].output)])
    styled = _outputs(generator)
    assert _same(styled, base) == [False] * 4  # one UNet, shared by every mode, carries the adapter
    assert np.abs(styled[0] - base[0]).mean() > 1
    generator.use_loras([])
    assert _same(_outputs(generator), base) == [True] * 4


def test_weights_and_several_adapters_switch_without_reloading(
    generator: ImageGenerator, adapters: tuple[TrainReport, TrainReport]
) -> None:
    house, other = (report.output for report in adapters)

    def picture(*loras: tuple[Path, float]) -> np.ndarray:
        generator.use_loras([StyleLora(name=f"a{i}", path=path, weight=w) for i, (path, w) in enumerate(loras)])
        return pixels(generator.text_to_image("a cup", width=64, height=64, seed=1, quality=FAST)[0])

    full, half, both = picture((house, 1.0)), picture((house, 0.5)), picture((house, 1.0), (other, 0.7))
    assert not np.array_equal(full, half) and not np.array_equal(full, both) and not np.array_equal(half, both)
    loaded = generator.text2image.get_list_adapters()
    assert np.array_equal(picture((house, 1.0)), full)
    assert generator.text2image.get_list_adapters() == loaded  # switching re-weights; nothing loads again
    generator.use_loras([])


def test_a_retrained_file_is_loaded_again(generator: ImageGenerator, adapters: tuple[TrainReport, TrainReport],
                                          tmp_path: Path) -> None:
    house, other = (report.output for report in adapters)
    expected = []
    for source in (house, other):
        generator.use_loras([StyleLora(name="x", path=source)])
        expected.append(pixels(generator.text_to_image("a cup", width=64, height=64, seed=1, quality=FAST)[0]))
    retrained = tmp_path / LORA_FILE
    shutil.copy(house, retrained)
    generator.use_loras([StyleLora(name="x", path=retrained)])
    assert np.array_equal(pixels(generator.text_to_image("a cup", width=64, height=64, seed=1, quality=FAST)[0]),
                          expected[0])
    stamp = retrained.stat().st_mtime_ns
    shutil.copy(other, retrained)
    os.utime(retrained, ns=(stamp + 10**9, stamp + 10**9))  # as `train-lora` replacing the file would
    generator.use_loras([StyleLora(name="x", path=retrained)])
    assert np.array_equal(pixels(generator.text_to_image("a cup", width=64, height=64, seed=1, quality=FAST)[0]),
                          expected[1])
    generator.use_loras([])


def test_with_loras_holds_the_generator_for_one_brand_then_restores(
    generator: ImageGenerator, adapters: tuple[TrainReport, TrainReport]
) -> None:
    house = [StyleLora(name="house", path=adapters[0].output)]
    base = pixels(generator.text_to_image("a cup", width=64, height=64, seed=1, quality=FAST)[0])
    other_brand: list[np.ndarray] = []

    def render_other_brand() -> None:  # a parallel render thread for a brand without adapters
        with generator.with_loras([]) as gen:
            other_brand.append(pixels(gen.text_to_image("a cup", width=64, height=64, seed=1, quality=FAST)[0]))

    with generator.with_loras(house) as gen:
        thread = threading.Thread(target=render_other_brand)
        thread.start()
        thread.join(timeout=0.5)
        assert thread.is_alive()  # waiting for the lock, not switching adapters under this block
        styled = pixels(gen.text_to_image("a cup", width=64, height=64, seed=1, quality=FAST)[0])
    thread.join()
    assert not np.array_equal(styled, base)
    assert np.array_equal(other_brand[0], base)
    assert np.array_equal(pixels(generator.text_to_image("a cup", width=64, height=64, seed=1, quality=FAST)[0]), base)


def test_bad_adapter_files_are_one_line_errors_and_keep_what_was_active(
    generator: ImageGenerator, adapters: tuple[TrainReport, TrainReport], tmp_path: Path
) -> None:
    house = StyleLora(name="house", path=adapters[0].output)
    generator.use_loras([house])
    styled = pixels(generator.text_to_image("a cup", width=64, height=64, seed=1, quality=FAST)[0])
    garbage, not_lora = tmp_path / "garbage.safetensors", tmp_path / "weights.safetensors"
    garbage.write_bytes(b"not a safetensors file")
    safetensors.torch.save_file({"conv.weight": torch.zeros(3)}, not_lora)  # no LoRA keys
    missing = tmp_path / "missing.safetensors"
    for path, message in ((missing, f"style LoRA {missing}: no such .safetensors file; allowed: a diffusers LoRA"),
                          (tmp_path, "no such .safetensors file"),
                          (garbage, f"style LoRA {garbage} cannot be used with image model tiny-sd: "),
                          (not_lora, "cannot be used with image model tiny-sd: .*LoRA")):
        with pytest.raises(ConfigError, match=message) as raised:
            generator.use_loras([StyleLora(name="other", path=adapters[1].output), StyleLora(name="bad", path=path)])
        assert "\n" not in str(raised.value)
    with pytest.raises(ConfigError, match="is listed twice"):
        generator.use_loras([house, house.model_copy(update={"name": "again"})])
    assert np.array_equal(pixels(generator.text_to_image("a cup", width=64, height=64, seed=1, quality=FAST)[0]),
                          styled)
    generator.use_loras([])


def test_training_on_a_single_file_checkpoint_learns_what_the_folder_does(
    tiny_sd: tuple[Path, Path], style_images: Path, adapters: tuple[TrainReport, TrainReport], tmp_path: Path
) -> None:
    """The same weights in one original-format file (with the base model's configs): the same seed trains the same
    adapter as on the diffusers folder, to float rounding.

    Not to the bit: the weights load bit-for-bit equal, but at other memory addresses (every tensor read from the file
    is off a 64-byte boundary, few from the folder are), and on an AVX-512 CPU torch's kernels then add in another
    order. Losses differ in the 7th digit and six Adam steps at lr 0.02 grow that to 5e-5 in the adapter (measured on
    an AMD EPYC; with every weight copied to fresh memory first, the two adapters are equal to the bit). An adapter
    trained on other weights or another seed differs by more than 1."""
    checkpoint = make_tiny_sd_single_file(tiny_sd[0], tmp_path / "tiny-sd.safetensors")
    report = train_style_lora(str(checkpoint), style_images, tmp_path / "house", config=str(tiny_sd[0]), **TRAINING)
    from_file, from_folder, other = (safetensors.torch.load_file(r.output) for r in (report, *adapters))
    assert from_file.keys() == from_folder.keys()
    assert report.first_loss == pytest.approx(adapters[0].first_loss, rel=1e-5)
    assert report.final_loss == pytest.approx(adapters[0].final_loss, rel=1e-5)
    assert max((from_file[k] - from_folder[k]).abs().max().item() for k in from_file) < 1e-3
    assert max((other[k] - from_folder[k]).abs().max().item() for k in from_file) > 0.1


def test_training_refuses_bad_folders_and_settings(tiny_sd: tuple[Path, Path], tmp_path: Path) -> None:
    model, out = str(tiny_sd[0]), tmp_path / "out"
    with pytest.raises(IngestError, match="is not a folder"):
        train_style_lora(model, tmp_path / "missing", out)
    with pytest.raises(IngestError, match=r"holds no image; allowed: \.png, \.jpg, \.jpeg, \.webp"):
        train_style_lora(model, tmp_path, out)
    (tmp_path / "broken.png").write_bytes(b"not a png")
    with pytest.raises(IngestError, match=r"training image broken\.png: not a readable image"):
        train_style_lora(model, tmp_path, out)
    with pytest.raises(ConfigError, match="training resolution 100 is not usable; allowed: a multiple of 8"):
        train_style_lora(model, tmp_path, out, resolution=100)
    with pytest.raises(ConfigError, match="LoRA rank 0 is not usable"):
        train_style_lora(model, tmp_path, out, rank=0)
    assert not out.exists()


def test_the_kit_lists_style_loras_and_keeps_them(tmp_path: Path) -> None:
    house = StyleLora(name="house", path=tmp_path / "house.safetensors", weight=0.8)
    kit = with_style_lora(BrandKit(brand="acme"), house)
    retrained = house.model_copy(update={"weight": 1.0})
    kit = with_style_lora(with_style_lora(kit, StyleLora(name="bold", path=tmp_path / "b.safetensors")), retrained)
    assert [(lora.name, lora.weight) for lora in kit.style_loras] == [("house", 1.0), ("bold", 1.0)]
    path = tmp_path / "acme.yaml"
    save_kit(path, kit)
    assert f"style_loras:\n- name: house\n  path: {tmp_path}/house.safetensors\n  weight: 1.0\n" in path.read_text()
    assert load_kit(path) == kit
    rule = KitItem(value="cheap", source="g.md", origin="rule")
    assert distill("acme", {"forbidden_terms": [rule]}, kit).style_loras == kit.style_loras  # guidelines re-read
    edited = kit.model_copy(update={"style_loras": [house]})
    assert apply_edit(kit, edited, user="maya").style_loras == [house]  # a person's edit wins
    for text, problem in (
        ("brand: acme\nstyle_loras:\n- {name: a, path: x.safetensors}\n- {name: a, path: y.safetensors}\n",
         "style_loras: style LoRA name 'a' is used twice; each name must be unique"),
        ("brand: acme\nstyle_loras:\n- {name: a, path: x.safetensors, weight: 3}\n",
         "style_loras.0.weight: Input should be less than or equal to 2"),
    ):
        with pytest.raises(ConfigError) as raised:
            parse_kit(text, where="kit.yaml")
        assert str(raised.value) == f"brand kit kit.yaml: {problem}"


def test_cli_trains_registers_in_the_kit_and_recall_hands_it_to_imagery(
    briefcraft_exe: str, cli_env: dict[str, str], tiny_sd: tuple[Path, Path], style_images: Path,
    adapters: tuple[TrainReport, TrainReport], generator: ImageGenerator,
) -> None:
    cli_env |= {"BRIEFCRAFT_IMAGE_MODEL": str(tiny_sd[0]), "BRIEFCRAFT_IMAGE_DEVICE": "cpu"}
    done = subprocess.run(
        [briefcraft_exe, "brand", "train-lora", "--brand", "Acme Co", "--images", str(style_images), "--name", "house",
         "--steps", "6", "--lr", "0.02", "--resolution", "64"],
        env=cli_env, capture_output=True, text=True, timeout=300, check=False,
    )
    assert done.returncode == 0, done.stderr
    data_dir = Path(cli_env["BRIEFCRAFT_DATA_DIR"])
    adapter = data_dir.resolve() / "loras" / "acme-co" / "house" / LORA_FILE
    kit_path = data_dir / "memory" / "kits" / "acme-co.yaml"
    lines = done.stdout.splitlines()
    assert lines[:3] == [f"adapter: {adapter}", "images: 4", "steps: 6 (rank 4, 64x64 px, cpu)"]
    assert lines[3].startswith("loss: ") and lines[4].startswith("time: ")
    assert lines[5] == f"brand kit: {kit_path} (style_loras: house, weight 1.0)"
    # The same seed and settings in another process give the same adapter, tensor for tensor.
    trained, reference = (safetensors.torch.load_file(p) for p in (adapter, adapters[0].output))
    assert trained.keys() == reference.keys() and all((trained[k] == reference[k]).all() for k in trained)

    kit = load_kit(kit_path)
    assert kit is not None and kit.brand == "Acme Co"
    assert kit.style_loras == [StyleLora(name="house", path=adapter, weight=1.0)]
    with ChromaBrandMemory(Settings(_env_file=None, data_dir=data_dir)) as memory:  # type: ignore[call-arg]
        brand = memory.recall(CreativeBrief(product="Oat cold brew", channels=["email"], brand="Acme Co"))
    assert brand.style_loras == kit.style_loras
    base = pixels(generator.text_to_image("a cup", width=64, height=64, seed=1, quality=FAST)[0])
    with generator.with_loras(brand.style_loras) as gen:
        assert not np.array_equal(pixels(gen.text_to_image("a cup", width=64, height=64, seed=1, quality=FAST)[0]),
                                  base)


def test_cli_errors_are_one_line(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                                 tiny_sd: tuple[Path, Path], tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no .env from the working directory
    for name in [name for name in os.environ if name.startswith("BRIEFCRAFT_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("BRIEFCRAFT_DATA_DIR", str(tmp_path / "data"))
    command = ["brand", "train-lora", "--images", str(tmp_path)]
    assert main(command) == 2
    assert capsys.readouterr().err == ("briefcraft: error: brand train-lora needs BRIEFCRAFT_IMAGE_MODEL: the diffusers "
                                       "model (a folder, a single-file checkpoint or a Hugging Face id) the style LoRA "
                                       "is trained for\n")
    monkeypatch.setenv("BRIEFCRAFT_IMAGE_MODEL", str(tiny_sd[0]))
    assert main([*command, "--name", "House Style"]) == 2
    assert capsys.readouterr().err.startswith("briefcraft: error: --name 'House Style' is not usable: give 1-48")
    assert main(command) == 2
    assert capsys.readouterr().err == f"briefcraft: error: training images: {tmp_path} holds no image; allowed: " \
                                      ".png, .jpg, .jpeg, .webp\n"
    assert not (tmp_path / "data" / "memory").exists()  # nothing registered


def test_the_render_path_applies_the_brands_adapters_and_records_them(
    generator: ImageGenerator, adapters: tuple[TrainReport, TrainReport], tmp_path: Path
) -> None:
    renderer = DiffusionRenderer(generator, preview=FAST, final=Quality(2, 1.0, 0.5))
    house = (StyleLora(name="house", path=adapters[0].output),)
    spec = RenderSpec(width=64, height=64, palette=("#1F3A5F", "#F4E9D8"), seed=3, prompt="a cup")
    plain = pixels(renderer.render(spec).image)
    assert not np.array_equal(pixels(renderer.render(replace(spec, style_loras=house)).image), plain)
    assert np.array_equal(pixels(renderer.render(spec).image), plain)  # only for that call
    brand = BrandContext(brand="acme", palette=["#1F3A5F", "#F4E9D8"], style_loras=list(house))
    brief = CreativeBrief(product="Cup", channels=["email"], key_messages=["Hello"])
    subtask = Subtask(id="email-visual-1", kind="visual", channel="email")
    preview, _ = make_preview(renderer, subtask, brief, brand, tmp_path, seed=3, pricing=load_pricing())
    assert preview.style_loras == list(house)
    finals, _ = render_finals(renderer, preview, "Hello", "", "Cup", brand.model_copy(update={"style_loras": []}),
                              tmp_path, pricing=load_pricing())
    assert [f.style_loras for f in finals] == [list(house)]  # the approved preview's adapters, not today's kit
