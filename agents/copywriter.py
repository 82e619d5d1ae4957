"""Copywriter: writes one channel's copy with the model, then guarantees what code can guarantee.

The model is asked for every catalog field through a schema that carries the limits; afterwards code
enforces them: characters a field does not take are removed, repeats in a field of distinct values dropped,
each value fits its character limit, hashtags stay within the channel's maximum, doubled punctuation ("!!") is
written once where the channel refuses it, and every mandatory element of the brief and the brand kit appears
verbatim (one the model left out as a sentence of its own at the end of the body). A template slot the model left
for the product ("[Product Name]") is filled with the brief's product; other unfilled template text is left to the
checks (``unfinished-copy.placeholder``). The prompt carries the brand's voice, its most relevant guideline passage
and its best approved example for the channel, from brand memory.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Annotated, Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage, SystemMessage
from pydantic import BaseModel, Field, create_model

from briefcraft.agents.llm import ModelCall, invoke_structured
from briefcraft.agents.prompts import COPY_CONTACTS, COPY_FEEDBACK, COPY_LANGUAGE, COPY_SYSTEM, COPY_USER
from briefcraft.channels import REPEATED_PUNCTUATION, Channel, CopyField, get_channel
from briefcraft.languages import DEFAULT_LOCALE, language_name
from briefcraft.schemas import AuditEvent, BrandContext, CopyVariant, CreativeBrief, Subtask
from briefcraft.tools.checks import (
    EMOJI,
    HASHTAG,
    contacts_given,
    element_pattern,
    ends_cut,
    forbidden_terms,
    mandatory_elements,
    term_pattern,
)

__all__ = ["copy_schema", "enforce_limits", "fill_product", "fit", "write_channel_copy"]

#: Longest value the model is asked to write; longer platform limits are ceilings, not targets.
_TARGET_CHARS = 180
#: Longest recalled passage put in the prompt (the local model has a 2k-token context).
SNIPPET_CHARS = 240
#: A template slot for the product ("[Product Name]", "{product}", "<your product>"): code knows what goes there.
_PRODUCT_SLOT = re.compile(
    r"[\[{<]{1,2}\s*(?:(?:the|your|our)\s+)?product(?:[\s_-]*name)?\s*[\]}>]{1,2}", re.IGNORECASE
)


def _decoded_chars(spec: CopyField) -> int:
    """The longest value of ``spec`` the model's schema lets it write."""
    return min(spec.max_chars, _TARGET_CHARS)


@cache
def copy_schema(channel: Channel, *, limits: bool = True) -> type[BaseModel]:
    """A pydantic model with one field per catalog field, its limits in the JSON schema (built once a channel).
    ``limits=False``: the same fields without their limits, to read a reply that broke them after a repair: code
    fits each value to its limit and the checks flag an empty value or a wrong number of values."""
    fields: dict[str, Any] = {}
    for spec in channel.fields:
        if spec.count == 0:
            continue  # optional small print: code fills it with mandatory elements when needed
        if not limits:
            fields[spec.name] = (str if spec.count == 1 else list[str], ...)
            continue
        text = Annotated[str, Field(min_length=2, max_length=_decoded_chars(spec))]
        if spec.count == 1:
            fields[spec.name] = (text, Field(description=f"at most {spec.max_chars} characters{_rules(spec)}"))
        else:
            fields[spec.name] = (
                list[text],
                Field(
                    min_length=spec.count, max_length=spec.count,
                    description=f"{spec.count} values, each at most {spec.max_chars} characters{_rules(spec)}",
                ),
            )
    return create_model(f"{channel.id.title().replace('_', '')}Copy" + ("" if limits else "Unchecked"), **fields)


def _rules(spec: CopyField) -> str:
    """A field's limits beyond length, as the model is told them: ", all different, only letters, ..."."""
    return (", all different" if spec.unique else "") + (f", only {spec.chars.describe()}" if spec.chars else "")


#: A sentence's end inside a value: cutting there keeps whole sentences.
_SENTENCE_END = re.compile(r"[.!?](?=\s)")


#: Prepositions a value cut to its limit does not end on: the cut came mid-phrase ("Cold brew for"). The checks do
#: not flag them, since copy may end on one ("something to look forward to").
_CUT_PREPOSITIONS = frozenset({"with", "without", "for", "of", "to", "from", "into", "onto", "as", "than"})
#: A value's last word that a full stop may follow: a plain word or number, not a hashtag, a link, an address or an
#: emoji, which a stop would change or crowd.
_PLAIN_LAST_WORD = re.compile(r"(?:^|\s)[^\W_]+(?:['’-][^\W_]+)*$")


def fit(text: str, limit: int) -> str:
    """``text`` cut so that it has at most ``limit`` characters: after its last whole sentence when that keeps at
    least half the limit, else at a word boundary, never on a preposition or a word the ``unfinished-copy.cut-phrase``
    check flags ("with a warm and" ends at "warm", "tune in to the" at "tune in")."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit + 1]
    if " " not in cut.strip():
        return text[:limit].rstrip(" ,;:-–—")
    head = cut.rsplit(" ", 1)[0][:limit]
    if ends := [m.end() for m in _SENTENCE_END.finditer(head) if m.end() >= limit / 2]:
        return head[: ends[-1]]
    return _end_phrase(head)


def _end_phrase(text: str) -> str:
    """``text`` without the words a cut leaves dangling at its end: prepositions, and what the
    ``unfinished-copy.cut-phrase`` check flags (at least one word stays)."""
    words = text.rstrip(" ,;:-–—").split(" ")
    while len(words) > 1 and (words[-1].lower() in _CUT_PREPOSITIONS or ends_cut(" ".join(words))):
        words.pop()
    return " ".join(words).rstrip(" ,;:-–—")


def _closed(text: str) -> str:
    """``text`` ending a sentence, so that what is added after it does not run on from it: the words a cut would
    leave dangling go ("order online with"), and a full stop follows a plain last word ("Free returns within 30
    days" -> "... 30 days.")."""
    text = _end_phrase(text) if text else text
    return f"{text}." if _PLAIN_LAST_WORD.search(text) else text


def _fitted(value: str, spec: CopyField) -> str:
    """``value`` fitted to its field's limit. A value as long as the model's decoding allows (the schema's limit) was
    most likely stopped there, mid-word ("a dedicated coffee conn") or mid-phrase ("Northbound Coffee is a premium
    brand of"): unless it ends a sentence, it is cut as the longer text it was going to be (its last word goes, and
    what that leaves dangling)."""
    value = " ".join(value.split())
    if not _decoded_chars(spec) - 1 <= len(value) <= _decoded_chars(spec) or value.endswith((".", "!", "?", "…")):
        return fit(value, spec.max_chars)  # shorter: the model ended it; longer: not from constrained decoding
    return fit(value + "…", len(value))


def fill_product(values: dict[str, list[str]], product: str) -> dict[str, list[str]]:
    """``values`` with every template slot for the product ("[Product Name]", "{product}") replaced by ``product``."""
    return {name: [_PRODUCT_SLOT.sub(lambda _: product, v) for v in vs] for name, vs in values.items()}


def _drop_extra(values: dict[str, list[str]], pattern: re.Pattern[str], allowed: int) -> dict[str, list[str]]:
    """Keep the first ``allowed`` matches of ``pattern`` (hashtags, emoji) across all fields; drop the rest."""
    seen = 0

    def keep(match: re.Match[str]) -> str:
        nonlocal seen
        seen += 1
        return match.group(0) if seen <= allowed else ""

    return {name: [" ".join(pattern.sub(keep, v).split()) for v in vs] for name, vs in values.items()}


def _distinct(spec: CopyField, values: list[str]) -> list[str]:
    """``values`` without the characters the field does not take (a value left with none is dropped), and, where
    the field's values must differ, without repeats (cleaning can make two values equal, so it comes first)."""
    cleaned = [c for v in values if (c := spec.chars.clean(v))] if spec.chars is not None else values
    repeated = {index for index, _ in spec.repeats(cleaned)}
    return [v for i, v in enumerate(cleaned) if i not in repeated]


def enforce_limits(channel: Channel, values: dict[str, list[str]], mandatory: list[str]) -> dict[str, list[str]]:
    """Remove characters a field does not take and repeated values, fit every value to its limit, cap hashtags and
    emoji, write punctuation once in a row where the channel asks, and add missing mandatory elements to the body
    field (one only in search keywords, Etsy tags, is missing: people do not read those)."""
    if channel.max_hashtags is not None:
        values = _drop_extra(values, HASHTAG, channel.max_hashtags)
    if channel.max_emoji is not None:
        values = _drop_extra(values, EMOJI, channel.max_emoji)
    if not channel.repeated_punctuation:
        values = {name: [REPEATED_PUNCTUATION.sub(r"\1", v) for v in vs] for name, vs in values.items()}
    fitted = {spec.name: [_fitted(v, spec) for v in _distinct(spec, values.get(spec.name, []))]
              for spec in channel.fields}
    body: CopyField = channel.body_field
    read = {name: vs for name, vs in fitted.items() if name not in channel.search_only_fields}  # not Etsy tags
    if all(element_pattern(element).search("\n".join(v for vs in read.values() for v in vs)) for element in mandatory):
        return fitted
    # Every element not carried by another field goes at the end of the body, all together, so that
    # trimming the body to make room can never cut one that was already there.
    others = "\n".join(v for name, vs in read.items() if name != body.name for v in vs)
    needed = [e for e in mandatory if not element_pattern(e).search(others)]
    current = fitted[body.name][0] if fitted[body.name] else ""
    for element in needed:  # written in another case, it goes too (with its full stop): it is added as given
        current = re.sub(rf"\s*(?:{term_pattern(element).pattern})[.!?]?", "", current, flags=re.IGNORECASE).strip()
    # each its own sentence, and the body's text ends one before them ("... on our website now. Free returns
    # within 30 days."): an element run on from the text reads as part of its sentence
    suffix = " ".join(_closed(element) for element in needed)
    room = body.max_chars - len(suffix) - 2  # a space, and the full stop that may close the body's text
    head = _closed(fit(current, room)) if room > 0 else ""
    fitted[body.name] = [f"{head} {suffix}".strip(), *fitted[body.name][1:]]
    return fitted


def _prompt(brief: CreativeBrief, brand: BrandContext, channel: Channel, previous: CopyVariant | None,
            feedback: str | None) -> str:
    fields = "; ".join(
        f"{spec.name} ({spec.count} x max {spec.max_chars} chars{_rules(spec)})" if spec.count > 1
        else f"{spec.name} (max {spec.max_chars} chars{_rules(spec)})"
        for spec in channel.fields
    )
    rejected = (
        COPY_FEEDBACK.format(previous=previous.fields, comment=feedback or "no comment")
        if previous is not None else ""
    )
    examples = brand.examples_for(channel.id)
    contacts = contacts_given(brief, brand)
    return COPY_USER.format(
        product=brief.product, objective=brief.objective or "-", audience=brief.audience or "-",
        key_messages="; ".join(brief.key_messages) or "-", tone=", ".join(brief.tone) or "-",
        voice=", ".join(brand.voice) or "-", channel=channel.name, fields=fields, feedback=rejected,
        contacts=COPY_CONTACTS.format(contacts=", ".join(contacts)) if contacts else "",
        language="" if brief.locale == DEFAULT_LOCALE else COPY_LANGUAGE.format(language=language_name(brief.locale)),
        forbidden=", ".join(term for term, *_ in forbidden_terms(brief, brand)) or "-",
        guideline=_snippet(brand.guidance[0].text) if brand.guidance else "-",
        example=_snippet(examples[0].text) if examples else "-",
    )


def _snippet(text: str) -> str:
    """A recalled passage cut to fit a small model's context, on one line."""
    return fit(" ".join(text.split()), SNIPPET_CHARS)


def write_channel_copy(
    model: BaseChatModel,
    subtask: Subtask,
    brief: CreativeBrief,
    brand: BrandContext,
    *,
    who: ModelCall,
    previous: CopyVariant | None = None,
) -> tuple[CopyVariant, list[AuditEvent]]:
    """Write (or, with ``previous`` and the subtask's feedback, rewrite) one copy variant."""
    channel = get_channel(subtask.channel)
    messages = [
        SystemMessage(COPY_SYSTEM), HumanMessage(_prompt(brief, brand, channel, previous, subtask.feedback))
    ]
    draft, audit = invoke_structured(
        model, copy_schema(channel), messages, who=who, node="write_copy", item_id=subtask.id,
        revision=subtask.revision, lenient=copy_schema(channel, limits=False),
    )
    raw = {name: [value] if isinstance(value, str) else list(value) for name, value in draft.model_dump().items()}
    copy = CopyVariant(
        id=subtask.id, channel=channel.id, variant=subtask.variant, revision=subtask.revision,
        fields=enforce_limits(
            channel, fill_product(raw, brief.product), [element for element, *_ in mandatory_elements(brief, brand)]
        ),
    )
    return copy, audit
