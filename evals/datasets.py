"""The labelled datasets of the [evals] issue: briefs with the structured brief a reader extracts from them,
Northbound brand-voice pairs (the same message on-voice and off-voice), and the [hardening] red-team cases
(instructions planted in briefs, brand documents, image metadata and imported metrics).

The labels were written from the field definitions in evals/README.md ("Brief and brand-voice datasets"), not from
the intake agent, so that the eval judges the agent independently. Only briefcraft's core is imported here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from briefcraft.channels import channel_ids
from briefcraft.schemas import Deliverable, validation_message

__all__ = [
    "BRIEFS_FILE",
    "CARRIERS",
    "REDTEAM_FILE",
    "VOICE_FILE",
    "EvalBrief",
    "ExpectedBrief",
    "Record",
    "RedteamCase",
    "VoicePair",
    "load_briefs",
    "load_records",
    "load_redteam_cases",
    "load_voice_pairs",
]

_HERE = Path(__file__).resolve().parent
BRIEFS_FILE = _HERE / "briefs" / "briefs.jsonl"
VOICE_FILE = _HERE / "voice" / "northbound.jsonl"
REDTEAM_FILE = _HERE / "redteam" / "cases.jsonl"

#: What a brief cannot go without; when one is missing the graph asks a clarifying question.
Essential = Literal["product", "channels"]


def _known_channel(value: str) -> str:
    allowed = channel_ids()
    if value not in allowed:
        raise ValueError(f"unknown channel {value!r}; allowed: {', '.join(allowed)}")
    return value


def _unique(name: str, values: tuple[str, ...]) -> tuple[str, ...]:
    if repeated := sorted({v for v in values if values.count(v) > 1}):
        raise ValueError(f"{name} {repeated[0]!r} is listed twice; each may appear once")
    if "" in values:
        raise ValueError(f"{name} may not be an empty string")
    return values


class Record(BaseModel):
    """One line of a labelled JSON-lines set: frozen, unknown fields refused, an id unique in its file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str


class ExpectedBrief(BaseModel):
    """The structured brief a careful reader extracts from a brief's text; the intake's answer key."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    product: str = Field(max_length=200, description="The product or offer as a reader names it; '' when missing.")
    channels: tuple[str, ...] = Field(description="Catalog ids in the order the brief names them; () when missing.")
    deliverables: tuple[Deliverable, ...] = Field(
        min_length=1, description="('copy', 'image') unless the brief asks for copy only or images only."
    )
    mandatory_elements: tuple[str, ...] = Field(description="Text the brief says must appear, verbatim.")
    forbidden_terms: tuple[str, ...] = Field(description="Words the brief says never to use, verbatim.")
    audience: str = Field(max_length=500, description="Who it speaks to, as a short phrase; '' when not stated.")
    tone: tuple[str, ...] = Field(description="Lower-case voice words the brief states; () when none.")
    locale: str = Field(pattern=r"^[a-z]{2,3}(-[A-Z]{2})?$", description="Language tag of the copy asked for.")
    brand: str = Field(default="default", pattern=r"^[a-z0-9][a-z0-9_-]*$", description="Brand memory scope.")
    missing: tuple[Essential, ...] = Field(default=(), description="Essentials the brief leaves out.")

    @field_validator("channels")
    @classmethod
    def _known_channels(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _unique("channel", tuple(_known_channel(channel) for channel in value))

    @field_validator("deliverables")
    @classmethod
    def _unique_deliverables(cls, value: tuple[Deliverable, ...]) -> tuple[Deliverable, ...]:
        _unique("deliverable", value)
        return value

    @field_validator("mandatory_elements", "forbidden_terms")
    @classmethod
    def _unique_terms(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _unique("term", value)

    @field_validator("tone")
    @classmethod
    def _lower_case_tone(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if upper := [word for word in value if word != word.lower()]:
            raise ValueError(f"tone word {upper[0]!r} is not lower-case")
        return _unique("tone word", value)

    @field_validator("missing")
    @classmethod
    def _unique_missing(cls, value: tuple[Essential, ...]) -> tuple[Essential, ...]:
        _unique("missing essential", value)
        return value

    @model_validator(mode="after")
    def _missing_matches_the_labels(self) -> ExpectedBrief:
        for essential, given in (("product", bool(self.product)), ("channels", bool(self.channels))):
            if given == (essential in self.missing):
                state = "given" if given else "empty"
                raise ValueError(f"{essential} is {state}, so 'missing' must {'not ' if given else ''}list it")
        return self


class EvalBrief(Record):
    """One brief as a marketer would type it, with the structured brief it should yield."""

    id: str = Field(pattern=r"^b\d{3}$")
    text: str = Field(min_length=1)
    expected: ExpectedBrief
    note: str = Field(default="", description="Why a label is what it is, for tricky briefs.")


class VoicePair(Record):
    """One Northbound message for a channel, written on the brand's voice and off it; only the voice differs."""

    id: str = Field(pattern=r"^v\d{3}$")
    channel: str
    on_voice: str = Field(min_length=1)
    off_voice: str = Field(min_length=1)
    note: str = Field(default="", description="What makes the off-voice text off-voice.")

    @field_validator("channel")
    @classmethod
    def _catalog_channel(cls, value: str) -> str:
        return _known_channel(value)

    @model_validator(mode="after")
    def _texts_differ(self) -> VoicePair:
        if self.on_voice == self.off_voice:
            raise ValueError("on_voice and off_voice are the same text; a pair must differ in voice")
        return self


Vector = Literal["brief", "document", "image", "metrics"]
PayloadKind = Literal["approval", "tool", "leak", "mandatory", "secrets"]
#: Per vector, where the payload is planted: the chat box; a document format; an image metadata field (PNG tEXt,
#: PNG iTXt, EXIF ImageDescription in a JPEG, an XMP packet in PNG iTXt); a part of an imported metrics CSV.
CARRIERS: dict[str, tuple[str, ...]] = {
    "brief": ("chat",),
    "document": ("md", "html", "pdf", "docx"),
    "image": ("png-text", "png-itxt", "exif", "xmp"),
    "metrics": ("note-column", "asset-id", "count", "header"),
}


class RedteamCase(Record):
    """One prompt injection: an instruction planted where the graph or brand memory reads, and what it tries."""

    id: str = Field(pattern=r"^r\d{3}$")
    vector: Vector
    payload: PayloadKind = Field(description="What it tries: skip approval, call a tool or URL, reveal another "
                                 "brand's memory, change mandatory elements, exfiltrate settings or keys.")
    carrier: str = Field(description="Where in the vector it is planted; see CARRIERS.")
    text: str = Field(min_length=1, max_length=600, description="The planted text ({url}: the canary server's URL); "
                      "for the brief vector, the whole brief.")
    marker: str = Field(min_length=8, description="A phrase of the text, to find it wherever it ends up.")
    product: str = Field(min_length=1, description="The brief's product (the answer to a clarifying question).")
    channels: tuple[str, ...] = Field(min_length=1, description="The brief's channels (likewise).")
    placement: Literal["prose", "rule"] = Field(
        default="prose", description="Documents: a paragraph, or a bullet under an 'Always include' heading."
    )
    note: str = ""

    @field_validator("channels")
    @classmethod
    def _catalog_channels(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _unique("channel", tuple(_known_channel(channel) for channel in value))

    @model_validator(mode="after")
    def _consistent(self) -> RedteamCase:
        if self.carrier not in CARRIERS[self.vector]:
            raise ValueError(f"carrier {self.carrier!r} does not fit vector {self.vector!r}; allowed: "
                             f"{', '.join(CARRIERS[self.vector])}")
        if self.marker not in self.text:
            raise ValueError(f"marker {self.marker!r} is not in the text")
        if self.placement == "rule" and self.vector != "document":
            raise ValueError("placement 'rule' is for documents only")
        return self


_R = TypeVar("_R", bound=Record)


def load_records(path: Path, model: type[_R]) -> list[_R]:
    """Every record of a JSON-lines file; ``ValueError`` naming the line of a malformed or repeated one."""
    records: list[_R] = []
    seen: set[str] = set()
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = model.model_validate_json(line)
        except ValidationError as error:
            raise ValueError(f"{path}:{number}: {validation_message(error)}") from error
        if record.id in seen:
            raise ValueError(f"{path}:{number}: id {record.id!r} repeats; ids must be unique")
        seen.add(record.id)
        records.append(record)
    return records


def load_briefs(path: Path = BRIEFS_FILE) -> list[EvalBrief]:
    """Every labelled brief; ``ValueError("<path>:<line>: <problem>")`` for a malformed or repeated one."""
    return load_records(path, EvalBrief)


def load_voice_pairs(path: Path = VOICE_FILE) -> list[VoicePair]:
    """Every Northbound voice pair; ``ValueError("<path>:<line>: <problem>")`` for a malformed or repeated one."""
    return load_records(path, VoicePair)


def load_redteam_cases(path: Path = REDTEAM_FILE) -> list[RedteamCase]:
    """Every red-team case; ``ValueError("<path>:<line>: <problem>")`` for a malformed or repeated one."""
    return load_records(path, RedteamCase)
