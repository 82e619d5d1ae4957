"""Writes the channel-ready campaign pack: copy deck, assets, compliance report, audit ledger, manifest."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import shutil
import tempfile
from pathlib import Path

from briefcraft.channels import get_channel
from briefcraft.errors import ExportError
from briefcraft.pricing import CostSummary
from briefcraft.schemas import AuditEvent, BrandContext, ComplianceReport, CopyVariant, CreativeBrief, ImageAsset
from briefcraft.tools.audit import GENESIS, chain

__all__ = ["PACK_FILES", "write_pack"]

#: Files every pack holds besides its assets.
PACK_FILES = (
    "brief.json", "copy_deck.json", "copy_deck.csv", "copy_deck.md", "compliance.json", "audit.jsonl",
    "manifest.json",
)


def _deck_rows(copies: list[CopyVariant]) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for copy in copies:
        channel = get_channel(copy.channel)
        for spec in channel.fields:
            for index, text in enumerate(copy.fields.get(spec.name, [])):
                rows.append({
                    "item_id": copy.id, "channel": copy.channel, "field": spec.name, "index": index,
                    "text": text, "chars": len(text), "max_chars": spec.max_chars, "author": copy.author,
                })
    return rows


def _deck_markdown(brief: CreativeBrief, copies: list[CopyVariant], images: list[ImageAsset]) -> str:
    lines = [f"# Copy deck: {brief.product}", ""]
    if brief.mandatory_elements:
        lines += [f"Mandatory: {'; '.join(brief.mandatory_elements)}", ""]
    for copy in copies:
        channel = get_channel(copy.channel)
        lines += [f"## {channel.name} — {copy.id}" + (" (edited by a person)" if copy.author == "human" else ""), ""]
        for spec in channel.fields:
            for text in copy.fields.get(spec.name, []):
                lines.append(f"- **{spec.name}** ({len(text)}/{spec.max_chars}): {text}")
        lines.append("")
    if images:
        lines += ["## Images", ""]
        lines += [
            f"- `assets/{image.channel}/{image.id}.png` {image.width}x{image.height} — {image.label}; "
            f"alt: {image.alt_text}" + (
                f"; text in {image.composition.font}, contrast {image.composition.contrast}:1"
                if image.composition else ""
            )
            for image in images
        ]
        lines.append("")
    return "\n".join(lines)


def _deck_csv(rows: list[dict[str, object]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(
        buffer, fieldnames=["item_id", "channel", "field", "index", "text", "chars", "max_chars", "author"]
    )
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def _prepare(out_dir: Path, key: str | None) -> Path:
    """A fresh staging folder beside ``out_dir``; refuses to replace a folder that is not a pack.

    An export with an idempotency key stages under a name made from it: a re-run of an export that was killed
    midway clears what the killed run left there instead of leaving a second, half-written pack beside the first.
    """
    if out_dir.exists() and any(out_dir.iterdir()) and not (out_dir / "manifest.json").exists():
        raise ExportError(f"{out_dir} exists and is not a briefcraft pack; choose a new or empty folder")
    if key is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", key):
        raise ExportError(f"idempotency_key {key!r} cannot name a staging folder; give 1-64 letters, digits, - or _")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    if key is None:
        return Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    stage = out_dir.with_name(f".{out_dir.name}.{key}.stage")
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir()
    return stage


def write_pack(
    out_dir: Path,
    *,
    thread_id: str,
    brief: CreativeBrief,
    copies: list[CopyVariant],
    images: list[ImageAsset],
    report: ComplianceReport,
    audit: list[AuditEvent],
    cost: CostSummary,
    pricing: str,
    brand: BrandContext | None = None,
    idempotency_key: str | None = None,
) -> dict[str, object]:
    """Write the pack to ``out_dir`` (replacing an earlier pack there) and return its manifest.

    Each copy variant and image carries an ``asset_id`` (``THREAD/ITEM``): the id performance metrics are
    imported under (``briefcraft memory import-metrics``).

    ``cost`` is what the thread's calls cost (``briefcraft.pricing.summarize``), per item and in total, priced with
    the table of the dates ``pricing`` names.
    The pack is staged in a sibling folder and moved into place, so a crash never leaves half a pack; the export's
    ``idempotency_key`` (its audit event's) goes in the manifest, and a re-run with the same key after a crash
    replaces what the killed run left, so there is still one pack.
    """
    stage = _prepare(out_dir, idempotency_key)
    ledger = chain(audit)
    try:
        rows = _deck_rows(copies)
        deck = [copy.model_dump(mode="json") for copy in copies]
        texts = {
            "brief.json": brief.model_dump_json(indent=2),
            "copy_deck.json": json.dumps(deck, indent=2, ensure_ascii=False),
            "copy_deck.csv": _deck_csv(rows),
            "copy_deck.md": _deck_markdown(brief, copies, images),
            "compliance.json": report.model_dump_json(indent=2),
            "audit.jsonl": "".join(entry.model_dump_json() + "\n" for entry in ledger),
        }
        for name, text in texts.items():
            (stage / name).write_text(text, encoding="utf-8")
        for image in images:
            target = stage / "assets" / image.channel / f"{image.id}.png"
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(image.path, target)
        files = sorted(p for p in stage.rglob("*") if p.is_file())
        manifest: dict[str, object] = {
            "thread_id": thread_id,
            "idempotency_key": idempotency_key,
            "product": brief.product,
            "brand": {"name": brief.brand, "citations": brand.citations if brand else []},
            "copy": [{"asset_id": f"{thread_id}/{copy.id}", "channel": copy.channel} for copy in copies],
            "compliance": {
                "status": report.status, "score": report.score,
                "items": {
                    item_id: {"status": report.item_status(item_id), "score": report.item_score(item_id)}
                    for item_id in report.checked
                },
            },
            "audit": {"entries": len(ledger), "head": ledger[-1].hash if ledger else GENESIS},
            "cost": {**cost.model_dump(mode="json"), "pricing": pricing},
            "files": [
                {
                    "path": p.relative_to(stage).as_posix(),
                    "sha256": hashlib.sha256(p.read_bytes()).hexdigest(),
                    "bytes": p.stat().st_size,
                }
                for p in files
            ],
            "images": [
                {
                    "path": f"assets/{image.channel}/{image.id}.png", "renderer": image.renderer,
                    "label": image.label, "source_id": image.source_id, "alt_text": image.alt_text,
                    "asset_id": f"{thread_id}/{image.source_id or image.id}", "width": image.width,
                    "height": image.height, "seed": image.seed, "prompt": image.prompt, "headline": image.headline,
                    "cta": image.cta, "style_loras": [lora.model_dump(mode="json") for lora in image.style_loras],
                    "composition": image.composition.model_dump(mode="json") if image.composition else None,
                    "provenance": image.provenance.model_dump(mode="json") if image.provenance else None,
                }
                for image in images
            ],
        }
        (stage / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False), encoding="utf-8")
        # a run killed between the two renames left the previous pack under ``old`` and none at ``out_dir``
        old = out_dir.with_name(f".{out_dir.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        if out_dir.exists():
            out_dir.replace(old)
        stage.replace(out_dir)
        shutil.rmtree(old, ignore_errors=True)
    except OSError as error:
        shutil.rmtree(stage, ignore_errors=True)
        raise ExportError(f"could not write the pack to {out_dir}: {error}") from error
    return manifest
