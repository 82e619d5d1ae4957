"""diffusers imagery on a tiny Stable Diffusion pipeline built from configs and loaded by path, as users' are."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from builders import make_tiny_sd_inpainting, make_tiny_sd_single_file, make_tiny_sdxl, pixels
from PIL import Image

from briefcraft.errors import ConfigError
from briefcraft.graphs import runner
from briefcraft.graphs.brief_graph import build_graph
from briefcraft.schemas import CreativeBrief
from briefcraft.settings import Settings, load_settings
from briefcraft.tools.imagegen import DiffusionRenderer, ImageGenerator, Quality, pipeline_kind
from briefcraft.tools.render import RenderSpec

FAST = Quality(steps=2, guidance=1.0)


@pytest.fixture(scope="session")
def generator(tiny_sd: tuple[Path, Path]) -> ImageGenerator:
    model, tiny_vae = tiny_sd
    return ImageGenerator.load(str(model), device="cpu", tiny_vae=str(tiny_vae))


def test_one_pipeline_serves_every_mode(generator: ImageGenerator) -> None:
    import torch
    from diffusers.models.attention_processor import AttnProcessor2_0

    assert (generator.device, generator.dtype) == ("cpu", torch.float32)
    assert generator.image2image.unet is generator.text2image.unet is generator.inpainting.unet  # loaded once
    assert generator.preview_pipe.vae is not generator.text2image.vae  # previews decode with the tiny VAE
    assert generator.preview_pipe.unet is generator.text2image.unet
    assert {type(p) for p in generator.text2image.unet.attn_processors.values()} == {AttnProcessor2_0}  # SDPA


def test_text_to_image_batches_variants_and_repeats_with_a_seed(generator: ImageGenerator) -> None:
    batch = generator.text_to_image("oat milk cold brew", width=96, height=64, seed=11, quality=FAST, count=3,
                                    preview=True)
    assert [image.size for image in batch] == [(96, 64)] * 3
    alone = generator.text_to_image("oat milk cold brew", width=96, height=64, seed=12, quality=FAST, preview=True)
    assert np.array_equal(pixels(alone[0]), pixels(batch[1]))  # variant i is seed + i, batch or not
    assert not np.array_equal(pixels(batch[0]), pixels(batch[1]))
    other_prompt = generator.text_to_image("a red bicycle", width=96, height=64, seed=11, quality=FAST, preview=True)
    assert not np.array_equal(pixels(other_prompt[0]), pixels(batch[0]))


def test_image_to_image_and_inpainting(generator: ImageGenerator) -> None:
    product = Image.new("RGB", (128, 96), (200, 120, 40))
    staged = generator.image_to_image("on a kitchen table", product, seed=3, quality=Quality(3, 1.0, 0.6))
    assert staged.size == (128, 96)
    assert np.array_equal(pixels(staged), pixels(
        generator.image_to_image("on a kitchen table", product, seed=3, quality=Quality(3, 1.0, 0.6))))
    mask = Image.new("L", (128, 96), 0)
    mask.paste(255, (0, 0, 128, 48))
    repainted = generator.inpaint("a beach", product, mask, seed=3, quality=Quality(3, 1.0, 1.0))
    assert repainted.size == (128, 96)
    with pytest.raises(ValueError, match="mask is 64x64 but the image is 128x96"):
        generator.inpaint("a beach", product, Image.new("L", (64, 64)), seed=3, quality=FAST)


def test_final_is_refined_from_the_preview(generator: ImageGenerator) -> None:
    preview = generator.text_to_image("cold brew", width=64, height=64, seed=5, quality=FAST, preview=True)[0]
    other = generator.text_to_image("cold brew", width=64, height=64, seed=99, quality=FAST, preview=True)[0]
    refine = Quality(2, 1.0, 0.3)
    final = generator.final_from_preview("cold brew", preview, width=128, height=128, seed=5, quality=refine)
    unrelated = generator.final_from_preview("cold brew", other, width=128, height=128, seed=5, quality=refine)
    upscaled = pixels(preview.resize((128, 128), Image.Resampling.LANCZOS))
    assert final.size == (128, 128)
    assert np.abs(pixels(final) - upscaled).mean() < np.abs(pixels(unrelated) - upscaled).mean()
    again = generator.final_from_preview("cold brew", preview, width=128, height=128, seed=5, quality=refine)
    assert np.array_equal(pixels(final), pixels(again))


def test_renderer_makes_pictures_for_previews_and_finals(generator: ImageGenerator, tmp_path: Path) -> None:
    renderer = DiffusionRenderer(generator, preview=FAST, final=Quality(2, 1.0, 0.5))
    palette = ("#F4EBD9", "#1B2A41")
    spec = RenderSpec(width=300, height=157, palette=palette, seed=2, prompt="cold brew bottle on a train")
    made = renderer.render(spec)
    picture = made.image
    assert picture.size == (288, 144)  # the latent grid's multiple of 16; the compositor crops to the channel's
    assert (made.model, made.gpu_seconds) == (generator.model, None)  # on the CPU: no GPU time
    assert np.array_equal(pixels(picture), pixels(renderer.render(spec).image))
    picture.save(tmp_path / "preview.png")
    final = renderer.render(RenderSpec(width=600, height=300, palette=palette, seed=2, prompt=spec.prompt,
                                       source=tmp_path / "preview.png")).image
    assert final.size == (592, 288)
    assert "AI image" in renderer.label
    with pytest.raises(ValueError, match="needs a prompt"):
        renderer.render(RenderSpec(width=64, height=64, palette=palette, seed=1))


def test_sdxl_loads_by_path_and_serves_every_mode(tmp_path_factory: pytest.TempPathFactory) -> None:
    sdxl = ImageGenerator.load(str(make_tiny_sdxl(tmp_path_factory.mktemp("sdxl"))), device="cpu")
    assert type(sdxl.text2image).__name__ == "StableDiffusionXLPipeline"
    assert type(sdxl.inpainting).__name__ == "StableDiffusionXLInpaintPipeline"
    batch = sdxl.text_to_image("oat milk", width=96, height=64, seed=4, quality=FAST, count=2, preview=True)
    assert [image.size for image in batch] == [(96, 64)] * 2
    alone = sdxl.text_to_image("oat milk", width=96, height=64, seed=5, quality=FAST, preview=True)[0]
    assert np.array_equal(pixels(alone), pixels(batch[1]))
    product = Image.new("RGB", (64, 96), (30, 90, 160))
    assert sdxl.image_to_image("on a desk", product, seed=1, quality=Quality(2, 1.0, 0.5)).size == (64, 96)
    mask = Image.new("L", (64, 96), 255)
    assert sdxl.inpaint("a meadow", product, mask, seed=1, quality=Quality(2, 1.0, 1.0)).size == (64, 96)


def test_bad_model_settings_are_one_line_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="BRIEFCRAFT_IMAGE_BACKEND=diffusers needs BRIEFCRAFT_IMAGE_MODEL"):
        load_settings(_env_file=None, image_backend="diffusers")
    with pytest.raises(ConfigError, match=r"without model_index\.json"):
        pipeline_kind(str(tmp_path))
    with pytest.raises(ConfigError, match="is neither a file, a folder nor a Hugging Face id"):
        pipeline_kind(str(tmp_path / "missing" / "model"))
    (tmp_path / "notes.txt").write_text("not weights")
    with pytest.raises(ConfigError, match=r"is a \.txt file, not a checkpoint; allowed: a diffusers-format folder "
                                          r"\(save_pretrained\), a single-file checkpoint \(\.safetensors, \.ckpt\)"):
        pipeline_kind(str(tmp_path / "notes.txt"))
    with pytest.raises(ConfigError, match="BRIEFCRAFT_IMAGE_DEVICE='tpu' is not a device"):
        ImageGenerator.load(str(tmp_path), device="tpu")


@pytest.mark.parametrize("suffix", [".safetensors", ".ckpt"])
def test_a_single_file_checkpoint_loads_as_the_same_model(
    generator: ImageGenerator, tiny_sd: tuple[Path, Path], tmp_path: Path, suffix: str
) -> None:
    """An original-format (LDM) checkpoint, as single-file models are shared, with its base model's configs from
    BRIEFCRAFT_IMAGE_MODEL_CONFIG: the same weights as the folder, so the same pixels for the same seed."""
    model, _ = tiny_sd
    checkpoint = make_tiny_sd_single_file(model, tmp_path / f"tiny-sd{suffix}")
    settings = Settings(_env_file=None, data_dir=tmp_path / "data", image_backend="diffusers",  # type: ignore[call-arg]
                        image_model=str(checkpoint), image_model_config=str(model), image_device="cpu")
    single = DiffusionRenderer.from_settings(settings).generator
    assert type(single.text2image).__name__ == "StableDiffusionPipeline"
    assert single.model == checkpoint.name
    assert type(single.inpainting).__name__ == "StableDiffusionInpaintPipeline"
    from_file = single.text_to_image("oat milk cold brew", width=64, height=64, seed=9, quality=FAST)[0]
    from_folder = generator.text_to_image("oat milk cold brew", width=64, height=64, seed=9, quality=FAST)[0]
    assert np.abs(pixels(from_file).astype(int) - pixels(from_folder).astype(int)).max() <= 1


def test_a_single_file_checkpoint_without_its_configs_offline_is_one_line(
    tiny_sd: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """diffusers picks the base model's configs from the weights' names and fetches them; offline (HF cache empty)
    the error says which setting to give."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    checkpoint = make_tiny_sd_single_file(tiny_sd[0], tmp_path / "tiny-sd.safetensors")
    with pytest.raises(ConfigError) as raised:
        ImageGenerator.load(str(checkpoint), device="cpu")
    message = str(raised.value)
    assert "\n" not in message and message.startswith(f"image model {str(checkpoint)!r} could not be loaded: ")
    assert message.endswith("; set BRIEFCRAFT_IMAGE_MODEL_CONFIG to a diffusers folder of the checkpoint's base model "
                            "(its configs, tokenizer and scheduler)")
    (tmp_path / "broken.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}")
    with pytest.raises(ConfigError, match=r"^image model '.*broken\.safetensors' could not be loaded: "):
        ImageGenerator.load(str(tmp_path / "broken.safetensors"), device="cpu", config=str(tiny_sd[0]))
    with pytest.raises(ConfigError, match=r"^image model '.*broken\.safetensors' is not a readable checkpoint: "):
        ImageGenerator.load(str(tmp_path / "broken.safetensors"), device="cpu")
    with pytest.raises(ConfigError, match=r"^BRIEFCRAFT_IMAGE_MODEL_CONFIG '.*' is a folder without model_index"):
        ImageGenerator.load(str(checkpoint), device="cpu", config=str(tmp_path))


def test_a_mode_can_have_a_model_of_its_own(
    generator: ImageGenerator, tiny_sd: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory
) -> None:
    """An inpainting model (9-channel UNet) for inpainting and an SDXL model for image-to-image (as an SDXL refiner
    would be), beside the SD text-to-image model, which serves the previews as before."""
    models = tmp_path_factory.mktemp("modes")
    inpainting, sdxl = make_tiny_sd_inpainting(models), make_tiny_sdxl(models)
    settings = Settings(_env_file=None, data_dir=models / "data", image_backend="diffusers",  # type: ignore[call-arg]
                        image_model=str(tiny_sd[0]), image_inpaint_model=str(inpainting),
                        image_img2img_model=str(sdxl), image_device="cpu")
    modes = DiffusionRenderer.from_settings(settings).generator
    assert modes.inpainting.unet.config.in_channels == 9 and modes.text2image.unet.config.in_channels == 4
    assert type(modes.image2image).__name__ == "StableDiffusionXLImg2ImgPipeline"
    assert modes.own_models == {"image-to-image": "tiny-sdxl", "inpainting": "tiny-sd-inpainting"}
    assert modes.label == "AI image (diffusers, model tiny-sd; finals refined with tiny-sdxl)"  # what the graph uses
    prompt, fast = "oat milk cold brew", Quality(2, 1.0, 1.0)
    assert np.array_equal(pixels(modes.text_to_image(prompt, width=64, height=64, seed=9, quality=FAST)[0]),
                          pixels(generator.text_to_image(prompt, width=64, height=64, seed=9, quality=FAST)[0]))
    product, mask = Image.new("RGB", (64, 64), (200, 120, 40)), Image.new("L", (64, 64), 0)
    mask.paste(255, (0, 0, 64, 32))
    inpainted = modes.inpaint("a beach", product, mask, seed=3, quality=fast)
    assert np.array_equal(pixels(inpainted), pixels(modes.inpaint("a beach", product, mask, seed=3, quality=fast)))
    assert not np.array_equal(pixels(inpainted), pixels(generator.inpaint("a beach", product, mask, seed=3,
                                                                          quality=fast)))
    final = modes.final_from_preview(prompt, product, width=96, height=64, seed=3, quality=Quality(2, 1.0, 0.5))
    assert final.size == (96, 64)
    # an inpainting model cannot make pictures from text, nor restage one: refused, naming where it goes
    for mode_model in ({"image_model": str(inpainting)}, {"image_img2img_model": str(inpainting)}):
        with pytest.raises(ConfigError, match=r"^image model '.*tiny-sd-inpainting' is an inpainting model \(9 input "
                                              r"channels\), which cannot do (text|image)-to-image; set it as "
                                              r"BRIEFCRAFT_IMAGE_INPAINT_MODEL$"):
            DiffusionRenderer.from_settings(settings.model_copy(update=mode_model))


@pytest.mark.llm
def test_graph_renders_ai_previews_and_finals(settings: Settings, local_model: Any, tiny_sd: tuple[Path, Path]) -> None:
    model, tiny_vae = tiny_sd
    settings = settings.model_copy(update={
        "image_backend": "diffusers", "image_model": str(model), "image_tiny_vae": str(tiny_vae),
        "image_device": "cpu", "image_preview_steps": 1, "image_final_steps": 2,
    })
    graph = build_graph(settings, chat_model=local_model)
    brief = CreativeBrief(product="Oat cold brew", audience="Berlin commuters", tone=["playful"], channels=["email"],
                          key_messages=["Cold brew, warm hello"])
    current = runner.start(graph, brief, thread_id="ai", max_brief_chars=settings.max_brief_chars, user="maya")
    assert current.stage == "waiting_for_approval"
    done = runner.resume(graph, "ai", runner.approve_all(current))
    assert done.stage == "done"
    state = graph.get_state({"configurable": {"thread_id": "ai"}}).values
    previews = [i for i in state["images"] if i.stage == "preview"]
    finals = state["finals"]
    assert previews and all(i.renderer == "diffusers" and i.label.startswith("AI image") for i in previews)
    assert "Oat cold brew" in previews[0].prompt and "Berlin commuters" in previews[0].prompt
    manifest = json.loads((Path(done.pack) / "manifest.json").read_text(encoding="utf-8"))
    images = manifest["images"]
    assert [(i["width"], i["height"]) for i in images] == [(1200, 600)]
    assert all(i["renderer"] == "diffusers" and i["label"].startswith("AI image") for i in images)
    assert images[0]["prompt"] == previews[0].prompt and images[0]["seed"] == previews[0].seed
    assert [(f.source_id, f.stage, f.renderer) for f in finals] == [(previews[0].id, "final", "diffusers")]
    with Image.open(Path(done.pack) / images[0]["path"]) as exported:
        assert exported.size == (1200, 600)
    # The final's picture was refined from the approved preview's picture, then composed at the channel size.
    assert finals[0].picture != previews[0].picture and finals[0].composition is not None
    assert finals[0].composition.contrast >= 4.5
    with Image.open(finals[0].picture) as picture:
        assert picture.size == (1200, 592)  # the cover size, on the latent grid
