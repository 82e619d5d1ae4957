"""Image generation over diffusers: text-to-image, image-to-image and inpainting from one loaded pipeline.

The pipeline is loaded once per ``ImageGenerator`` and its image-to-image and inpainting forms are made with
diffusers' ``from_pipe``, so all three modes share one set of weights in memory, unless a mode is given a model of
its own (an SDXL refiner for image-to-image, a 9-channel inpainting checkpoint for inpainting). Device and dtype are
explicit (CUDA in bf16 where supported, else fp16; Apple MPS in fp16; CPU in fp32). Attention is PyTorch's SDPA, which
diffusers uses by default on torch 2; ``compile=True`` wraps the denoiser in ``torch.compile``. Seeds drive CPU
generators, one per image, so a seed gives the same image whatever else is in the batch.

Previews are the cheap path: few steps, small, every variant in one batched call, decoded by a tiny VAE when one is
configured. A final is the approved preview picture resized to the final size and refined with image-to-image at
full steps from the same seed, so it keeps the composition the director approved.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import logging
import math
import re
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from PIL import Image
from safetensors import SafetensorError

from briefcraft.errors import ConfigError
from briefcraft.tools.compose import check_size
from briefcraft.tools.render import Rendered, RenderSpec

if TYPE_CHECKING:
    import torch

    from briefcraft.schemas import StyleLora
    from briefcraft.settings import Settings

__all__ = ["DiffusionRenderer", "ImageGenerator", "Quality", "import_diffusers", "pipeline_kind", "resolve_device"]

#: What the compositor adds afterwards (copy, logo); kept out of the picture itself.
NEGATIVE_PROMPT = "text, letters, words, watermark, logo, caption, blurry, deformed"

#: A Hugging Face model id: ``org/name`` with the hub's characters.
_HUB_ID = re.compile(r"^[\w.-]+/[\w.-]+$")


#: The most denoising steps and the largest guidance scale a render takes (the settings' own bounds).
_MAX_STEPS = 200
_MAX_GUIDANCE = 30.0
#: The most images one call renders (previews batch the variants of a channel).
_MAX_COUNT = 16


def _is_number(value: object) -> bool:
    """A finite int or float that is not a bool."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


@dataclass(frozen=True)
class Quality:
    """Steps, guidance and (for image-to-image and inpainting) how far the result may move from the input.

    As in diffusers, image-to-image runs ``steps * strength`` of the steps (at least one).
    """

    steps: int
    guidance: float
    strength: float = 1.0

    def __post_init__(self) -> None:
        # isinstance first: NaN passes every comparison-based check, and a float step count is never meant.
        if isinstance(self.steps, bool) or not isinstance(self.steps, int) or not 1 <= self.steps <= _MAX_STEPS:
            raise ConfigError(f"image steps {self.steps!r} are not usable; allowed: a whole number from 1 to "
                              f"{_MAX_STEPS} (BRIEFCRAFT_IMAGE_PREVIEW_STEPS, BRIEFCRAFT_IMAGE_FINAL_STEPS)")
        if not _is_number(self.guidance) or not 0 <= self.guidance <= _MAX_GUIDANCE:
            raise ConfigError(f"image guidance {self.guidance!r} is not usable; allowed: a number from 0 to "
                              f"{_MAX_GUIDANCE} (BRIEFCRAFT_IMAGE_GUIDANCE)")
        if not _is_number(self.strength) or not 0 < self.strength <= 1:
            raise ConfigError(f"image strength {self.strength!r} is not usable; allowed: a number above 0, up to 1 "
                              "(BRIEFCRAFT_IMAGE_REFINE_STRENGTH)")

    @property
    def scheduled_steps(self) -> int:
        """The steps to schedule so that at least one runs at this strength."""
        return max(self.steps, math.ceil(1 / self.strength))


def resolve_device(device: str) -> tuple[str, torch.dtype]:
    """The torch device and dtype for ``device`` ('auto', 'cuda', 'cuda:N', 'mps' or 'cpu')."""
    import torch

    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigError(f"BRIEFCRAFT_IMAGE_DEVICE={device} but torch sees no CUDA GPU; allowed here: auto, cpu")
        return device, torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device == "mps":
        if not torch.backends.mps.is_available():
            raise ConfigError("BRIEFCRAFT_IMAGE_DEVICE=mps but torch sees no Apple GPU; allowed here: auto, cpu")
        return device, torch.float16
    if device != "cpu":
        raise ConfigError(f"BRIEFCRAFT_IMAGE_DEVICE={device!r} is not a device; allowed: auto, cuda, cuda:N, mps, cpu")
    return device, torch.float32


Mode = Literal["text-to-image", "image-to-image", "inpainting"]
#: The diffusers auto pipeline of each mode.
_AUTO: dict[Mode, str] = {"text-to-image": "AutoPipelineForText2Image", "image-to-image": "AutoPipelineForImage2Image",
                          "inpainting": "AutoPipelineForInpainting"}
#: The setting that names each mode's model.
_SETTING: dict[Mode, str] = {"text-to-image": "BRIEFCRAFT_IMAGE_MODEL",
                             "image-to-image": "BRIEFCRAFT_IMAGE_IMG2IMG_MODEL",
                             "inpainting": "BRIEFCRAFT_IMAGE_INPAINT_MODEL"}
#: What a single-file checkpoint may be saved as.
_CHECKPOINT_SUFFIXES = (".safetensors", ".ckpt")
#: The pipeline each kind of single-file checkpoint loads as (diffusers' names for the kinds, which it reads from the
#: file's weight names), and the modes it cannot serve; other kinds (ControlNet, video, upscalers) are not loaded.
_SINGLE_FILE_PIPELINES: dict[str, tuple[str, frozenset[Mode]]] = {
    "v1": ("StableDiffusionPipeline", frozenset()), "v2": ("StableDiffusionPipeline", frozenset()),
    "xl_base": ("StableDiffusionXLPipeline", frozenset()),
    "playground-v2-5": ("StableDiffusionXLPipeline", frozenset()),
    "sd3": ("StableDiffusion3Pipeline", frozenset()), "sd35_large": ("StableDiffusion3Pipeline", frozenset()),
    "sd35_medium": ("StableDiffusion3Pipeline", frozenset()), "flux-dev": ("FluxPipeline", frozenset()),
    "flux-schnell": ("FluxPipeline", frozenset()),
    "xl_refiner": ("StableDiffusionXLImg2ImgPipeline", frozenset({"text-to-image"})),
    "inpainting": ("StableDiffusionInpaintPipeline", frozenset({"text-to-image", "image-to-image"})),
    "inpainting_v2": ("StableDiffusionInpaintPipeline", frozenset({"text-to-image", "image-to-image"})),
    "xl_inpaint": ("StableDiffusionXLInpaintPipeline", frozenset({"text-to-image", "image-to-image"})),
}
_ALLOWED_MODELS = ("allowed: a diffusers-format folder (save_pretrained), a single-file checkpoint (.safetensors, "
                   ".ckpt) or a Hugging Face id")


def pipeline_kind(model: str) -> Literal["directory", "file", "hub"]:
    """Where ``model`` comes from: a diffusers-format directory, a single-file checkpoint, or a Hugging Face id."""
    path = Path(model).expanduser()
    if path.is_dir():
        if not (path / "model_index.json").is_file():
            raise ConfigError(f"image model {model!r} is a folder without model_index.json; {_ALLOWED_MODELS}")
        return "directory"
    if path.is_file():
        if path.suffix.lower() not in _CHECKPOINT_SUFFIXES:
            raise ConfigError(f"image model {model!r} is a {path.suffix or 'extension-less'} file, not a "
                              f"checkpoint; {_ALLOWED_MODELS}")
        return "file"
    if path.exists() or not _HUB_ID.match(model):
        raise ConfigError(f"image model {model!r} is neither a file, a folder nor a Hugging Face id like "
                          f"'stabilityai/sd-turbo'; {_ALLOWED_MODELS}")
    return "hub"


def import_diffusers() -> Any:  # the diffusers module; untyped
    """diffusers, imported without the image-processor warnings transformers prints on its import."""
    from transformers.utils import logging as transformers_logging

    verbosity = transformers_logging.get_verbosity()
    transformers_logging.set_verbosity_error()  # type: ignore[no-untyped-call]
    try:
        import diffusers
        from diffusers.utils import logging as diffusers_logging
    finally:
        transformers_logging.set_verbosity(verbosity)
    diffusers_logging.disable_progress_bar()  # noise in a CLI and a server log
    transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    return diffusers


def _checkpoint_kind(path: Path) -> str:
    """diffusers' name for the kind of model a single-file checkpoint holds, read from its weights' names and
    shapes (a .safetensors file's header only; a .ckpt is unpickled). ``ConfigError`` for an unreadable file."""
    import pickle

    import torch
    from safetensors import safe_open

    single_file = _single_file_utils()
    try:
        if path.suffix.lower() != ".safetensors":
            checkpoint = single_file.load_single_file_checkpoint(str(path), local_files_only=True)
            return str(single_file.infer_diffusers_model_type(checkpoint))
        with safe_open(str(path), framework="pt") as header:  # shapes without reading gigabytes of weights
            shapes = {key: torch.empty(header.get_slice(key).get_shape(), device="meta")
                      for key in header.keys()}  # noqa: SIM118 (safe_open is not a mapping)
    except (OSError, ValueError, RuntimeError, pickle.UnpicklingError, SafetensorError) as error:
        raise ConfigError(f"image model {str(path)!r} is not a readable checkpoint: {_first_line(error)}") from error
    return str(single_file.infer_diffusers_model_type(shapes))


def _single_file_utils() -> Any:  # diffusers' single-file loading helpers; untyped
    return importlib.import_module("diffusers.loaders.single_file_utils")


def _single_file_pipeline(path: Path, config: str | None, mode: Mode) -> Any:  # a diffusers pipeline class; untyped
    """The pipeline class a single-file checkpoint loads as: the one ``config`` (a diffusers folder) names, else
    the one for the kind of model the file holds, which must be able to serve ``mode``."""
    diffusers = import_diffusers()
    folder = Path(config).expanduser() if config else None
    if folder is not None and folder.is_dir():
        if not (folder / "model_index.json").is_file():
            raise ConfigError(f"BRIEFCRAFT_IMAGE_MODEL_CONFIG {config!r} is a folder without model_index.json; "
                              "allowed: a diffusers-format folder or a Hugging Face id of the checkpoint's base model")
        name = str(json.loads((folder / "model_index.json").read_text(encoding="utf-8")).get("_class_name", ""))
    else:
        kind = _checkpoint_kind(path)
        name, cannot = _SINGLE_FILE_PIPELINES.get(kind, ("", frozenset(_AUTO)))
        if mode in cannot:
            raise ConfigError(f"image model {path.name!r} holds a {kind!r} model, which cannot do {mode}; allowed: "
                              "Stable Diffusion 1.x/2.x, SDXL, SD3 or FLUX checkpoints (for inpainting also their "
                              "inpainting models, for image-to-image also the SDXL refiner)")
    pipeline = getattr(diffusers, name, None)
    if pipeline is None or not hasattr(pipeline, "from_single_file"):
        raise ConfigError(f"image model {path.name!r}: diffusers cannot load a {name or 'unnamed'} pipeline from a "
                          "single file; allowed: Stable Diffusion 1.x/2.x, SDXL, SD3 or FLUX checkpoints")
    return pipeline


def _load(model: str, dtype: torch.dtype, config: str | None = None, mode: Mode = "text-to-image") -> Any:
    """``model`` as the diffusers pipeline of ``mode`` (untyped); ``ConfigError`` naming ``mode``'s setting."""
    kind = pipeline_kind(model)
    path = Path(model).expanduser()
    if config and Path(config).expanduser().exists():  # a folder, as the shell would not have expanded it
        config = str(Path(config).expanduser())
    auto = getattr(import_diffusers(), _AUTO[mode])
    try:
        if kind != "file":
            pipeline = auto.from_pretrained(str(path) if kind == "directory" else model, dtype=dtype)
        else:
            single = _single_file_pipeline(path, config, mode)
            with _diffusers_logs(logging.ERROR):  # its notes on casting the converted weights: noise here
                pipeline = auto.from_pipe(single.from_single_file(str(path), config=config, dtype=dtype))
    except (OSError, ValueError, KeyError, SafetensorError, _single_file_utils().SingleFileComponentError) as error:
        hint = {"hub": f"; set {_SETTING[mode]} to a local diffusers folder",
                "file": "; set BRIEFCRAFT_IMAGE_MODEL_CONFIG to a diffusers folder of the checkpoint's base model "
                        "(its configs, tokenizer and scheduler)" if mode == "text-to-image" else
                        f"; set {_SETTING[mode]} to a diffusers folder (a single file's configs come from the Hub)",
                }.get(kind, "") if config is None else ""
        raise ConfigError(f"image model {model!r} could not be loaded: {_first_line(error)}{hint}") from error
    unet = getattr(pipeline, "unet", None)
    if mode != "inpainting" and unet is not None and unet.config.in_channels > pipeline.vae.config.latent_channels:
        raise ConfigError(f"image model {model!r} is an inpainting model ({unet.config.in_channels} input channels), "
                          f"which cannot do {mode}; set it as BRIEFCRAFT_IMAGE_INPAINT_MODEL")
    return pipeline


@contextmanager
def _diffusers_logs(level: int) -> Iterator[None]:
    """diffusers' log messages below ``level`` left out for the block."""
    from diffusers.utils import logging as diffusers_logging

    verbosity = diffusers_logging.get_verbosity()
    diffusers_logging.set_verbosity(level)
    try:
        yield
    finally:
        diffusers_logging.set_verbosity(verbosity)


def _first_line(error: BaseException) -> str:
    return next((line.strip() for line in str(error).splitlines() if line.strip()), type(error).__name__)


class ImageGenerator:
    """One diffusers pipeline, loaded once, serving text-to-image, image-to-image and inpainting (or a mode's own
    model where one is given).

    ``load`` reads a model by path or id; the constructor takes a pipeline already built (e.g. from configs, as
    the benchmark and tests do). Calls are serialised by a lock: the graph renders channels in parallel threads,
    and a diffusers pipeline (its scheduler, its active adapters) is not safe to call from two at once.
    """

    def __init__(
        self, pipeline: Any, *, name: str, device: str = "auto", tiny_vae: Any | None = None, compile: bool = False,
        own: Mapping[Mode, tuple[str, Any]] | None = None,
    ) -> None:
        """``own``: image-to-image or inpainting pipelines of their own, by mode, with their model's name; other
        modes share ``pipeline``'s modules."""
        import torch

        diffusers = import_diffusers()
        self.model = name
        self.own_models = {mode: model for mode, (model, _) in (own or {}).items()}
        self.device, self.dtype = resolve_device(device)
        self.text2image = self._on_device(pipeline)
        self.text2image.set_progress_bar_config(disable=True)
        # from_pipe shares the loaded modules; nothing is loaded or copied twice.
        self.image2image = self._on_device(own["image-to-image"][1]) if own and "image-to-image" in own else \
            diffusers.AutoPipelineForImage2Image.from_pipe(self.text2image)
        self.inpainting = self._on_device(own["inpainting"][1]) if own and "inpainting" in own else \
            diffusers.AutoPipelineForInpainting.from_pipe(self.text2image)
        if compile:
            for pipe in {id(p): p for p in (self.text2image, self.image2image, self.inpainting)}.values():
                denoiser = "unet" if hasattr(pipe, "unet") else "transformer"
                setattr(pipe, denoiser, torch.compile(getattr(pipe, denoiser)))
        self.preview_pipe = self.text2image
        if tiny_vae is not None:
            self.preview_pipe = type(self.text2image).from_pipe(self.text2image, vae=self._on_device(tiny_vae))
        for pipe in (self.image2image, self.inpainting, self.preview_pipe):
            pipe.set_progress_bar_config(disable=True)
        self._lock = threading.RLock()
        self._adapters, self._active_loras = {}, ()

    @classmethod
    def load(
        cls, model: str, *, device: str = "auto", tiny_vae: str | None = None, compile: bool = False,
        config: str | None = None, image2image: str | None = None, inpainting: str | None = None,
    ) -> ImageGenerator:
        """Load ``model`` (a diffusers folder, a single-file checkpoint or a Hugging Face id) and, if given, a tiny
        VAE for previews. ``config`` is for a single file: a diffusers folder or id of the checkpoint's base model,
        whose configs, tokenizer and scheduler its weights go into (unset: diffusers picks the base model from the
        weights, and needs it in the Hugging Face cache or online). ``image2image`` and ``inpainting`` name models of
        their own for those modes (e.g. an SDXL refiner, an inpainting checkpoint); unset, they share ``model``."""
        _, dtype = resolve_device(device)
        pipeline = _load(model, dtype, config)
        given: tuple[tuple[Mode, str | None], ...] = (("image-to-image", image2image), ("inpainting", inpainting))
        own = {mode: (Path(other).name or other, _load(other, dtype, mode=mode)) for mode, other in given if other}
        vae = import_diffusers().AutoencoderTiny.from_pretrained(tiny_vae, dtype=dtype) if tiny_vae else None
        return cls(pipeline, name=Path(model).name or model, device=device, tiny_vae=vae, compile=compile, own=own)

    def _on_device(self, module: Any) -> Any:
        """``module`` in the generator's device and dtype (moved only if it is not: ``to`` on a no-op warns)."""
        if module.device.type == self.device.split(":")[0] and module.dtype == self.dtype:
            return module
        return module.to(self.device, self.dtype)

    @property
    def label(self) -> str:
        """What the graph's pictures come from: previews from the model, finals refined image-to-image (the
        graph does not inpaint)."""
        refiner = self.own_models.get("image-to-image")
        return f"AI image (diffusers, model {self.model}{f'; finals refined with {refiner}' if refiner else ''})"

    def _generators(self, seed: int, count: int) -> list[torch.Generator]:
        import torch

        return [torch.Generator("cpu").manual_seed(seed + i) for i in range(count)]

    def _size(self, width: int, height: int) -> tuple[int, int]:
        """Round down to the multiple the model's latent grid needs (at least one cell)."""
        step = int(getattr(self.text2image, "vae_scale_factor", 8)) * 2
        return max(step, width // step * step), max(step, height // step * step)

    def _call(self, pipe: Any, count: int, seed: int, width: int, height: int, prompt: str,
              negative: str | None, quality: Quality, **extra: Any) -> list[Image.Image]:
        check_size(width, height)  # before rounding to the latent grid, which would hide a 0 or a negative size
        if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= _MAX_COUNT:
            raise ValueError(f"count {count!r} is out of range; allowed: 1 to {_MAX_COUNT} images a call")
        width, height = self._size(width, height)
        kwargs: dict[str, Any] = dict(
            prompt=[prompt] * count, num_inference_steps=quality.scheduled_steps, guidance_scale=quality.guidance,
            width=width, height=height, generator=self._generators(seed, count), output_type="pil", **extra,
        )
        if negative and quality.guidance > 1:
            kwargs["negative_prompt"] = [negative] * count
        with self._lock:
            return list(pipe(**kwargs).images)

    def text_to_image(
        self, prompt: str, *, width: int, height: int, seed: int, quality: Quality, count: int = 1,
        negative: str | None = None, preview: bool = False,
    ) -> list[Image.Image]:
        """``count`` images in one batched call; image ``i`` comes from seed ``seed + i``."""
        pipe = self.preview_pipe if preview else self.text2image
        return self._call(pipe, count, seed, width, height, prompt, negative, quality)

    def image_to_image(
        self, prompt: str, image: Image.Image, *, seed: int, quality: Quality, negative: str | None = None,
    ) -> Image.Image:
        """Restage ``image`` (e.g. a product photo into a new scene); ``quality.strength`` is how far it may move."""
        return self._call(self.image2image, 1, seed, image.width, image.height, prompt, negative, quality,
                          image=image.convert("RGB"), strength=quality.strength)[0]

    def inpaint(
        self, prompt: str, image: Image.Image, mask: Image.Image, *, seed: int, quality: Quality,
        negative: str | None = None,
    ) -> Image.Image:
        """Repaint where ``mask`` is white (e.g. the background) and keep the rest (e.g. the product)."""
        if mask.size != image.size:
            raise ValueError(f"mask is {mask.size[0]}x{mask.size[1]} but the image is {image.width}x{image.height}; "
                             "they must match")
        return self._call(self.inpainting, 1, seed, image.width, image.height, prompt, negative, quality,
                          image=image.convert("RGB"), mask_image=mask.convert("L"), strength=quality.strength)[0]

    def final_from_preview(
        self, prompt: str, preview: Image.Image, *, width: int, height: int, seed: int, quality: Quality,
        negative: str | None = None,
    ) -> Image.Image:
        """The approved preview picture resized to the final size and refined image-to-image at full steps."""
        base = preview.convert("RGB").resize(self._size(width, height), Image.Resampling.LANCZOS)
        return self.image_to_image(prompt, base, seed=seed, quality=quality, negative=negative)

    #: LoRA files loaded into the pipeline, by resolved path: (the file's mtime when loaded, its adapter name).
    _adapters: dict[Path, tuple[int, str]]
    #: The adapters active now, with their weights, in the pipeline's order; empty when LoRA is off.
    _active_loras: tuple[tuple[str, float], ...]

    def use_loras(self, loras: Sequence[StyleLora]) -> None:
        """Make exactly ``loras`` active, at their weights, for the generations that follow; ``[]`` turns LoRA off.

        Each file is loaded once and kept (again only when it changed on disk, e.g. retrained), so switching between
        brands only re-weights. The adapters live in the text-to-image model's denoiser and text encoder, which the
        other modes share, so they apply to text-to-image, image-to-image, inpainting and previews alike (not to a
        mode given a model of its own, whose weights the adapter was not trained for); with none active the output is
        exactly the base model's. A missing or unusable file is a ``ConfigError`` naming it, and the adapters that
        were active stay so. While other threads generate for other brands, use ``with_loras`` instead.
        """
        with self._lock:
            paths = [lora.path.expanduser() for lora in loras]
            if repeated := next((path for i, path in enumerate(paths) if path in paths[:i]), None):
                raise ConfigError(f"style LoRA {repeated} is listed twice; list each adapter once")
            self._activate(tuple((self._adapter(path), lora.weight) for path, lora in zip(paths, loras, strict=True)))

    @contextmanager
    def with_loras(self, loras: Sequence[StyleLora]) -> Iterator[ImageGenerator]:
        """This generator with exactly ``loras`` active for the block, then the adapters active before it again.

        The graph renders channels in parallel threads: the lock is held for the whole block, so no other brand's
        adapters can be switched in between activation and generation. Pass the recalled brand's adapters::

            with generator.with_loras(brand.style_loras) as gen:   # brand: the BrandContext
                picture = gen.text_to_image(prompt, width=512, height=512, seed=7, quality=quality)[0]
        """
        with self._lock:
            before = self._active_loras
            self.use_loras(loras)
            try:
                yield self
            finally:
                self._activate(before)

    def _adapter(self, path: Path) -> str:
        """The adapter name of the LoRA file at ``path``, loading the file on first use or when it changed."""
        import warnings

        allowed = "allowed: a diffusers LoRA .safetensors file for this model, e.g. from `briefcraft brand train-lora`"
        if not path.is_file() or path.suffix.lower() != ".safetensors":
            raise ConfigError(f"style LoRA {path}: no such .safetensors file; {allowed}")
        key = path.resolve()
        stamp = key.stat().st_mtime_ns
        if key in self._adapters and self._adapters[key][0] == stamp:
            return self._adapters[key][1]
        # A new name per file version; a hex digest is never part of a module path, which diffusers' missing-keys
        # warning would otherwise match. A replaced version stays loaded: a caller may still restore it.
        name = "style_" + hashlib.sha256(f"{key}:{stamp}".encode()).hexdigest()[:12]
        # diffusers logs a failed load in full, and notes on a LoRA without text-encoder layers: the ConfigError
        # below says what matters in one line. peft warns that a second adapter joins: several is the point here.
        try:
            with _diffusers_logs(logging.CRITICAL), warnings.catch_warnings():
                warnings.filterwarnings("ignore", message="Already found a `peft_config` attribute")
                self.text2image.load_lora_weights(str(key), adapter_name=name)
        except (OSError, ValueError, RuntimeError, KeyError) as error:
            reason = " ".join(str(error).split()) or type(error).__name__
            reason = reason if len(reason) <= 200 else reason[:199] + "…"
            raise ConfigError(f"style LoRA {path} cannot be used with image model {self.model}: {reason}; "
                              f"{allowed}") from error
        self._adapters[key] = (stamp, name)
        self._apply(self._active_loras)  # loading activated the new adapter alone
        return name

    def _activate(self, wanted: tuple[tuple[str, float], ...]) -> None:
        """Make ``wanted`` the active adapters unless they already are."""
        if wanted != self._active_loras:
            self._apply(wanted)

    def _apply(self, wanted: tuple[tuple[str, float], ...]) -> None:
        """Set the pipeline's adapters and weights; none disables LoRA, which gives the base model's pixels exactly."""
        if wanted:
            self.text2image.enable_lora()
            self.text2image.set_adapters([name for name, _ in wanted], adapter_weights=[w for _, w in wanted])
        else:
            self.text2image.disable_lora()
        self._active_loras = wanted


class DiffusionRenderer:
    """The art director's AI backend: the picture for a spec, without copy (the compositor sets that).

    A preview is generated at its (small) size with preview quality, batched-call ready and decoded by the tiny
    VAE when one is configured; a final (``spec.source`` set) refines that approved preview picture at full size.
    Pictures come at the nearest size the model's latent grid allows; the compositor crops to the channel's.
    """

    renderer = "diffusers"

    def __init__(self, generator: ImageGenerator, *, preview: Quality, final: Quality) -> None:
        self.generator = generator
        self.preview = preview
        self.final = final
        self.label = generator.label

    @classmethod
    def from_settings(cls, settings: Settings) -> DiffusionRenderer:
        """Load ``settings.image_model`` once, with the configured steps, guidance and refine strength."""
        assert settings.image_model is not None  # Settings refuses diffusers without a model
        generator = ImageGenerator.load(settings.image_model, device=settings.image_device,
                                        tiny_vae=settings.image_tiny_vae, compile=settings.image_compile,
                                        config=settings.image_model_config,
                                        image2image=settings.image_img2img_model,
                                        inpainting=settings.image_inpaint_model)
        return cls(
            generator, preview=Quality(settings.image_preview_steps, settings.image_guidance),
            final=Quality(settings.image_final_steps, settings.image_guidance, settings.image_refine_strength),
        )

    def render(self, spec: RenderSpec) -> Rendered:
        """Generate the picture for ``spec``; the same spec gives the same pixels."""
        if not spec.prompt:
            raise ValueError("an AI render needs a prompt; the art director writes one from the brief")
        with self.generator.with_loras(spec.style_loras) as generator:  # the brand's adapters, for this call only
            started = time.perf_counter()  # inside the lock: GPU time, not time spent waiting for the GPU
            if spec.source is None:
                picture = generator.text_to_image(
                    spec.prompt, width=spec.width, height=spec.height, seed=spec.seed, quality=self.preview,
                    negative=NEGATIVE_PROMPT, preview=True,
                )[0]
            else:
                with Image.open(spec.source) as preview:
                    picture = generator.final_from_preview(
                        spec.prompt, preview, width=spec.width, height=spec.height, seed=spec.seed,
                        quality=self.final, negative=NEGATIVE_PROMPT,
                    )
            seconds = time.perf_counter() - started
        on_gpu = not generator.device.startswith(("cpu", "mps"))
        return Rendered(picture, model=generator.model, gpu_seconds=round(seconds, 3) if on_gpu else None)
