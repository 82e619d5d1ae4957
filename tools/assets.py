"""A content-addressed image store: the same bytes are written once, under their sha256."""

from __future__ import annotations

import hashlib
import io
import os
import threading
from pathlib import Path

from PIL import Image, PngImagePlugin

__all__ = ["asset_path", "part_path", "save_bytes", "save_png", "write_atomic"]


def part_path(path: Path) -> Path:
    """A temporary name beside ``path`` that no other process or thread writing the same file uses (graph branches
    and studio users write in parallel threads of one process)."""
    return path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.part")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True


def _sweep_parts(path: Path) -> None:
    """Remove the temporary files of ``path`` that writers killed mid-write left behind (a live writer's stays)."""
    prefix = f".{path.name}."
    # Names compared directly: a glob pattern holding the sha256 is a new regex for every file (0.15 ms, this 0.06).
    for part in path.parent.iterdir():
        if part.name.startswith(prefix) and part.name.endswith(".part"):
            pid = part.name[len(prefix):].split(".", 1)[0]
            if pid.isdigit() and not _alive(int(pid)):
                part.unlink(missing_ok=True)


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename: a crash never leaves half a file there."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = part_path(path)
    partial.write_bytes(data)
    partial.replace(path)


def asset_path(store: Path, digest: str, suffix: str = ".png") -> Path:
    """Where the store keeps the file whose sha256 is ``digest``."""
    return store / digest[:2] / f"{digest}{suffix}"


def save_bytes(data: bytes, store: Path, suffix: str = ".png") -> tuple[Path, str]:
    """Write ``data`` to ``store`` under its sha256; return its path and sha256.

    Writing the same bytes twice is a no-op, so a node that re-runs after a resume stores nothing twice; the re-run
    also clears what a write killed midway left, even where another writer of the same bytes (a parallel branch)
    got the file there first.
    """
    digest = hashlib.sha256(data).hexdigest()
    path = asset_path(store, digest, suffix)
    if not path.exists():
        write_atomic(path, data)
    _sweep_parts(path)
    return path, digest


#: zlib level of the store's PNGs (pictures, previews, finals before their stamp): level 1 encodes a 1080x1350 final
#: in about half the time of the default 6 for about 40 % more bytes (docs/BENCHMARKS.md). What leaves the machine is
#: encoded again by ``tools.provenance.stamp``, at the default level.
_STORE_PNG_LEVEL = 1


def save_png(image: Image.Image, store: Path, text: dict[str, str]) -> tuple[Path, str]:
    """Write ``image`` as PNG (with ``text`` chunks) to ``store``; return its path and sha256."""
    info = PngImagePlugin.PngInfo()
    for key, value in text.items():
        info.add_text(key, value)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", pnginfo=info, compress_level=_STORE_PNG_LEVEL)
    return save_bytes(buffer.getvalue(), store)
