"""Compliance: every copy variant and preview checked against brand, claims, channel and accessibility rules.

Deterministic rules come first (``briefcraft.tools.checks`` for copy, ``briefcraft.tools.image_checks`` for
images): fast, explainable, the same every time. An optional LLM reviewer adds nuanced findings, marked as
model judgment (``origin="model"``, warnings only); a finding whose quote is not in the copy is dropped, so
the model cannot invent problems in text that is not there. Errors from the rules go back to the copywriter
once (``autofix_feedback``); what remains goes to the human reviewer.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage, SystemMessage
from PIL import Image
from pydantic import BaseModel, Field

from briefcraft.agents.llm import ModelCall, invoke_structured
from briefcraft.agents.prompts import REVIEW_SYSTEM, REVIEW_USER
from briefcraft.schemas import (
    AuditEvent,
    BrandContext,
    ComplianceReport,
    CopyVariant,
    CreativeBrief,
    Finding,
    ImageAsset,
    ItemCheck,
)
from briefcraft.settings import Settings
from briefcraft.tools.checks import CopyChecker
from briefcraft.tools.image_checks import SafetyChecker, check_image

__all__ = ["MODEL_FAMILIES", "autofix_feedback", "check_bundle", "review_with_model"]

#: The families the LLM reviewer may report in (the judgment calls rules make poorly).
MODEL_FAMILIES = (
    "unsubstantiated-claim", "health-claim", "financial-claim", "endorsement-disclosure", "inclusive-language",
)
_Family = Literal[
    "unsubstantiated-claim", "health-claim", "financial-claim", "endorsement-disclosure", "inclusive-language"
]


#: Rule families that apply to copy fields, not to the words set on an image.
_COPY_ONLY = ("channel-limit", "missing-disclosure")


class _Concern(BaseModel):
    family: _Family
    quote: str = Field(min_length=2, max_length=120, description="The exact words of the copy at issue.")
    problem: str = Field(min_length=2, max_length=200)
    fix: str = Field(default="", max_length=200)


class _Review(BaseModel):
    concerns: list[_Concern] = Field(default_factory=list, max_length=5)


def review_with_model(
    model: BaseChatModel, copy: CopyVariant, brand: BrandContext | None, *, who: ModelCall
) -> tuple[list[Finding], list[AuditEvent]]:
    """The LLM reviewer's findings on one copy variant (warnings, ``origin="model"``) and its audit events."""
    text = "\n".join(f"{name}: {value}" for name, values in copy.fields.items() for value in values)
    messages = [
        SystemMessage(REVIEW_SYSTEM),
        HumanMessage(REVIEW_USER.format(
            brand=brand.brand if brand else "-", voice=", ".join(brand.voice) if brand else "-", copy=text,
            families=", ".join(MODEL_FAMILIES),
        )),
    ]
    review, audit = invoke_structured(model, _Review, messages, who=who, node="check_compliance", item_id=copy.id)
    findings: list[Finding] = []
    for concern in review.concerns:
        located = _locate(copy, concern.quote)
        if located is None:
            continue  # not in the copy: the model described something that is not there
        field, index, start = located
        findings.append(Finding(
            rule_id=f"{concern.family}.model-judgment", severity="warning", item_id=copy.id, field=field,
            index=index, span=(start, start + len(concern.quote)), message=concern.problem,
            suggestion=concern.fix or None, source=f"model judgment ({who.provider}:{who.model})", origin="model",
        ))
    return findings, audit


def _locate(copy: CopyVariant, quote: str) -> tuple[str, int, int] | None:
    """Where ``quote`` is in the copy (field, value index, start), ignoring case."""
    needle = quote.casefold()
    for name, values in copy.fields.items():
        for index, value in enumerate(values):
            if (start := value.casefold().find(needle)) >= 0:
                return name, index, start
    return None


def check_bundle(
    copies: Sequence[CopyVariant],
    previews: Sequence[ImageAsset],
    brief: CreativeBrief,
    brand: BrandContext,
    settings: Settings,
    *,
    safety: SafetyChecker | None = None,
    model: BaseChatModel | None = None,
    who: ModelCall | None = None,
) -> tuple[ComplianceReport, list[AuditEvent]]:
    """Check every copy variant and preview; the LLM reviewer runs too when ``model`` and ``who`` are given."""
    checker = CopyChecker.for_brief(brief, brand)
    checks = [checker.check(copy) for copy in copies]
    audit: list[AuditEvent] = []
    if model is not None and who is not None:
        for check, copy in zip(checks, copies, strict=True):
            found, events = review_with_model(model, copy, brand, who=who)
            check.findings.extend(found)
            audit += events
    for preview in previews:
        with Image.open(Path(preview.path)) as image:
            pixels = check_image(
                preview, image.convert("RGB"), palette=brand.palette, references=brand.references,
                max_delta_e=settings.palette_max_delta_e, max_distance=settings.similarity_max_distance,
                safety=safety, safety_unchecked_blocks=settings.safety_unchecked_blocks,
            )
        words = _image_text_check(checker, preview)
        checks.append(pixels.model_copy(update={
            "findings": [*pixels.findings, *words.findings], "tested": [*pixels.tested, *words.tested],
        }))
    return ComplianceReport.of(checks), audit


def _image_text_check(checker: CopyChecker, image: ImageAsset) -> ItemCheck:
    """The copy rules on the words set on an image (claims, terms, names, style). Field limits and mandatory
    elements are the copy's business: the compositor fits the text, and disclaimers live in the body copy."""
    text = "\n".join(part for part in (image.headline, image.cta) if part)
    found = checker.check_text(text, channel=image.channel, item_id=image.id)
    kept = [f for f in found.findings if f.rule_id.split(".")[0] not in _COPY_ONLY]
    return found.model_copy(update={
        "findings": [f.model_copy(update={"field": "text in image"}) for f in kept],
        "tested": [rule for rule in found.tested if rule.split(".")[0] not in _COPY_ONLY],
    })


def autofix_feedback(findings: Sequence[Finding]) -> str:
    """What the copywriter is told to fix: each rule error, its message and the suggested fix."""
    return "Fix these compliance errors: " + "; ".join(
        f"{f.rule_id}: {f.message}" + (f" ({f.suggestion})" if f.suggestion else "")
        for f in findings if f.severity == "error" and f.origin == "rule"
    )
