"""The nouns of briefcraft: briefs, subtasks, copy, images, findings, decisions and audit events.

Review checkpoints speak LangChain's human-in-the-loop protocol (``HITLRequest`` / ``HITLResponse`` from
``langchain.agents.middleware.human_in_the_loop``); ``ReviewDecision`` converts to and from its decisions.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal, cast

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator

from briefcraft.channels import channel_ids
from briefcraft.errors import BriefError, DecisionError
from briefcraft.languages import DEFAULT_LOCALE

__all__ = [
    "ASK_USER",
    "IMAGE_ROLES",
    "KIT_FIELDS",
    "PUBLISH_COPY",
    "PUBLISH_IMAGE",
    "RAISE_BUDGET",
    "AuditEvent",
    "BrandContext",
    "BrandKit",
    "BrandName",
    "BrandSnippet",
    "Budget",
    "Cited",
    "ComplianceReport",
    "Composition",
    "CopyVariant",
    "CreativeBrief",
    "Finding",
    "ImageAsset",
    "ImageRole",
    "ItemCheck",
    "KitItem",
    "LedgerEntry",
    "LedgerHead",
    "Provenance",
    "ReferenceImage",
    "ReviewDecision",
    "Severity",
    "StyleLora",
    "Subtask",
    "brand_key",
    "validation_message",
]

Severity = Literal["error", "warning", "info"]
Deliverable = Literal["copy", "image"]
DELIVERABLES: tuple[Deliverable, ...] = ("copy", "image")
ItemStatus = Literal["blocked", "review", "approved"]
#: What a reference image in brand memory is: the brand's protected work, or a competitor's.
ImageRole = Literal["protected", "competitor"]
IMAGE_ROLES: tuple[ImageRole, ...] = ("protected", "competitor")


def brand_key(brand: str) -> str:
    """The brand's storage key (its memory collections, kit, assets and LoRAs): lower-case letters, digits and
    dashes. ``BriefError`` for a name brand memory cannot store."""
    slug = re.sub(r"[^a-z0-9]+", "-", brand.casefold()).strip("-")
    if not slug or len(slug) > 48:
        raise BriefError(f"brand name {brand!r} is not usable: give 1-48 letters, digits, spaces or dashes")
    return slug


def _usable_brand(brand: str) -> str:
    try:
        brand_key(brand)
    except BriefError as error:
        raise ValueError(str(error)) from None
    return brand


#: A brand name brand memory can store (see ``brand_key``), checked where it is given, before any work.
BrandName = Annotated[str, AfterValidator(_usable_brand)]

#: HITL action names of the items under review, and of the clarifying question.
PUBLISH_COPY = "publish_copy"
PUBLISH_IMAGE = "publish_image"
ASK_USER = "ask_user"
RAISE_BUDGET = "raise_budget"


def _now() -> datetime:
    return datetime.now(UTC)


class _Model(BaseModel):
    # NaN and infinity are refused: a limit of inf or a cost of NaN is never meant, and JSON cannot carry them
    # (they would come back from a checkpoint or a pack as null).
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, allow_inf_nan=False)


class Budget(_Model):
    """Limits on what a brief may spend; None: no limit (``max_revision_rounds``: the setting's)."""

    max_cost_usd: float | None = Field(default=None, ge=0, description="USD for model, image and GPU calls.")
    max_gpu_seconds: float | None = Field(default=None, ge=0, description="GPU-seconds of diffusers renders.")
    max_revision_rounds: int | None = Field(default=None, ge=0, le=10,
                                            description="Rewrite rounds per rejected item.")


class CreativeBrief(_Model):
    """A structured creative brief: what to make, for whom, where, and under which rules."""

    product: str = Field(min_length=1, max_length=200, description="What is promoted.")
    objective: str = Field(default="", max_length=500, description="What the campaign should achieve.")
    audience: str = Field(default="", max_length=500, description="Who it speaks to.")
    key_messages: list[str] = Field(default_factory=list, max_length=10, description="Points to get across.")
    tone: list[str] = Field(default_factory=list, max_length=10, description="Voice words, e.g. 'playful'.")
    channels: list[str] = Field(min_length=1, description="Channel ids from the channel catalog.")
    unsupported_platforms: list[str] = Field(
        default_factory=list, max_length=30,
        description="Platforms the request named that the channel catalog has no channel for ('TikTok'): nothing "
        "is made for them, and the run says so.",
    )
    deliverables: list[Deliverable] = Field(
        default_factory=lambda: list(DELIVERABLES), min_length=1, description="Kinds of output wanted."
    )
    mandatory_elements: list[str] = Field(
        default_factory=list, max_length=20, description="Text that must appear verbatim, e.g. 'Contains oats'."
    )
    forbidden_terms: list[str] = Field(default_factory=list, max_length=50, description="Words never to use.")
    contacts: list[str] = Field(
        default_factory=list, max_length=20,
        description="Web addresses, email addresses and phone numbers the copy may carry ('northbound.coffee'); "
        "copy with any other is flagged, since models make them up.",
    )
    locale: str = Field(default=DEFAULT_LOCALE, max_length=35, description="BCP 47 language tag of the copy.")
    brand: BrandName = Field(default="default", description="Brand memory scope.")
    budget: str | None = Field(default=None, max_length=200, description="Media budget as the marketer said it.")
    limits: Budget = Field(default_factory=Budget, description="What generating this brief may spend.")

    @field_validator("channels")
    @classmethod
    def _known_channels(cls, value: list[str]) -> list[str]:
        allowed = channel_ids()
        unknown = [c for c in value if c not in allowed]
        if unknown:
            raise ValueError(f"unknown channel {unknown[0]!r}; allowed: {', '.join(allowed)}")
        if len(set(value)) != len(value):
            raise ValueError(f"channels repeat: {value}")
        return value


class Cited(_Model):
    """A value recalled from brand memory and where it came from (file, page, section)."""

    value: str = Field(min_length=1)
    source: str = Field(min_length=1, description="e.g. 'guidelines.pdf p.2 > Words > Never say'.")


class BrandSnippet(_Model):
    """A passage recalled from brand memory: a guideline chunk or an approved past example."""

    text: str
    source: str = Field(description="File, page and section; or 'approved: THREAD/ITEM' for past work.")
    score: float = Field(description="Ranking score, higher is better.")
    channel: str | None = Field(default=None, description="The channel of a past example.")


HEX_COLOUR = r"^#[0-9A-F]{6}$"


class KitItem(_Model):
    """One entry of a brand kit, with where it came from."""

    value: str = Field(min_length=1, max_length=300)
    source: str = Field(min_length=1, description="Guideline citation, or who edited it.")
    origin: Literal["rule", "model", "person"] = Field(
        description="rule: read by a pattern; model: proposed by the LLM; person: added or edited by a person."
    )


class StyleLora(_Model):
    """A brand's style LoRA: a diffusers LoRA file and how strongly it applies to the brand's AI imagery."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,47}$", description="Unique in the kit, e.g. 'house-style'.")
    path: Path = Field(description="The adapter file (diffusers LoRA .safetensors), e.g. from `brand train-lora`.")
    weight: float = Field(default=1.0, gt=0, le=2, description="1 applies it as trained; below 1 fainter.")


class BrandKit(_Model):
    """A brand's rules distilled from its guidelines; people can edit it (a YAML file per brand)."""

    brand: BrandName
    voice: list[KitItem] = Field(default_factory=list, description="Voice descriptors, e.g. 'warm'.")
    do_words: list[KitItem] = Field(default_factory=list, description="Words the brand likes to use.")
    dont_words: list[KitItem] = Field(default_factory=list, description="Words to avoid (a warning).")
    forbidden_terms: list[KitItem] = Field(default_factory=list, description="Words never to use (an error).")
    required_disclaimers: list[KitItem] = Field(default_factory=list, description="Text every copy must carry.")
    product_names: list[KitItem] = Field(default_factory=list, description="Product names, spelled right.")
    competitors: list[KitItem] = Field(default_factory=list, description="Competitor names copy must not use.")
    contacts: list[KitItem] = Field(
        default_factory=list, description="The brand's web addresses, email addresses and phone numbers copy may carry."
    )
    style_rules: list[KitItem] = Field(
        default_factory=list, description="House style rules in words, e.g. 'no exclamation marks', 'sentence case'."
    )
    palette: list[KitItem] = Field(default_factory=list, description="Brand colours as '#RRGGBB'.")
    fonts: list[KitItem] = Field(default_factory=list)
    logo_rules: list[KitItem] = Field(default_factory=list)
    suppressed: list[str] = Field(
        default_factory=list, description="Values a person removed; re-distilling never brings them back."
    )
    style_loras: list[StyleLora] = Field(
        default_factory=list, description="LoRA adapters every AI image of the brand is generated with."
    )

    @field_validator("palette")
    @classmethod
    def _hex_colours(cls, value: list[KitItem]) -> list[KitItem]:
        for item in value:
            if not re.match(HEX_COLOUR, item.value):
                raise ValueError(f"palette colour {item.value!r} is not '#RRGGBB' (upper-case hex)")
        return value

    @field_validator("style_loras")
    @classmethod
    def _unique_loras(cls, value: list[StyleLora]) -> list[StyleLora]:
        names = [lora.name for lora in value]
        if repeated := sorted({name for name in names if names.count(name) > 1}):
            raise ValueError(f"style LoRA name {repeated[0]!r} is used twice; each name must be unique")
        return value


#: The kit's list fields, in the order people read them.
KIT_FIELDS = (
    "voice", "do_words", "dont_words", "forbidden_terms", "required_disclaimers", "product_names", "competitors",
    "contacts", "style_rules", "palette", "fonts", "logo_rules",
)


class ReferenceImage(_Model):
    """An image in brand memory that new images must not copy: the brand's protected work or a competitor's."""

    source: str
    phash: str = Field(pattern=r"^[0-9a-f]{16}$", description="64-bit perceptual hash (imagehash.phash) as hex.")
    role: ImageRole


class BrandContext(_Model):
    """What brand memory recalled for a brief: voice, palette and rules, each with where it came from.

    Copy uses ``voice``, ``guidance`` and ``examples``; imagery ``palette``, ``fonts``, ``visual_rules`` and
    ``style_loras``; compliance ``forbidden_terms``, ``dont_words``, ``required_disclaimers``, ``product_names``,
    ``competitors``, ``contacts`` and ``style_rules``.
    """

    brand: str
    voice: list[str] = Field(default_factory=list, description="Voice descriptors, e.g. 'warm'.")
    palette: list[str] = Field(min_length=1, description="Brand colours as '#RRGGBB', most important first.")
    fonts: list[str] = Field(default_factory=list)
    logo: str | None = Field(default=None, description="The brand's logo image in memory (a file called *logo*).")
    forbidden_terms: list[Cited] = Field(default_factory=list)
    dont_words: list[Cited] = Field(default_factory=list)
    required_disclaimers: list[Cited] = Field(default_factory=list)
    product_names: list[Cited] = Field(default_factory=list)
    competitors: list[Cited] = Field(default_factory=list)
    contacts: list[Cited] = Field(default_factory=list, description="Contact details copy may carry, with the brief's.")
    style_rules: list[Cited] = Field(default_factory=list)
    guidance: list[BrandSnippet] = Field(default_factory=list, description="Guideline passages on voice.")
    visual_rules: list[BrandSnippet] = Field(default_factory=list, description="Guideline passages on visuals.")
    examples: list[BrandSnippet] = Field(default_factory=list, description="Approved past copy, best first.")
    citations: list[str] = Field(default_factory=list, description="Sources of what was recalled.")
    style_loras: list[StyleLora] = Field(
        default_factory=list, description="The brand kit's LoRA adapters, for ImageGenerator.use_loras."
    )
    references: list[ReferenceImage] = Field(
        default_factory=list, description="Protected and competitor images new images must not copy."
    )
    remembered: bool = Field(
        default=True, description="False: brand memory holds nothing for the brand (or is not installed), so this "
        "is the house defaults alone, and the first citation says why.",
    )

    def examples_for(self, channel: str) -> list[BrandSnippet]:
        """The approved past examples for one channel, best first."""
        return [example for example in self.examples if example.channel == channel]


class Subtask(_Model):
    """One unit of work the planner hands to an agent: copy or a visual for one channel."""

    id: str
    kind: Literal["copy", "visual"]
    channel: str
    variant: int = Field(default=1, ge=1)
    revision: int = Field(default=0, ge=0, description="0 for the first draft, +1 per rewrite.")
    feedback: str | None = Field(default=None, description="The reviewer's comment this rewrite answers.")


class CopyVariant(_Model):
    """Copy for one channel: every catalog field with its values (most fields hold one value)."""

    id: str
    channel: str
    variant: int = Field(default=1, ge=1)
    revision: int = Field(default=0, ge=0)
    fields: dict[str, list[str]]
    author: Literal["model", "human"] = "model"


class Composition(_Model):
    """How the compositor set copy on a picture: the crop, the font, the text colours and where things went."""

    crop: tuple[int, int, int, int] = Field(description="The box of the picture kept (left, top, right, bottom).")
    font: str = Field(description="The font file used, or Pillow's bundled font when no brand font is installed.")
    font_requested: list[str] = Field(default_factory=list, description="The brand kit's fonts, in order.")
    ink: str = Field(description="Headline colour as '#RRGGBB'.")
    panel: str | None = Field(default=None, description="Colour of the panel behind the headline, if one was needed.")
    contrast: float = Field(description="Lowest WCAG contrast between the headline and the pixels behind it.")
    text_boxes: list[tuple[int, int, int, int]] = Field(default_factory=list, description="Headline, then button.")
    logo_box: tuple[int, int, int, int] | None = None
    notes: list[str] = Field(default_factory=list, description="Compromises, e.g. ink outside the palette.")


class Provenance(_Model):
    """How a final image was stamped: its C2PA manifest, IPTC metadata, invisible watermark and visible label."""

    digital_source_type: str = Field(description="The IPTC digital source type, as a full URI.")
    signer: str = Field(description="The subject of the certificate that signed the C2PA manifest.")
    dev_ca: bool = Field(description="Signed with the local dev CA: valid, but trusted only where its root is.")
    actions: list[str] = Field(description="The C2PA actions, in order.")
    ingredient: str | None = Field(default=None, description="The picture it was made from, as a C2PA ingredient.")
    watermark: str = Field(description="'embedded', 'off', 'skipped: ...' or 'unreadable: ...'.")
    watermark_payload: str | None = Field(default=None, description="What the watermark carries, when embedded.")
    ai_label: str | None = Field(default=None, description="The visible label drawn on it, if any.")


class ImageAsset(_Model):
    """A channel image, stored content-addressed; ``renderer`` says how its picture was made."""

    id: str
    channel: str
    variant: int = Field(default=1, ge=1)
    revision: int = Field(default=0, ge=0)
    stage: Literal["preview", "final"]
    renderer: Literal["layout", "diffusers", "openai"] = Field(
        description="'layout': composed from palette and text, no AI imagery; 'diffusers' and 'openai': AI-generated."
    )
    label: str = Field(description="What the image is, in words a user sees everywhere it is shown.")
    path: str
    sha256: str
    width: int = Field(gt=0)
    height: int = Field(gt=0)
    headline: str
    cta: str = ""
    alt_text: str
    palette: list[str]
    seed: int
    source_id: str | None = Field(default=None, description="For a final: the preview it was rendered from.")
    prompt: str = Field(default="", description="The image prompt the art director wrote (a layout ignores it).")
    picture: str | None = Field(default=None, description="The picture before copy was set on it (content-addressed).")
    composition: Composition | None = None
    style_loras: list[StyleLora] = Field(default_factory=list, description="The brand adapters the picture used.")
    provenance: Provenance | None = Field(default=None, description="For a final: how it was stamped.")


class Finding(_Model):
    """One compliance finding on one item, with a stable rule id ``family.specific``."""

    rule_id: str = Field(pattern=r"^[a-z][a-z-]*\.[a-z0-9_-]+$")
    severity: Severity
    item_id: str
    field: str | None = None
    index: int | None = Field(default=None, description="Which value of a list field.")
    span: tuple[int, int] | None = Field(default=None, description="Character span in that value.")
    message: str
    suggestion: str | None = None
    source: str = Field(description="Where the rule comes from: the brief, a catalog limit, a guideline.")
    origin: Literal["rule", "model"] = Field(
        default="rule", description="rule: a deterministic check; model: the LLM reviewer's judgment."
    )


class ItemCheck(_Model):
    """What the checks found on one item, which guidelines they tested, and which checks could not run."""

    item_id: str
    findings: list[Finding] = Field(default_factory=list)
    tested: list[str] = Field(default_factory=list, description="Rule ids tested on the item, for the brand score.")
    not_checked: list[str] = Field(default_factory=list, description="Checks that could not run, and why.")


class ComplianceReport(_Model):
    """Every finding of a check run, with per-item and overall status."""

    findings: list[Finding] = Field(default_factory=list)
    checked: list[str] = Field(default_factory=list, description="Item ids that were checked.")
    tested: dict[str, list[str]] = Field(
        default_factory=dict, description="Item id -> the guidelines (rule ids) tested on it, for the brand score."
    )
    not_checked: dict[str, list[str]] = Field(
        default_factory=dict, description="Item id -> checks that could not run (e.g. no safety classifier)."
    )

    @classmethod
    def of(cls, checks: list[ItemCheck]) -> ComplianceReport:
        """One report over the checks of several items."""
        return cls(
            findings=[f for check in checks for f in check.findings], checked=[c.item_id for c in checks],
            tested={c.item_id: c.tested for c in checks},
            not_checked={c.item_id: c.not_checked for c in checks if c.not_checked},
        )

    def for_item(self, item_id: str) -> list[Finding]:
        """The findings on one item."""
        return [f for f in self.findings if f.item_id == item_id]

    def _tally(self, item_id: str) -> tuple[int, int]:
        """(guidelines passed, guidelines tested) on one item; a guideline fails with a warning or an error."""
        tested = set(self.tested.get(item_id, []))
        failed = {f.rule_id for f in self.for_item(item_id) if f.severity != "info"} & tested
        return len(tested) - len(failed), len(tested)

    def item_score(self, item_id: str) -> int:
        """Brand score of one item: guidelines passed over guidelines tested, in % (100 when none was tested)."""
        passed, tested = self._tally(item_id)
        return round(100 * passed / tested) if tested else 100

    @property
    def score(self) -> int:
        """Brand score of the bundle: guidelines passed over guidelines tested, across its items, in %."""
        tallies = [self._tally(item_id) for item_id in self.checked]
        tested = sum(t for _, t in tallies)
        return round(100 * sum(p for p, _ in tallies) / tested) if tested else 100

    def item_status(self, item_id: str) -> ItemStatus:
        """'blocked' with any error, 'review' with warnings, else 'approved'."""
        severities = {f.severity for f in self.for_item(item_id)}
        if "error" in severities:
            return "blocked"
        return "review" if "warning" in severities else "approved"

    @property
    def status(self) -> ItemStatus:
        """The worst item status of the report."""
        statuses = {self.item_status(item_id) for item_id in self.checked}
        for status in ("blocked", "review"):
            if status in statuses:
                return status
        return "approved"


class ReviewDecision(_Model):
    """A human's decision on one item at a review checkpoint."""

    item_id: str
    revision: int = Field(ge=0, description="The revision of the item that was decided on.")
    action: Literal["approve", "edit", "reject", "drop"]
    """approve; edit (approve the edited item); reject (rework it with the comment); drop (leave it out of the
    pack without reworking it, e.g. the image variants not picked)."""
    comment: str | None = Field(default=None, max_length=2000, description="Why, for a rejection or a drop.")
    edited: dict[str, Any] | None = Field(default=None, description="The item's new args, for an edit.")
    reviewer: str = Field(default="anonymous", min_length=1, max_length=200)
    role: str = Field(default="approver", min_length=1, max_length=50)
    at: datetime = Field(default_factory=_now)

    def to_hitl(self, action_name: str) -> dict[str, Any]:
        """This decision as a LangChain HITL decision (``approve`` / ``edit`` / ``reject``, and our ``drop``)."""
        if self.action == "approve":
            return {"type": "approve"}
        if self.action == "edit":
            return {"type": "edit", "edited_action": {"name": action_name, "args": self.edited or {}}}
        decision: dict[str, Any] = {"type": self.action}
        if self.comment:
            decision["message"] = self.comment
        return decision

    @classmethod
    def from_hitl(
        cls,
        decision: object,
        action_request: Mapping[str, Any],
        *,
        reviewer: str = "anonymous",
        role: str = "approver",
    ) -> ReviewDecision:
        """Read one HITL decision about ``action_request``; ``DecisionError`` when it is malformed (an edit is
        checked against the item it edits, so a bad one is refused before the graph sees it)."""
        item = action_request["args"]
        item_id = item["id"]
        if not isinstance(decision, Mapping):
            raise DecisionError(f"decision for {item_id!r} must be an object, got {type(decision).__name__}")
        kind = decision.get("type")
        fields: dict[str, Any]
        if kind == "approve":
            fields = {"action": "approve"}
        elif kind in ("reject", "drop"):
            message = decision.get("message")
            if message is not None and not isinstance(message, str):
                raise DecisionError(f"{kind} decision for {item_id!r}: 'message' must be text")
            fields = {"action": kind, "comment": message or None}
        elif kind == "edit":
            edited = decision.get("edited_action")
            if not isinstance(edited, Mapping) or not isinstance(edited.get("args"), Mapping):
                raise DecisionError(f"edit decision for {item_id!r} needs 'edited_action' with 'args'")
            _check_edit(action_request, dict(edited["args"]))
            fields = {"action": "edit", "edited": dict(edited["args"])}
        else:
            raise DecisionError(
                f"decision for {item_id!r} has type {kind!r}; allowed: approve, edit, reject, drop"
            )
        try:
            return cls(item_id=item_id, revision=item["revision"], reviewer=reviewer, role=role, **fields)
        except ValidationError as error:
            raise DecisionError(f"{kind} decision for {item_id!r}: {validation_message(error)}") from error


def _check_edit(action_request: Mapping[str, Any], edited: dict[str, Any]) -> None:
    """``DecisionError`` unless ``edited`` makes a valid new revision of the item ``action_request`` puts up."""
    item = action_request["args"]
    item_id = item["id"]
    if edited.get("id", item_id) != item_id:
        raise DecisionError(f"edit decision for {item_id!r} changes the item id; ids cannot be edited")
    model: type[CopyVariant] | type[ImageAsset]
    if action_request.get("name") == PUBLISH_IMAGE:
        if set(edited) - {"id", "alt_text"}:
            raise DecisionError(f"only alt_text can be edited on image {item_id!r}; reject it to get a new render")
        model = ImageAsset
    else:
        model = CopyVariant
    for name, value in edited.items():
        if name not in model.model_fields:
            allowed = ", ".join(model.model_fields)
            raise DecisionError(f"edit of {item_id!r}: unknown field {name!r}; allowed: {allowed}")
        try:  # one field at a time (on an empty instance: the request may carry only part of the item)
            model.__pydantic_validator__.validate_assignment(cast(Any, model).model_construct(), name, value)
        except ValidationError as error:
            raise DecisionError(f"edit of {item_id!r}: {validation_message(error)}") from error


class AuditEvent(_Model):
    """One line of the audit ledger: a model call, a render, a human decision, a provenance stamp or an export."""

    kind: Literal["model_call", "render", "clarification", "human_decision", "autofix", "provenance", "export",
                  "remember", "budget"]
    at: datetime = Field(default_factory=_now)
    node: str
    item_id: str | None = None
    revision: int | None = Field(default=None, description="The item revision the event is about.")
    # model calls
    provider: str | None = None
    model: str | None = None
    prompt_hash: str | None = None
    seed: int | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    input_image_tokens: int | None = Field(default=None, description="Of input_tokens, the images (image edits).")
    latency_ms: float | None = None
    gpu_seconds: float | None = Field(default=None, description="GPU time of a diffusers render on a GPU.")
    cost_usd: float | None = Field(
        default=None, description="What the call cost when it was made (see briefcraft/data/pricing.yaml); "
        "None for a call without a price row, and for events that are not calls."
    )
    # human decisions
    actor: str | None = None
    role: str | None = None
    decision: str | None = None
    comment: str | None = None
    # renders, provenance stamps and exports
    path: str | None = None
    sha256: str | None = Field(
        default=None, description="A file's SHA-256; for a human decision, that of the exact item decided on."
    )
    idempotency_key: str | None = Field(
        default=None, description="For calls and exports: the same key when a step is re-run after a crash, "
        "so a side effect recorded once is never recorded (or billed) twice."
    )
    attempts: int | None = Field(default=None, ge=1, description="For remote calls: attempts made (retries + 1).")


class LedgerEntry(_Model):
    """One line of a thread's audit ledger file: the event, chained to the entry before it."""

    seq: int = Field(ge=0)
    prev: str = Field(pattern=r"^[0-9a-f]{64}$", description="The hash of the entry before (zeros for the first).")
    hash: str = Field(pattern=r"^[0-9a-f]{64}$", description="SHA-256 over seq, prev and the event.")
    event: AuditEvent


class LedgerHead(_Model):
    """Where a ledger stands: how many entries it holds and the hash of the last one."""

    count: int = Field(ge=0)
    hash: str = Field(pattern=r"^[0-9a-f]{64}$")


def validation_message(error: ValidationError) -> str:
    """One line naming the first invalid field and why, from a pydantic ``ValidationError``."""
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "input"
    return f"{where}: {first['msg'].removeprefix('Value error, ')}"
