"""Brand kit distillation: the rules guidelines state outright, plus voice words the model reads from them.

Patterns (``briefcraft.memory.kit``) find labelled lists and hex colours; the model proposes voice words from
the guideline passages about voice. A proposed word is kept only when it appears in those passages, so the
model can point at the guidelines but never invent a rule; each keeps the passages' citation.

``ingest`` and ``edit_kit`` are what the CLI (``briefcraft memory``) and the studio's Brand tab both do: add
files and re-distil the kit, and save a person's edit of it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage, SystemMessage
from pydantic import BaseModel, Field

from briefcraft.agents.llm import ModelCall, invoke_structured
from briefcraft.agents.models import make_chat_model, remote_policy
from briefcraft.agents.prompts import KIT_SYSTEM, KIT_USER
from briefcraft.errors import BriefcraftError, ConfigError
from briefcraft.memory.ingest import passage_text
from briefcraft.memory.kit import apply_edit, distill, parse_kit, save_kit
from briefcraft.memory.store import ChromaBrandMemory, IngestReport
from briefcraft.schemas import AuditEvent, BrandKit, ImageRole, KitItem

if TYPE_CHECKING:
    from briefcraft.settings import Settings

__all__ = [
    "IngestOutcome",
    "Refused",
    "distill_kit",
    "edit_kit",
    "ingest",
    "kit_summary",
    "redistill",
    "report_summary",
]

_VOICE_QUERY = "brand voice, tone and personality: how we sound"
_PASSAGE_CHARS = 600
#: The kit fields a one-line summary counts.
_SUMMARY_FIELDS = ("voice", "forbidden_terms", "required_disclaimers", "palette")
#: The kit's other lists of rules, counted only when they hold something.
_OTHER_SUMMARY_FIELDS = tuple(name for name, field in BrandKit.model_fields.items()
                              if field.annotation == list[KitItem] and name not in _SUMMARY_FIELDS)


class _VoiceDraft(BaseModel):
    voice: list[str] = Field(default_factory=list, max_length=5, description="Single words.")


def distill_kit(
    memory: ChromaBrandMemory, brand: str, model: BaseChatModel, *, who: ModelCall
) -> tuple[BrandKit, list[AuditEvent]]:
    """Distil ``brand``'s kit from everything in its memory, keep people's edits, and save it."""
    found = memory.kit_rules(brand)
    passages = memory.guidance(brand, _VOICE_QUERY, k=2)
    audit: list[AuditEvent] = []
    if passages:
        text = "\n\n".join(p.text[:_PASSAGE_CHARS] for p in passages)
        draft, audit = invoke_structured(
            model, _VoiceDraft, [SystemMessage(KIT_SYSTEM), HumanMessage(KIT_USER.format(passages=text))],
            who=who, node="distill_kit",
        )
        source = "; ".join(dict.fromkeys(p.source for p in passages))
        # in the passages' own words: their headings name the brand and the topic ("Lumen Candles > Voice")
        said = "\n\n".join(passage_text(p.text, p.source) for p in passages)
        found["voice"] = found.get("voice", []) + [
            KitItem(value=word.strip(), source=source, origin="model")
            for word in draft.voice
            if word.strip() and re.search(rf"(?<!\w){re.escape(word.strip())}(?!\w)", said, re.IGNORECASE)
        ]
    kit = distill(brand, found, memory.kit(brand))
    save_kit(memory.kit_path(brand), kit)
    return kit, audit


def redistill(memory: ChromaBrandMemory, settings: Settings, brand: str, *, model: BaseChatModel | None = None
              ) -> BrandKit:
    """Distil and save ``brand``'s kit with ``model`` (default: the chat model ``settings.llm`` names)."""
    model = model if model is not None else make_chat_model(settings)
    who = ModelCall.of(model, provider=settings.llm_provider, seed=settings.llm_seed, remote=remote_policy(settings))
    kit, _ = distill_kit(memory, brand, model, who=who)
    return kit


@dataclass(frozen=True)
class Refused:
    """A file brand memory did not take, and why (one line naming the file and what is allowed)."""

    source: str
    error: str


@dataclass(frozen=True)
class IngestOutcome:
    """What adding a batch of files did: per file, in the order given, its report or why it was refused; the kit
    when it was re-distilled, or the error that stopped that (the files stay ingested)."""

    results: list[IngestReport | Refused]
    kit: BrandKit | None = None
    kit_error: BriefcraftError | None = None

    @property
    def reports(self) -> list[IngestReport]:
        """The files that were ingested (or found unchanged)."""
        return [r for r in self.results if isinstance(r, IngestReport)]

    @property
    def refused(self) -> list[Refused]:
        """The files that were refused."""
        return [r for r in self.results if isinstance(r, Refused)]


def ingest(memory: ChromaBrandMemory, settings: Settings, brand: str, files: Sequence[tuple[Path, str | None]],
           role: ImageRole | None = None, *, model: BaseChatModel | None = None) -> IngestOutcome:
    """Add ``files`` ((path, name to store it under or None for its own)) to ``brand``'s memory, then re-distil the
    kit when a guideline changed or the brand has no kit yet.

    Each file goes in whole or not at all, and a refused file does not stop the others.
    """
    results: list[IngestReport | Refused] = []
    for path, name in files:
        try:
            results.append(memory.add(path, brand=brand, name=name, role=role))
        except BriefcraftError as error:
            results.append(Refused(source=name if name is not None else path.name, error=str(error)))
    reports = [r for r in results if isinstance(r, IngestReport)]
    try:
        if any(r.status != "unchanged" and r.kind == "document" for r in reports) or (
            reports and memory.kit(brand) is None
        ):
            return IngestOutcome(results, kit=redistill(memory, settings, brand, model=model))
    except BriefcraftError as error:  # the files are in memory: report them along with why the kit is not new
        return IngestOutcome(results, kit_error=error)
    return IngestOutcome(results)


def edit_kit(memory: ChromaBrandMemory, brand: str, text: str, *, user: str, where: str) -> BrandKit:
    """Save a person's edit of ``brand``'s kit (its YAML ``text``): new and changed items become ``user``'s,
    removed ones stay removed. ``ConfigError`` naming ``where`` when the text is not a valid kit of this brand;
    nothing is saved then."""
    kit = memory.kit(brand) or BrandKit(brand=brand)
    edited = parse_kit(text, where=where)
    if edited.brand != kit.brand:
        raise ConfigError(f"the edited kit names brand {edited.brand!r}; it must stay {kit.brand!r}")
    saved = apply_edit(kit, edited, user=user)
    save_kit(memory.kit_path(brand), saved)
    return saved


def report_summary(report: IngestReport) -> str:
    """What an ingested file holds, in a few words: '5 chunk(s)', or 'image 256x128, #112233 75%, ...' and the
    image's role ('..., role: protected'); 'same content already in memory' for a file found unchanged."""
    if report.status == "unchanged":
        summary = "same content already in memory"
    elif report.kind == "document":
        return f"{report.chunks} chunk(s)"
    else:
        size = f"image {report.size[0]}x{report.size[1]}, " if report.size else "image, "
        summary = size + ", ".join(f"{hex_} {share:.0%}" for hex_, share in report.palette)
    return summary + (f", role: {report.role}" if report.role else "")


def kit_summary(kit: BrandKit) -> str:
    """The kit's main counts, then those of its other lists that hold anything: '3 voice, 2 forbidden_terms,
    1 required_disclaimers, 2 palette; also 2 product_names, 1 contacts'."""
    others = [f"{len(items)} {name}" for name in _OTHER_SUMMARY_FIELDS if (items := getattr(kit, name))]
    return ", ".join(f"{len(getattr(kit, name))} {name}" for name in _SUMMARY_FIELDS) + (
        f"; also {', '.join(others)}" if others else "")
