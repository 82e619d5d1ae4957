"""``briefcraft memory ...``: add guidelines and images to brand memory, search it, show and edit the brand kit."""

from __future__ import annotations

import argparse
import getpass
import json
import os
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from briefcraft.agents.brand_kit import Refused, edit_kit, ingest, kit_summary, redistill, report_summary
from briefcraft.errors import BriefError, ConfigError, IngestError
from briefcraft.memory.ingest import allowed_types, readable
from briefcraft.memory.kit import kit_yaml
from briefcraft.memory.store import ChromaBrandMemory
from briefcraft.schemas import IMAGE_ROLES, BrandKit, ImageRole
from briefcraft.settings import Settings, load_settings

__all__ = ["add_memory_parser", "run_memory"]

#: The most hits ``memory search --k`` returns.
_MAX_HITS = 100


def add_memory_parser(commands: Any) -> None:
    """Add ``memory`` and its subcommands to the ``briefcraft`` parser."""
    memory = commands.add_parser("memory", help="brand memory: guidelines, images, brand kit, past work")
    verbs = memory.add_subparsers(dest="verb", required=True)
    brand = argparse.ArgumentParser(add_help=False)
    brand.add_argument("--brand", help="the brand (default: BRIEFCRAFT_BRAND, else 'default')")
    brand.add_argument("--json", action="store_true", help="print JSON")

    add = verbs.add_parser("add", parents=[brand], help="ingest guideline documents and brand images")
    add.add_argument("paths", nargs="+", metavar="PATH",
                     help=".md .txt .html .pdf .docx .png .jpg .webp files, or folders of them")
    add.add_argument("--role", choices=IMAGE_ROLES,
                     help="for images: the brand's protected work or a competitor's (new images must not copy it)")
    search = verbs.add_parser("search", parents=[brand], help="search the brand's memory, with citations")
    search.add_argument("query")
    search.add_argument("--k", type=int, default=5, help=f"how many hits (1-{_MAX_HITS}, default 5)")
    kit = verbs.add_parser("kit", parents=[brand], help="show the brand kit; --edit to change it")
    kit.add_argument("--edit", action="store_true", help="edit the kit in $VISUAL / $EDITOR")
    kit.add_argument("--from", dest="from_file", metavar="FILE", help="replace the kit with an edited YAML file")
    verbs.add_parser("list", parents=[brand], help="list the brand's documents and images")
    remove = verbs.add_parser("remove", parents=[brand], help="remove a document or image from the brand")
    remove.add_argument("source", help="the name `memory list` shows")
    metrics = verbs.add_parser("import-metrics", parents=[brand],
                               help="attach performance (CSV: asset_id, impressions, clicks, conversions)")
    metrics.add_argument("file", metavar="FILE.csv")


def run_memory(args: argparse.Namespace) -> int:
    """Run one ``memory`` subcommand; returns the exit code."""
    if args.verb == "search" and not 1 <= args.k <= _MAX_HITS:
        raise BriefError(f"--k {args.k} is out of range; allowed: 1 to {_MAX_HITS}")
    settings = load_settings()
    brand = args.brand or settings.brand
    with ChromaBrandMemory(settings) as memory:
        if args.verb == "add":
            return _add(memory, settings, brand, [Path(p) for p in args.paths], args.json, args.role)
        if args.verb == "search":
            hits = memory.search(args.query, brand=brand, k=args.k)
            _out([h.model_dump() for h in hits], args.json, [f"{h.score:.3f}  {h.source}{'  [flagged]' * h.flagged}\n"
                                                               f"       {_one_line(h.text)}" for h in hits]
                 or [f"no matches in brand {brand!r}"])
        elif args.verb == "list":
            sources = memory.sources(brand)
            _out([s.model_dump() for s in sources], args.json,
                 [f"{s.source}  {s.kind}  {s.chunks} chunk(s)  {s.ingested_at}"
                  + (f"  role: {s.role}" if s.role else "") + (f"  {s.flagged} flagged" if s.flagged else "")
                  for s in sources]
                 or [f"brand {brand!r} has nothing in memory yet"])
        elif args.verb == "remove":
            removed = memory.remove(args.source, brand=brand)
            if any(s.kind == "document" for s in memory.sources(brand)) or memory.kit(brand):
                redistill(memory, settings, brand)
            _out({"removed": args.source, "chunks": removed}, args.json, [f"removed {args.source} ({removed} chunks)"])
        elif args.verb == "import-metrics":
            count = memory.import_metrics(Path(args.file), brand=brand)
            _out({"updated": count}, args.json, [f"performance attached to {count} example(s) of brand {brand!r}"])
        else:
            return _kit(memory, brand, args)
    return 0


def _expand(paths: list[Path]) -> list[Path]:
    """The paths given, each folder replaced by the files in it that brand memory reads, in name order. What a
    folder holds besides (other types, subfolders) is named on stderr; hidden files are passed over. A folder with
    nothing to read is refused before anything is ingested."""
    files: list[Path] = []
    for path in paths:
        if not path.is_dir():
            files.append(path)
            continue
        inside = sorted(p for p in path.iterdir() if not p.name.startswith("."))
        read = [p for p in inside if p.is_file() and readable(p.name)]
        if not read:
            raise IngestError(f"{path}: a folder with no file brand memory reads; allowed: {allowed_types()} "
                              "(subfolders are not read)")
        if left := [f"{p.name}/" if p.is_dir() else p.name for p in inside if p not in read]:
            print(f"briefcraft: left out of {path} (not a type brand memory reads, or a subfolder): {', '.join(left)}",
                  file=sys.stderr)
        files.extend(read)
    return files


def _add(memory: ChromaBrandMemory, settings: Settings, brand: str, paths: list[Path], as_json: bool,
         role: ImageRole | None) -> int:
    outcome = ingest(memory, settings, brand, [(path, None) for path in _expand(paths)], role)
    for result in outcome.results:
        if isinstance(result, Refused):
            print(f"briefcraft: error: {result.error}", file=sys.stderr)
        elif not as_json:
            print(f"{result.status} {result.source}: {report_summary(result)}")
            for flag in result.flagged:
                print(f"  flagged (kept as data, never obeyed): {flag}")
    if outcome.kit_error is not None:
        raise outcome.kit_error
    if outcome.kit is not None and not as_json:
        print(f"brand kit {memory.kit_path(brand)}: {kit_summary(outcome.kit)}")
    if as_json:
        print(json.dumps([r.model_dump() for r in outcome.reports], indent=2))
    return 2 if outcome.refused else 0


def _kit(memory: ChromaBrandMemory, brand: str, args: argparse.Namespace) -> int:
    kit = memory.kit(brand) or BrandKit(brand=brand)
    if not (args.from_file or args.edit):
        print(json.dumps(kit.model_dump(), indent=2) if args.json else kit_yaml(kit), end="" if not args.json else "\n")
        return 0
    path = Path(args.from_file) if args.from_file else _edit_in_editor(kit_yaml(kit))
    try:
        edit_kit(memory, brand, path.read_text(encoding="utf-8"), user=getpass.getuser(), where=str(path))
    except ConfigError as error:
        keep = "" if args.from_file else f"; your edit is kept: fix it, then `briefcraft memory kit --from {path}`"
        raise ConfigError(f"{error}{keep}") from error
    if not args.from_file:
        path.unlink()
    print(f"saved brand kit {memory.kit_path(brand)}")
    return 0


def _edit_in_editor(text: str) -> Path:
    """The kit written to a temporary file and edited in the user's editor; returns the file."""
    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", prefix="brand-kit-", delete=False, encoding="utf-8") as f:
        f.write(text)
    if subprocess.call([*shlex.split(editor), f.name]) != 0:
        Path(f.name).unlink()
        raise ConfigError(f"the editor ({editor}) failed; the brand kit is unchanged")
    return Path(f.name)


def _out(data: object, as_json: bool, lines: list[str]) -> None:
    print(json.dumps(data, indent=2) if as_json else "\n".join(lines))


def _one_line(text: str, limit: int = 110) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
