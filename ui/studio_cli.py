"""``briefcraft ui``: serve the Gradio studio (the studio module, and Gradio, load only for this command)."""

from __future__ import annotations

import argparse
import os
from typing import Any

from briefcraft.errors import ConfigError
from briefcraft.settings import load_settings

__all__ = ["add_ui_parser", "run_ui"]


def add_ui_parser(commands: Any) -> None:
    """Add ``ui`` to the ``briefcraft`` parser."""
    ui = commands.add_parser("ui", help="serve the studio (web UI): chat a brief, review items, download packs")
    ui.add_argument("--host", help="address to bind (default: BRIEFCRAFT_UI_HOST, else 127.0.0.1)")
    ui.add_argument("--port", type=int, help="port (default: BRIEFCRAFT_UI_PORT, else 7860)")
    ui.add_argument("--brand", help="the brand the Brief and Brand tabs start on (default: BRIEFCRAFT_BRAND, else "
                    "'default')")


def run_ui(args: argparse.Namespace) -> int:
    """Run ``ui`` until interrupted; returns the exit code."""
    overrides = {name: value for name, value in (("ui_host", args.host), ("ui_port", args.port), ("brand", args.brand))
                 if value is not None}
    settings = load_settings(**overrides)
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # before gradio is imported: it reads it then
    try:
        from briefcraft.ui.studio import launch
    except ImportError as error:
        raise ConfigError(f"the studio needs the ui extra ({error.name} is missing): "
                          "pip install 'briefcraft[ui]'") from error
    launch(settings)
    return 0
