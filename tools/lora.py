"""Brand style LoRA training: a small peft adapter on the UNet's attention, learned from a brand's approved images.

The loop is diffusers' text-to-image LoRA example (``examples/text_to_image/train_text_to_image_lora.py``) without
accelerate: the base model is frozen, a LoRA of rank ``rank`` is added to the attention projections of the UNet,
and only the LoRA's weights learn to predict the noise (or velocity, as the scheduler says) added to the images'
latents at random timesteps. The model is loaded by ``ImageGenerator.load``, as it is for generation, so training
sees the same weights, device and dtype; the LoRA's own weights stay in fp32. The result is the diffusers LoRA
file that ``ImageGenerator.use_loras`` loads. On a CPU it suits tiny test models; real models want a GPU.
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PIL import Image, ImageOps, UnidentifiedImageError
from pydantic import BaseModel, Field

from briefcraft.errors import ConfigError, IngestError
from briefcraft.imaging import IMAGE_TYPES
from briefcraft.tools.imagegen import ImageGenerator

if TYPE_CHECKING:
    import torch

__all__ = ["IMAGE_SUFFIXES", "LORA_FILE", "TARGET_MODULES", "TrainReport", "train_style_lora"]

#: The adapter's file name in its folder: diffusers' own (``LORA_WEIGHT_NAME_SAFE``), which tools around it expect.
LORA_FILE = "pytorch_lora_weights.safetensors"
#: The UNet layers that learn, as in diffusers' example: the attention projections.
TARGET_MODULES = ["to_k", "to_q", "to_v", "to_out.0"]
#: The image files a training folder may hold (the types brand memory ingests).
IMAGE_SUFFIXES = tuple(IMAGE_TYPES)
_MAX_GRAD_NORM = 1.0


class TrainReport(BaseModel):
    """What a training run did: the adapter file written, on what, for how long, and how the loss moved."""

    output: Path = Field(description="The adapter file (diffusers LoRA format, safetensors).")
    images: int = Field(description="Training images used.")
    steps: int
    rank: int
    resolution: int = Field(description="Side of the square the images were cropped and resized to, in pixels.")
    device: str
    first_loss: float = Field(description="Mean loss over the first tenth of the steps.")
    final_loss: float = Field(description="Mean loss over the last tenth of the steps.")
    seconds: float = Field(description="Wall time, loading the model included.")


def train_style_lora(
    model: str, images: Path, out: Path, *, rank: int = 4, steps: int = 500, lr: float = 1e-4,
    resolution: int = 512, batch_size: int = 1, seed: int = 0, device: str = "auto", caption: str = "",
    config: str | None = None,
) -> TrainReport:
    """Train a style LoRA for ``model`` on every PNG, JPEG and WebP image in ``images``; write it into ``out``.

    Args:
        model: a diffusers-format folder, a single-file checkpoint or a Hugging Face id of a Stable Diffusion
            (1.x/2.x) model; ``config`` as for ``ImageGenerator.load``.
        images: the folder of training images; each is centre-cropped to a square of ``resolution`` pixels.
        out: the folder the adapter file (``LORA_FILE``) is written to; an older one there is replaced whole.
        caption: the text every image is paired with; empty (the default) teaches the style for every prompt.
        seed: drives the LoRA's initial weights and every random draw; on a CPU a seed gives the same file.
    """
    _check(rank=rank, steps=steps, lr=lr, resolution=resolution, batch_size=batch_size)
    pixels = _training_images(images, resolution)  # before the model: a bad folder fails in a moment
    started = time.perf_counter()
    # first: it imports diffusers without the noise
    generator = ImageGenerator.load(model, device=device, config=config)
    import diffusers
    import torch
    import torch.nn.functional as F
    from diffusers.training_utils import cast_training_params
    from diffusers.utils.state_dict_utils import convert_state_dict_to_diffusers
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict

    pipe = generator.text2image
    supported: Any = diffusers.StableDiffusionPipeline  # as Any: diffusers' own annotations are partial
    if not isinstance(pipe, supported):
        raise ConfigError(f"image model {model!r} is a {type(pipe).__name__}; style LoRA training supports Stable "
                          "Diffusion 1.x/2.x models (StableDiffusionPipeline)")
    unet, vae = pipe.unet, pipe.vae
    for module in (unet, vae, pipe.text_encoder):
        module.requires_grad_(False)
    with torch.random.fork_rng(devices=[]):  # peft draws the LoRA's initial weights from the global generator
        torch.manual_seed(seed)
        unet.add_adapter(LoraConfig(r=rank, lora_alpha=rank, init_lora_weights="gaussian",
                                    target_modules=TARGET_MODULES))
    cast_training_params(unet, dtype=torch.float32)  # Adam's small updates vanish in bf16/fp16 weights
    params = [param for param in unet.parameters() if param.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=lr)
    noise_scheduler = diffusers.DDPMScheduler.from_config(pipe.scheduler.config)  # type: ignore[no-untyped-call]

    draws = torch.Generator("cpu").manual_seed(seed)
    with torch.no_grad():
        # The VAE is frozen: each image's latent distribution is computed once and sampled at every step.
        encoded = [vae.encode(image[None].to(generator.device, generator.dtype)).latent_dist for image in pixels]
        means, stds = torch.cat([d.mean for d in encoded]), torch.cat([d.std for d in encoded])
        text = pipe.encode_prompt(caption, generator.device, 1, False)[0]
    losses: list[float] = []
    unet.train()
    for _ in range(steps):
        chosen = torch.randperm(len(pixels), generator=draws)[: min(batch_size, len(pixels))]
        latents = means[chosen] + stds[chosen] * _randn(means[chosen], draws)
        latents = latents * vae.config.scaling_factor
        noise = _randn(latents, draws)
        timesteps = torch.randint(0, noise_scheduler.config.num_train_timesteps, (len(chosen),),
                                  generator=draws).to(generator.device)
        noisy = noise_scheduler.add_noise(latents, noise, timesteps)
        target = _target(noise_scheduler, latents, noise, timesteps)
        prediction = unet(noisy, timesteps, text.expand(len(chosen), -1, -1)).sample
        loss = F.mse_loss(prediction.float(), target.float())
        loss.backward()  # type: ignore[no-untyped-call]
        torch.nn.utils.clip_grad_norm_(params, _MAX_GRAD_NORM)
        optimizer.step()
        optimizer.zero_grad()
        losses.append(float(loss.detach()))

    output = _save(out, convert_state_dict_to_diffusers(get_peft_model_state_dict(unet)))  # type: ignore[no-untyped-call]
    window = max(1, math.ceil(steps / 10))
    return TrainReport(
        output=output, images=len(pixels), steps=steps, rank=rank, resolution=resolution, device=generator.device,
        first_loss=sum(losses[:window]) / window, final_loss=sum(losses[-window:]) / window,
        seconds=round(time.perf_counter() - started, 2),
    )


def _check(*, rank: int, steps: int, lr: float, resolution: int, batch_size: int) -> None:
    """Refuse training settings that cannot work, naming the setting and what is allowed."""
    if not 1 <= rank <= 128:
        raise ConfigError(f"LoRA rank {rank} is not usable; allowed: 1-128 (4-32 is usual)")
    if steps < 1:
        raise ConfigError(f"training steps {steps} is not usable; allowed: 1 or more")
    if not 0 < lr < 1:
        raise ConfigError(f"learning rate {lr} is not usable; allowed: between 0 and 1 (1e-4 is usual)")
    if not 64 <= resolution <= 2048 or resolution % 8:
        raise ConfigError(f"training resolution {resolution} is not usable; allowed: a multiple of 8 from 64 to 2048")
    if batch_size < 1:
        raise ConfigError(f"batch size {batch_size} is not usable; allowed: 1 or more")


def _training_images(folder: Path, resolution: int) -> torch.Tensor:
    """Every image in ``folder``, upright, centre-cropped and resized to a square, as one tensor in [-1, 1]."""
    import numpy as np
    import torch

    if not folder.is_dir():
        raise IngestError(f"training images: {folder} is not a folder")
    files = sorted(path for path in folder.iterdir() if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file())
    if not files:
        raise IngestError(f"training images: {folder} holds no image; allowed: {', '.join(IMAGE_SUFFIXES)}")
    squares: list[Any] = []
    for path in files:
        try:
            with Image.open(path) as image:
                upright = ImageOps.exif_transpose(image).convert("RGB")
        except (UnidentifiedImageError, OSError) as error:
            raise IngestError(f"training image {path.name}: not a readable image ({error})") from error
        square = ImageOps.fit(upright, (resolution, resolution), Image.Resampling.LANCZOS)
        squares.append(np.asarray(square, dtype=np.float32) / 127.5 - 1)
    return torch.from_numpy(np.stack(squares)).permute(0, 3, 1, 2)


def _randn(like: torch.Tensor, draws: torch.Generator) -> torch.Tensor:
    """Standard normal noise shaped like ``like``, drawn on the CPU so that a seed gives the same draws anywhere."""
    import torch

    return torch.randn(like.shape, generator=draws).to(like.device, like.dtype)


def _target(scheduler: Any, latents: torch.Tensor, noise: torch.Tensor, timesteps: torch.Tensor) -> torch.Tensor:
    """What the UNet learns to predict, as the model's scheduler says: the noise, or the velocity."""
    kind = scheduler.config.prediction_type
    if kind == "epsilon":
        return noise
    if kind == "v_prediction":
        return scheduler.get_velocity(latents, noise, timesteps)  # type: ignore[no-any-return]
    raise ConfigError(f"the model's scheduler predicts {kind!r}; style LoRA training supports epsilon, v_prediction")


def _save(out: Path, unet_lora: dict[str, Any]) -> Path:
    """Write the UNet's LoRA weights as diffusers does, then move the file into ``out`` in one step.

    A generator may be reading the adapter this replaces (retraining keeps its path): it sees the old file or the
    new one, never half of one.
    """
    from diffusers import StableDiffusionPipeline

    out.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=out, prefix=".training-"))
    try:
        StableDiffusionPipeline.save_lora_weights(staging, unet_lora_layers=unet_lora, weight_name=LORA_FILE,
                                                  safe_serialization=True)
        os.replace(staging / LORA_FILE, out / LORA_FILE)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out / LORA_FILE

