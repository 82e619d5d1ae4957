"""Test helpers: real documents (PDF via pypdf, Word via python-docx, images via Pillow), a free local port,
Etsy's published character patterns, and the browser tests' chromium."""

from __future__ import annotations

import importlib.util
import io
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from types import ModuleType
from typing import Any

import docx
import pytest
from PIL import Image, ImageDraw
from pypdf import PdfWriter
from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

#: Debian's chromium, which the browser tests drive through Playwright.
CHROMIUM = Path("/usr/bin/chromium")

#: Etsy Open API v3's own patterns (createDraftListing) for the characters a listing's title and tags may not have
#: (for the ``regex`` module: ``\p{L}`` is any letter).
ETSY_REFUSED = {"title": r"[^\p{L}\p{Nd}\p{P}\p{Sm}\p{Zs}™©®]", "tags": r"[^\p{L}\p{Nd}\p{Zs}\-'™©®]"}

GUIDELINES = """# Acme guidelines

## Voice
- Bold — we say it straight
- Kind

## Words
Never say: cheap, "guilt-free"
Avoid: hack

## Always include
- "T&Cs apply"

## Colours
Primary #112233, accent #ABCDEF.

## Imagery
Natural light, real people, no studio backgrounds.
"""


def make_pdf(pages: list[str], *, password: str | None = None) -> bytes:
    """A PDF whose pages hold ``pages`` as Helvetica text lines."""
    writer = PdfWriter()
    font = writer._add_object(DictionaryObject({
        NameObject("/Type"): NameObject("/Font"), NameObject("/Subtype"): NameObject("/Type1"),
        NameObject("/BaseFont"): NameObject("/Helvetica"),
    }))
    for text in pages:
        page = writer.add_blank_page(612, 792)
        page[NameObject("/Resources")] = DictionaryObject({
            NameObject("/Font"): DictionaryObject({NameObject("/F1"): font})
        })
        escaped = [line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") for line in text.splitlines()]
        content = "BT /F1 12 Tf 14 TL 72 720 Td " + " ".join(f"({line}) Tj T*" for line in escaped) + " ET"
        stream = DecodedStreamObject()
        stream.set_data(content.encode("latin-1"))
        page[NameObject("/Contents")] = writer._add_object(stream)
    if password:
        writer.encrypt(password, algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def make_docx(path: Path) -> Path:
    """A Word file with a heading structure, bullets and an inline rule."""
    document = docx.Document()
    document.add_heading("Acme style guide", 0)
    document.add_heading("Voice", 1)
    document.add_paragraph("Bold", style="List Bullet")
    document.add_heading("Words", 1)
    document.add_paragraph("Never say: cheap")
    document.save(str(path))
    return path


def make_image(path: Path, colours: tuple[tuple[int, int, int], tuple[int, int, int]], size: tuple[int, int] = (256, 128)
               ) -> Path:
    """An image: left three quarters in the first colour, the rest in the second."""
    image = Image.new("RGB", size, colours[0])
    ImageDraw.Draw(image).rectangle([size[0] * 3 // 4, 0, size[0], size[1]], fill=colours[1])
    image.save(path)
    return path


def pixels(image: Image.Image) -> Any:  # a numpy array; numpy stays out of this module's imports
    """An image's RGB pixels as signed integers, to compare or subtract."""
    import numpy as np

    return np.asarray(image.convert("RGB"), dtype=np.int16)


def free_port() -> int:
    """A TCP port on 127.0.0.1 nothing listens on (for the servers tests start)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_server(url: str, process: subprocess.Popen[bytes], log: Path, what: str, timeout: float = 60) -> None:
    """Return once a GET of ``url`` answers 200; fail the test with the end of ``log`` when ``process`` exits first
    or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as reply:
                if reply.status == 200:
                    return
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"{what} did not start (exit code {process.poll()}): "
                        f"{log.read_text(errors='replace')[-3000:]}")
        time.sleep(0.3)


def start_chroma(path: Path, port: int) -> subprocess.Popen[bytes]:
    """A real `chroma run` server on 127.0.0.1:``port`` over the database in ``path``, once it answers; its log
    goes to ``path``/server.log."""
    import chromadb

    with (path / "server.log").open("ab") as log:
        process = subprocess.Popen([str(Path(sys.executable).with_name("chroma")), "run", "--path", str(path / "db"),
                                    "--host", "127.0.0.1", "--port", str(port)], stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while True:
        try:
            chromadb.HttpClient(host="127.0.0.1", port=port).heartbeat()
            return process
        except Exception:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                raise RuntimeError(f"chroma server did not start: {(path / 'server.log').read_text()}") from None
            time.sleep(0.3)


def _byte_level_alphabet() -> list[str]:
    """The 256 printable stand-ins GPT-2/CLIP byte-level BPE uses for bytes."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    extra = [b for b in range(256) if b not in printable]
    return [chr(c) for c in printable] + [chr(256 + i) for i in range(len(extra))]


def _tiny_clip(folder: Path, name: str, *, projection: bool = False) -> tuple[Any, Any]:
    """A tiny CLIP text encoder and a byte-level CLIP tokenizer (no merges), its vocabulary written to ``folder``."""
    import json

    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection, CLIPTokenizer

    config = CLIPTextConfig(
        bos_token_id=0, eos_token_id=1, pad_token_id=1, hidden_size=32, intermediate_size=37, num_attention_heads=4,
        num_hidden_layers=2, vocab_size=520, max_position_embeddings=77, projection_dim=32,
    )
    encoder = CLIPTextModelWithProjection(config) if projection else CLIPTextModel(config)
    alphabet = _byte_level_alphabet()
    tokens = ["<|startoftext|>", "<|endoftext|>", *alphabet, *(c + "</w>" for c in alphabet)]
    vocab_dir = folder / name
    vocab_dir.mkdir(parents=True, exist_ok=True)
    (vocab_dir / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(tokens)}), encoding="utf-8")
    (vocab_dir / "merges.txt").write_text("#version: 0.2\n", encoding="utf-8")
    tokenizer = CLIPTokenizer(str(vocab_dir / "vocab.json"), str(vocab_dir / "merges.txt"), model_max_length=77)
    return encoder, tokenizer


def _tiny_vae() -> Any:
    from diffusers import AutoencoderKL

    return AutoencoderKL(
        block_out_channels=(8, 8, 8, 8), in_channels=3, out_channels=3, latent_channels=4, norm_num_groups=4,
        down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4, sample_size=64,
    )


def _scheduler() -> Any:
    from diffusers import EulerDiscreteScheduler

    return EulerDiscreteScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", steps_offset=1)


def _tiny_sd_unet(in_channels: int) -> Any:
    """A tiny SD UNet: 4 latent channels in for text-to-image, 9 (latents, mask, masked image) for inpainting."""
    from diffusers import UNet2DConditionModel

    return UNet2DConditionModel(
        block_out_channels=(16, 32), layers_per_block=1, sample_size=8, in_channels=in_channels, out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=32, norm_num_groups=8, attention_head_dim=8,
    )


def make_tiny_sd_inpainting(folder: Path) -> Path:
    """A tiny Stable Diffusion inpainting model (a 9-channel UNet), saved as users' models are."""
    import torch
    from diffusers import StableDiffusionInpaintPipeline

    torch.manual_seed(1)
    text_encoder, tokenizer = _tiny_clip(folder, "vocab-inpaint")
    StableDiffusionInpaintPipeline(
        vae=_tiny_vae(), text_encoder=text_encoder, tokenizer=tokenizer, unet=_tiny_sd_unet(9), scheduler=_scheduler(),
        safety_checker=None, feature_extractor=None, requires_safety_checker=False,
    ).save_pretrained(folder / "tiny-sd-inpainting")
    return folder / "tiny-sd-inpainting"


def make_tiny_sd(folder: Path) -> tuple[Path, Path]:
    """A tiny Stable Diffusion pipeline built from configs (random weights), saved as users' models are.

    Returns the pipeline folder and a matching tiny VAE (``AutoencoderTiny``) folder. The VAE downsamples 8x like
    SD's, so channel sizes stay cheap; the CLIP tokenizer has a byte-level vocabulary and no merges.
    """
    import torch
    from diffusers import AutoencoderTiny, StableDiffusionPipeline

    torch.manual_seed(0)
    unet, vae = _tiny_sd_unet(4), _tiny_vae()  # in this order: the seed's draws give the tests' weights
    text_encoder, tokenizer = _tiny_clip(folder, "vocab")
    pipeline = StableDiffusionPipeline(
        vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet, scheduler=_scheduler(),
        safety_checker=None, feature_extractor=None, requires_safety_checker=False,
    )
    pipeline.save_pretrained(folder / "tiny-sd")
    AutoencoderTiny(
        encoder_block_out_channels=(8, 8, 8, 8), decoder_block_out_channels=(8, 8, 8, 8), latent_channels=4,
        num_encoder_blocks=(1, 1, 1, 1), num_decoder_blocks=(1, 1, 1, 1),
    ).save_pretrained(folder / "tiny-vae")
    return folder / "tiny-sd", folder / "tiny-vae"


#: diffusers' resnet parameter names -> the original (LDM) UNet's; the reverse of diffusers' single-file loader.
_LDM_RESNET = {"norm1": "in_layers.0", "conv1": "in_layers.2", "norm2": "out_layers.0", "conv2": "out_layers.3",
               "time_emb_proj": "emb_layers.1", "conv_shortcut": "skip_connection"}
_LDM_VAE_ATTENTION = {"group_norm": "norm", "to_q": "q", "to_k": "k", "to_v": "v", "to_out.0": "proj_out"}


def _ldm_unet(state: dict[str, Any], layers: int) -> dict[str, Any]:
    """A diffusers SD UNet's weights under the original checkpoint's names (``model.diffusion_model.*``)."""
    import re

    from diffusers.loaders.single_file_utils import DIFFUSERS_TO_LDM_MAPPING

    fixed = DIFFUSERS_TO_LDM_MAPPING["unet"]["layers"]
    with_attention = {int(k.split(".")[1]) for k in state if k.startswith("up_blocks.") and ".attentions." in k}
    out: dict[str, Any] = {}
    for key, value in state.items():
        if key in fixed:
            name = fixed[key]
        elif match := re.match(r"(down|up)_blocks\.(\d+)\.(resnets|attentions)\.(\d+)\.(.+)", key):
            side, block, part, layer, rest = match.groups()
            index = (1 if side == "down" else 0) + int(block) * (layers + 1) + int(layer)
            head, _, tail = rest.partition(".")
            rest = f"{_LDM_RESNET[head]}.{tail}" if part == "resnets" else rest
            name = f"{'input' if side == 'down' else 'output'}_blocks.{index}.{0 if part == 'resnets' else 1}.{rest}"
        elif match := re.match(r"down_blocks\.(\d+)\.downsamplers\.0\.conv\.(.+)", key):
            name = f"input_blocks.{1 + int(match[1]) * (layers + 1) + layers}.0.op.{match[2]}"
        elif match := re.match(r"up_blocks\.(\d+)\.upsamplers\.0\.conv\.(.+)", key):
            slot = 2 if int(match[1]) in with_attention else 1
            name = f"output_blocks.{int(match[1]) * (layers + 1) + layers}.{slot}.conv.{match[2]}"
        elif match := re.match(r"mid_block\.(resnets|attentions)\.(\d)\.(.+)", key):
            part, number, rest = match.groups()
            head, _, tail = rest.partition(".")
            rest = f"{_LDM_RESNET[head]}.{tail}" if part == "resnets" else rest
            name = f"middle_block.{int(number) * 2 if part == 'resnets' else 1}.{rest}"
        else:
            raise KeyError(f"no original name for UNet weight {key}")
        out[f"model.diffusion_model.{name}"] = value
    return out


def _ldm_vae(state: dict[str, Any], blocks: int) -> dict[str, Any]:
    """A diffusers ``AutoencoderKL``'s weights under the original checkpoint's names (``first_stage_model.*``)."""
    import re

    from diffusers.loaders.single_file_utils import DIFFUSERS_TO_LDM_MAPPING

    fixed = DIFFUSERS_TO_LDM_MAPPING["vae"]
    out: dict[str, Any] = {}
    for key, value in state.items():
        conv = False  # the original's attention projections are 1x1 convolutions
        if key in fixed:
            name = fixed[key]
        elif match := re.match(r"(encoder|decoder)\.(down|up)_blocks\.(\d+)\.resnets\.(\d+)\.(.+)", key):
            side, way, block, layer, rest = match.groups()
            level = int(block) if way == "down" else blocks - 1 - int(block)  # the decoder counts up from the bottom
            name = f"{side}.{way}.{level}.block.{layer}.{rest.replace('conv_shortcut', 'nin_shortcut')}"
        elif match := re.match(r"(encoder|decoder)\.(down|up)_blocks\.(\d+)\.(down|up)samplers\.0\.(.+)", key):
            side, way, block, _, rest = match.groups()
            level = int(block) if way == "down" else blocks - 1 - int(block)
            name = f"{side}.{way}.{level}.{way}sample.{rest}"
        elif match := re.match(r"(encoder|decoder)\.mid_block\.resnets\.(\d)\.(.+)", key):
            name = f"{match[1]}.mid.block_{int(match[2]) + 1}.{match[3].replace('conv_shortcut', 'nin_shortcut')}"
        elif match := re.match(r"(encoder|decoder)\.mid_block\.attentions\.0\.(.+)\.(weight|bias)", key):
            name = f"{match[1]}.mid.attn_1.{_LDM_VAE_ATTENTION[match[2]]}.{match[3]}"
            conv = match[2] != "group_norm" and match[3] == "weight"
        else:
            raise KeyError(f"no original name for VAE weight {key}")
        out[f"first_stage_model.{name}"] = value[:, :, None, None] if conv else value
    return out


def make_tiny_sd_single_file(pipeline_dir: Path, path: Path) -> Path:
    """The tiny SD pipeline at ``pipeline_dir`` as one original-format (LDM) checkpoint file, as single-file models
    are shared (``model.diffusion_model.*``, ``first_stage_model.*``, ``cond_stage_model.transformer.*``); written
    as ``.safetensors``, or as a pickled ``{"state_dict": ...}`` for ``.ckpt``."""
    import torch
    from diffusers import StableDiffusionPipeline
    from safetensors.torch import save_file

    pipe = StableDiffusionPipeline.from_pretrained(pipeline_dir)
    state = {
        **_ldm_unet(pipe.unet.state_dict(), pipe.unet.config.layers_per_block),
        **_ldm_vae(pipe.vae.state_dict(), len(pipe.vae.config.block_out_channels)),
        # the original's CLIP is transformers' CLIPTextModel with its `text_model.` (flattened away in transformers 5.6)
        **{f"cond_stage_model.transformer.{'' if k.startswith('text_model.') else 'text_model.'}{k}": v
           for k, v in pipe.text_encoder.state_dict().items()},
    }
    state = {key: value.contiguous() for key, value in state.items()}
    if path.suffix == ".ckpt":
        torch.save({"state_dict": state}, path)
    else:
        save_file(state, path)
    return path


def make_tiny_sdxl(folder: Path) -> Path:
    """A tiny Stable Diffusion XL pipeline (two text encoders, size and crop conditioning) built from configs and
    saved as users' models are; the shapes follow diffusers' own SDXL test components."""
    import torch
    from diffusers import StableDiffusionXLPipeline, UNet2DConditionModel

    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        block_out_channels=(16, 32), layers_per_block=1, sample_size=8, in_channels=4, out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        attention_head_dim=(2, 4), use_linear_projection=True, addition_embed_type="text_time",
        addition_time_embed_dim=8, transformer_layers_per_block=(1, 2),
        projection_class_embeddings_input_dim=32 + 6 * 8,  # the pooled text embedding and six size/crop numbers
        cross_attention_dim=64, norm_num_groups=8,  # the two encoders' 32-wide states, concatenated
    )
    text_encoder, tokenizer = _tiny_clip(folder, "vocab-sdxl-1")
    text_encoder_2, tokenizer_2 = _tiny_clip(folder, "vocab-sdxl-2", projection=True)
    StableDiffusionXLPipeline(
        vae=_tiny_vae(), text_encoder=text_encoder, text_encoder_2=text_encoder_2, tokenizer=tokenizer,
        tokenizer_2=tokenizer_2, unet=unet, scheduler=_scheduler(),
    ).save_pretrained(folder / "tiny-sdxl")
    return folder / "tiny-sdxl"


def load_script(name: str) -> ModuleType:
    """``evals/NAME.py`` as a module (evals/ holds scripts, not a package)."""
    path = Path(__file__).resolve().parents[1] / "evals" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def require_chromium() -> None:
    """Skip a browser test where chromium is not installed, or fail it where CI asked for it
    (E2E_BROWSER_REQUIRED=1, set by .ci/run after installing it)."""
    if CHROMIUM.exists():
        return
    if os.environ.get("E2E_BROWSER_REQUIRED") == "1":
        pytest.fail("chromium not installed (apt-get install chromium) and E2E_BROWSER_REQUIRED=1")
    pytest.skip("chromium not installed (apt-get install chromium); .ci/run installs it and sets "
                "E2E_BROWSER_REQUIRED=1, which makes a missing browser a failure")
