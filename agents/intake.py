"""Intake: the marketer's chat text becomes a ``CreativeBrief``.

The model reads product, objective, audience, key messages and tone. Code reads what must be exact:
channels (matched against the catalog), mandatory elements and forbidden terms (quoted in the brief).
"""

from __future__ import annotations

import re
from typing import Annotated

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage, SystemMessage
from pydantic import BaseModel, Field

from briefcraft.agents.llm import ModelCall, invoke_structured
from briefcraft.agents.prompts import CLARIFY_CHANNELS, CLARIFY_PRODUCT, INTAKE_SYSTEM, INTAKE_USER
from briefcraft.channels import channel_ids, detect_channels
from briefcraft.errors import BriefError
from briefcraft.schemas import AuditEvent, CreativeBrief
from briefcraft.tools.checks import placeholders

__all__ = [
    "TONE_WORDS", "BriefDraft", "IntakeResult", "check_request", "clarification_line", "clarifying_question",
    "read_brief", "read_product",
]

_Short = Annotated[str, Field(max_length=100)]
_Word = Annotated[str, Field(max_length=24)]
_QUOTE = r"""["'“‘«]([^"'”’»\n]{1,120})["'”’»]"""
# A trigger phrase, then one or more quoted strings joined by commas, "or", "and", "nor" or "/".
_LIST = rf"\s*:?\s*((?:{_QUOTE})(?:\s*(?:,|/|\bor\b|\band\b|\bnor\b)\s*(?:{_QUOTE}))*)"
_MANDATORY = re.compile(
    r"\b(?:must|always|should)\s+(?:say|include|mention|show|carry|state|read)s?" + _LIST, re.IGNORECASE
)
_FORBIDDEN = re.compile(
    r"\b(?:never|don'?t|do\s+not|must\s+not|mustn'?t|avoid|no)\s+(?:(?:say|use|mention|write)(?:ing)?)?" + _LIST,
    re.IGNORECASE,
)


# "launch our oat-milk cold brew to ...": the noun phrase after a possessive, up to a preposition.
_PRODUCT = re.compile(
    r"\b(?:our|my|the)\s+(?:new\s+)?((?:[\w'-]+\s+){0,5}?[\w'-]+?)"
    r"(?=\s+(?:to|on|for|in|at|with|via|across|through|into|among)\b|\s*[,.;:!?\n]|$)",
    re.IGNORECASE,
)
# "Product: Northbound Oat Cold Brew" on a line of its own, as a clarification answer is recorded.
_PRODUCT_LINE = re.compile(r"^\s*product\s*:\s*(.{1,120}?)\s*$", re.IGNORECASE | re.MULTILINE)
_KEY_MESSAGE = re.compile(r"\bkey messages?\s*:\s*([^\n.;]+)", re.IGNORECASE)
#: Tone words read from the brief by code; the model may add others that the brief states.
TONE_WORDS = (
    "playful", "premium", "bold", "warm", "friendly", "witty", "serious", "luxurious", "minimal", "energetic",
    "calm", "confident", "casual", "formal", "quirky", "sophisticated", "fun", "urgent", "inspiring", "honest",
)


class BriefDraft(BaseModel):
    """What the model reads from the chat text (the schema its decoding is constrained to)."""

    product: str = Field(max_length=60, description="What is promoted; empty if not stated.")
    objective: str = Field(default="", max_length=100)
    audience: str = Field(default="", max_length=80)
    key_messages: list[_Short] = Field(default_factory=list, max_length=3)
    tone: list[_Word] = Field(default_factory=list, max_length=4)


class IntakeResult(BaseModel):
    """A brief, or what is still missing for one, with the model calls it took."""

    brief: CreativeBrief | None
    missing: list[str]
    audit: list[AuditEvent]


def check_request(text: str, max_chars: int) -> str:
    """The brief text stripped; ``BriefError`` when it is empty or longer than ``max_chars``."""
    stripped = text.strip()
    if not stripped:
        raise BriefError("the brief is empty; describe the product, audience and channels")
    if len(stripped) > max_chars:
        raise BriefError(
            f"the brief is {len(stripped)} characters; the limit is {max_chars} (BRIEFCRAFT_MAX_BRIEF_CHARS)"
        )
    return stripped


def _quoted(pattern: re.Pattern[str], text: str) -> list[str]:
    """Every quoted string in the lists that follow ``pattern``'s trigger phrases, first seen first."""
    found = (
        quoted.strip()
        for match in pattern.finditer(text)
        for quoted in re.findall(_QUOTE, match.group(1))
    )
    return list(dict.fromkeys(q for q in found if q))


def read_product(draft: str, request: str) -> str:
    """A 'Product: ...' line of the request (the marketer's answer to the product question); else the model's
    product when the request says it verbatim and it is not a channel; else the noun phrase after 'our'/'the'
    in the request; else '' (and intake asks)."""
    if labelled := _PRODUCT_LINE.findall(request):
        return str(labelled[-1])
    if draft and draft.lower() in request.lower() and not detect_channels(draft):
        return draft
    for match in _PRODUCT.finditer(request):
        if not detect_channels(match.group(1)):
            return match.group(1)
    return ""


def _distinct(values: list[str]) -> list[str]:
    """Non-empty values, first spelling kept, repeats (ignoring case) dropped."""
    seen: dict[str, str] = {}
    for value in values:
        if value.strip():
            seen.setdefault(value.strip().lower(), value.strip())
    return list(seen.values())


def _stated(value: str, text: str) -> bool:
    """Whether the request mentions ``value``: one of its words (3+ letters) occurs in the text, and it is not
    template text a model filled in for want of an answer ("[the festival's target audience]")."""
    words = re.findall(r"\w{3,}", value.lower())
    return not placeholders(value) and any(re.search(rf"(?<!\w){re.escape(word)}", text.lower()) for word in words)


def clarification_line(missing: list[str], answer: str) -> str:
    """How the marketer's answer joins the request: an answer to the product question alone is the product."""
    return f"Product: {answer}" if missing == ["product"] else answer


def clarifying_question(missing: list[str]) -> str:
    """The question that asks the marketer for what is missing."""
    questions = []
    if "product" in missing:
        questions.append(CLARIFY_PRODUCT)
    if "channels" in missing:
        questions.append(CLARIFY_CHANNELS.format(channels=", ".join(channel_ids())))
    return " ".join(questions)


def read_brief(
    model: BaseChatModel, text: str, *, brand: str, who: ModelCall, max_chars: int
) -> IntakeResult:
    """Read a brief from ``text``; ``missing`` names the essentials (product, channels) it lacks."""
    request = check_request(text, max_chars)
    draft, audit = invoke_structured(
        model, BriefDraft,
        [SystemMessage(INTAKE_SYSTEM), HumanMessage(INTAKE_USER.format(request=request))],
        who=who, node="intake",
    )
    channels = detect_channels(request)
    product = read_product(draft.product.strip(), request)
    # A tiny model repeats itself and echoes the prompt: keep stated, distinct messages, the brief's own first.
    stated_messages = [m.strip() for m in _KEY_MESSAGE.findall(request)]
    model_messages = [m for m in draft.key_messages if _stated(m, request) and m not in INTAKE_USER]
    key_messages = _distinct([*stated_messages, *model_messages])[:3]
    tone_words = [w for w in TONE_WORDS if re.search(rf"\b{w}\b", request, re.IGNORECASE)]
    model_tone = [t.lower() for t in draft.tone if len(t.split()) == 1 and _stated(t, request)]
    tone = _distinct([*tone_words, *model_tone])[:4]
    missing = [name for name, value in (("product", product), ("channels", channels)) if not value]
    if missing:
        return IntakeResult(brief=None, missing=missing, audit=audit)
    brief = CreativeBrief(
        product=product,
        objective=draft.objective if _stated(draft.objective, request) else "",
        audience=draft.audience if _stated(draft.audience, request) and not detect_channels(draft.audience) else "",
        key_messages=key_messages,
        tone=tone,
        channels=channels,
        mandatory_elements=_quoted(_MANDATORY, request),
        forbidden_terms=_quoted(_FORBIDDEN, request),
        brand=brand,
    )
    return IntakeResult(brief=brief, missing=[], audit=audit)
