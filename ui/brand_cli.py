"""``briefcraft brand ...``: the brand's AI image style: train a style LoRA and list it in the brand kit."""

from __future__ import annotations

import argparse
import inspect
import json
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from briefcraft.errors import ConfigError
from briefcraft.memory.kit import load_kit, save_kit, with_style_lora
from briefcraft.memory.store import ChromaBrandMemory
from briefcraft.schemas import BrandKit, StyleLora, brand_key
from briefcraft.settings import load_settings
from briefcraft.tools.lora import IMAGE_SUFFIXES, LORA_FILE, train_style_lora

__all__ = ["add_brand_parser", "run_brand"]

#: train_style_lora's defaults, shown in the help and used when an option is not given.
_DEFAULTS = {name: parameter.default for name, parameter in inspect.signature(train_style_lora).parameters.items()}


def add_brand_parser(commands: Any) -> None:
    """Add ``brand`` and its subcommands to the ``briefcraft`` parser."""
    brand = commands.add_parser("brand", help="the brand's AI image style: style LoRAs")
    verbs = brand.add_subparsers(dest="verb", required=True)
    train = verbs.add_parser(
        "train-lora", help="train a style LoRA on the brand's approved images and add it to the brand kit",
        description="Needs BRIEFCRAFT_IMAGE_MODEL (a Stable Diffusion model) and, for real models, a GPU.",
    )
    train.add_argument("--brand", help="the brand (default: BRIEFCRAFT_BRAND, else 'default')")
    train.add_argument("--images", required=True, metavar="DIR",
                       help=f"folder of the brand's approved images ({' '.join(IMAGE_SUFFIXES)})")
    train.add_argument("--name", default="style",
                       help="the adapter's name in the brand kit; one of that name is replaced (default: style)")
    for option, kind, metavar, what in (("steps", int, "S", "training steps"), ("rank", int, "R", "LoRA rank"),
                                        ("resolution", int, "PX", "side of the square images are cropped to"),
                                        ("lr", float, "LR", "learning rate")):
        train.add_argument(f"--{option}", type=kind, default=_DEFAULTS[option], metavar=metavar,
                           help=f"{what} (default: {_DEFAULTS[option]})")
    train.add_argument("--caption", default=_DEFAULTS["caption"],
                       help="text paired with every image (default: none, so every prompt gets the style)")
    train.add_argument("--json", action="store_true", help="print JSON")


def run_brand(args: argparse.Namespace) -> int:
    """Run one ``brand`` subcommand (``train-lora``); returns the exit code."""
    settings = load_settings()
    if not settings.image_model:
        raise ConfigError("brand train-lora needs BRIEFCRAFT_IMAGE_MODEL: the diffusers model (a folder, a "
                          "single-file checkpoint or a Hugging Face id) the style LoRA is trained for")
    brand = args.brand or settings.brand
    folder = (settings.data_dir / "loras" / brand_key(brand)).resolve()
    try:
        lora = StyleLora(name=args.name, path=folder / args.name / LORA_FILE)
    except ValidationError:
        raise ConfigError(f"--name {args.name!r} is not usable: give 1-48 lower-case letters, digits, '-' or '_', "
                          "starting with a letter or digit") from None
    report = train_style_lora(
        settings.image_model, Path(args.images), lora.path.parent, rank=args.rank, steps=args.steps, lr=args.lr,
        resolution=args.resolution, device=settings.image_device, caption=args.caption,
        config=settings.image_model_config,
    )
    kit_path = ChromaBrandMemory(settings).kit_path(brand)
    save_kit(kit_path, with_style_lora(load_kit(kit_path) or BrandKit(brand=brand), lora))
    if args.json:
        print(json.dumps({"report": report.model_dump(mode="json"), "kit": str(kit_path),
                          "style_lora": lora.model_dump(mode="json")}, indent=2))
        return 0
    print(f"adapter: {report.output}")
    print(f"images: {report.images}")
    print(f"steps: {report.steps} (rank {report.rank}, {report.resolution}x{report.resolution} px, {report.device})")
    print(f"loss: {report.first_loss:.4f} -> {report.final_loss:.4f} (first and last tenth of the steps)")
    print(f"time: {report.seconds:.1f} s")
    print(f"brand kit: {kit_path} (style_loras: {lora.name}, weight {lora.weight})")
    return 0
