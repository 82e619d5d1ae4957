"""Deterministic compliance checks on copy: rules compiled once per brief and brand, applied to many snippets.

Rule families (rule id ``family.specific``): ``channel-limit`` (the channel catalog), ``forbidden-term``,
``missing-disclosure`` and ``disclosure-wording`` (the brief's and the brand kit's terms), ``unsubstantiated-claim``,
``health-claim``, ``financial-claim``, ``environmental-claim``, ``endorsement-disclosure``, ``inclusive-language`` and
``unfinished-copy`` (lexicons in ``briefcraft/data/compliance_rules.yaml``, each citing the regulation or guideline
it follows), ``terminology`` (the brand's product names), ``style`` (the brand kit's style rules, where their
wording is understood) and ``contact-detail`` (web addresses, email addresses and phone numbers, as
``briefcraft.contacts`` finds them, that neither the brief nor the brand kit gives).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import cache
from importlib import resources
from typing import Any, TypeVar

import yaml

from briefcraft.channels import PLAIN, REPEATED_PUNCTUATION, Channel, CopyField, channel_ids, get_channel
from briefcraft.contacts import contact_details, contact_key
from briefcraft.errors import CheckError
from briefcraft.schemas import (
    BrandContext,
    Cited,
    CopyVariant,
    CreativeBrief,
    Finding,
    ItemCheck,
    Severity,
)
from briefcraft.spelling import slips

__all__ = [
    "EMOJI",
    "HASHTAG",
    "CopyChecker",
    "check_copy",
    "contacts_given",
    "element_pattern",
    "ends_cut",
    "forbidden_terms",
    "mandatory_elements",
    "placeholders",
    "term_pattern",
]

_Row = TypeVar("_Row", bound=tuple[str, ...])

HASHTAG = re.compile(r"(?<![\w#])#\w+")

# One emoji as people see it: a flag pair, a keycap, or a pictograph with its skin tone / presentation selector
# and any ZWJ-joined parts. Pictographs approximate Unicode's Emoji_Presentation set; symbols that are text by
# default (©, ®, ™, ☀, ❤, arrows) count only when U+FE0F asks for emoji presentation, so "Cold Brew™" has none.
_PICTOGRAPH = (
    "[\U0001f000-\U0001f02f\U0001f0a0-\U0001f0ff\U0001f18e\U0001f191-\U0001f19a\U0001f200-\U0001f2ff"
    "\U0001f300-\U0001f64f\U0001f680-\U0001f6ff\U0001f7e0-\U0001f7eb\U0001f900-\U0001f9ff\U0001fa70-\U0001faff"
    "\u231a\u231b\u23e9-\u23ec\u23f0\u23f3\u25fd\u25fe\u2614\u2615\u2648-\u2653\u267f\u2693\u26a1\u26aa\u26ab"
    "\u26bd\u26be\u26c4\u26c5\u26ce\u26d4\u26ea\u26f2\u26f3\u26f5\u26fa\u26fd\u2705\u270a\u270b\u2728\u274c"
    "\u274e\u2753-\u2755\u2757\u2795-\u2797\u27b0\u27bf\u2b1b\u2b1c\u2b50\u2b55]"
)
_TEXT_SYMBOL = (
    "[\u00a9\u00ae\u203c\u2049\u2122\u2139\u2194-\u21aa\u2300-\u23ff\u24c2\u25aa-\u27bf\u2934\u2935"
    "\u2b05-\u2b55\u3030\u303d\u3297\u3299]\ufe0f"
)
_GLYPH = f"(?:{_PICTOGRAPH}|{_TEXT_SYMBOL})[\U0001f3fb-\U0001f3ff\ufe0f]?"
EMOJI = re.compile(f"[\U0001f1e6-\U0001f1ff]{{2}}|[#*0-9]\ufe0f?\u20e3|{_GLYPH}(?:\u200d{_GLYPH})*")

_RULES_FILE = "data/compliance_rules.yaml"
_QUOTES = "\"'\u2018\u2019\u201c\u201d\u201e"
_QUOTE_CLASS = {"'": "['\u2018\u2019\u02bc]", '"': '["\u201c\u201d\u201e]'}
# Words never inflected inside a multi-word term ("best coffee in the world" must not grow "thing").
_FUNCTION_WORDS = frozenset({
    "the", "and", "for", "you", "your", "our", "with", "its", "not", "but", "all", "any", "off", "out", "are", "was",
    "can", "has", "had", "her", "his", "who", "how", "why",
})
_HEADLINE_FIELDS = frozenset({"headline", "headlines", "title", "subject"})
_CAPS = re.compile(r"(?<![\w#@'])[A-Z][A-Z'-]*[A-Z](?!\w)")
_WORD = re.compile(r"[^\W\d_][\w'-]*")
_SENTENCE = re.compile(r"[^.!?\n]+[.!?]*")
_RULE_SENTENCE = re.compile(r"(?<=[.;!?])\s+")
# How far before a match, within its sentence, a rule's `unless` looks ("Prices reduced by 20%": the subject
# precedes the match).
_UNLESS_BEFORE = 30
_SENTENCE_END = re.compile(r"[.!?]")
# Where a match can start: a word's first character, or punctuation. A cheap test that spares the regex engine
# trying every alternative inside words and at spaces (no pattern starts with whitespace). With _trie it took the
# benchmark batch (evals/bench_checks.py) from 0.87 s to 0.36 s.
_CANDIDATE = r"(?:(?<!\w)(?=\w)|(?=[^\w\s]))"
#: The shortest word of a product name checked for slips ("Northbund"): shorter ones have real neighbours one letter
#: away ("Oat", "Oak"; "Brew", "Brews").
_SLIP_LETTERS = 5
_LIMIT_IDS = (
    "channel-limit.max_chars", "channel-limit.missing_field", "channel-limit.too_many_values",
    "channel-limit.unknown_field",
)


# --- term patterns -----------------------------------------------------------------------------------------------


def _bounded(regex: str) -> str:
    """``regex`` as whole words: a match neither starts nor ends inside a word (edges that are not word
    characters, like the ``#`` of ``#1`` or a closing quote, need no boundary)."""
    return rf"(?:(?<!\w)|(?!\w))(?:{regex})(?:(?!\w)|(?<!\w))"


def _escape(text: str) -> str:
    """``re.escape`` where curly and straight quotes match each other."""
    return "".join(_QUOTE_CLASS.get(char) or re.escape(char) for char in text)


def _core(term: str) -> str:
    """``term`` without surrounding quotes and trailing punctuation: "'Contains oats.'" -> "Contains oats"."""
    core = term.strip().strip(_QUOTES).rstrip(".,;:!? ").strip(_QUOTES).strip()
    return core or term.strip()


def _inflections(word: str) -> list[str]:
    """Regular English inflections of ``word``, longest first: cheap -> cheaper, cheapest, cheaply; try -> tries,
    tried; stop -> stopped. Overgenerated non-words ("cheapped") are harmless: they never occur in copy."""
    base = word.lower()
    if len(base) < 3 or not base.isalpha() or base in _FUNCTION_WORDS:
        return [base]
    forms = {base, *(base + end for end in ("s", "es", "ed", "ing", "er", "ers", "est", "ly"))}
    if base.endswith("e"):
        forms |= {base + "d", base + "r", base + "rs", base + "st", base[:-1] + "ing"}
    if base.endswith("y") and base[-2] not in "aeiou":
        forms |= {base[:-1] + end for end in ("ies", "ied", "ier", "iers", "iest", "ily")}
    if base[-1] not in "aeiouwxy" and base[-2] in "aeiou":
        forms |= {base + base[-1] + end for end in ("ed", "ing", "er", "ers", "est")}
    return sorted(forms, key=lambda form: (-len(form), form))


def _trie(words: Sequence[str]) -> str:
    """A regex for exactly ``words``, factored by common prefixes: a mismatch fails at its first character instead
    of once per word (the inclusive-language lexicon has ~60 terms of ~15 forms each)."""
    tree: dict[str, Any] = {}
    for word in words:
        node = tree
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}

    def emit(node: dict[str, Any]) -> str:
        branches = [_escape(char) + emit(child) for char, child in sorted(node.items()) if char]
        if not branches:
            return ""
        if "" in node:
            return "(?:" + "|".join(branches) + ")?"
        return branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"

    return emit(tree)


def _term_regex(term: str, *, inflect: bool) -> str:
    """A forbidden term: words split on spaces or hyphens match runs of either; each word inflected if asked."""
    words = [word for word in re.split(r"[\s\-\u2010\u2011]+", _core(term)) if word]
    return r"[\s\-]+".join(_trie(_inflections(word)) if inflect else _escape(word) for word in words)


def _name_regex(name: str) -> str:
    """Any spelling of a product name that differs only in case, spaces or hyphens ("North-bound Coldbrew")."""
    words = [word for word in re.split(r"[\s\-]+", name.translate(PLAIN)) if word]
    return r"[\s\-]*".join(r"[\s\-]?".join(_escape(char) for char in word) for word in words)


def _slip_regex(name: str) -> str:
    """``name`` with one slip in one of its words of ``_SLIP_LETTERS`` or more letters, the others as written (any
    case); a pattern that never matches when no word is that long."""
    words = name.split()
    return "|".join(
        r"[\s\-]+".join(slips(word) if i == slipped else _escape(word) for i, word in enumerate(words))
        for slipped, long in enumerate(words) if len(long) >= _SLIP_LETTERS and long.isalpha()
    ) or "(?!)"


def term_pattern(term: str) -> re.Pattern[str]:
    """A case-insensitive whole-word pattern for ``term`` (spaces match any run of whitespace, curly and straight
    quotes match each other; quotes around ``term`` and its trailing punctuation are ignored)."""
    return re.compile(_bounded(r"\s+".join(_escape(word) for word in _core(term).split())), re.IGNORECASE)


def _element_regex(element: str) -> str:
    """``element`` as written, in case too except where a sentence changes it: its first letter in either case, or
    the whole element in capitals (case-sensitive even inside a case-insensitive pattern)."""
    words = _core(element).split()
    head, tail = words[0][0], words[0][1:]
    first = "[" + "".join(dict.fromkeys(re.escape(c) for c in (head, head.swapcase()) if len(c) == 1)) + "]"
    written = first + _escape(tail) + "".join(r"\s+" + _escape(word) for word in words[1:])
    capitals = r"\s+".join(_escape(word.upper()) for word in words)
    return f"(?-i:{written}|{capitals})"


def element_pattern(element: str) -> re.Pattern[str]:
    """A whole-word pattern for a mandatory element, matched as ``term_pattern`` matches a term but in the case the
    element is written, except that its first letter may change case (it can start a sentence or continue one) and
    the whole element may be in capitals: "Contains oats" is in "... contains oats." and "CONTAINS OATS", and
    "Nur für Neukunden" is not in "Nur für neukunden" (a legal line is copied as given)."""
    return re.compile(_bounded(_element_regex(element)))


# --- the brief's and the brand's terms ---------------------------------------------------------------------------


def _forbidden_rows(forbidden: Sequence[str], brand: BrandContext | None) -> list[tuple[str, str, Severity, str]]:
    rows: list[tuple[str, str, Severity, str]] = [
        (term, "forbidden-term.brief", "error", "brief: forbidden terms") for term in forbidden
    ]
    if brand is not None:
        rows += [(c.value, "forbidden-term.brand", "error", c.source) for c in brand.forbidden_terms]
        rows += [(c.value, "forbidden-term.brand-avoid", "warning", c.source) for c in brand.dont_words]
        rows += [(c.value, "forbidden-term.competitor", "error", c.source) for c in brand.competitors]
    return _first_per_term([row for row in rows if row[0].strip()])


def _mandatory_rows(mandatory: Sequence[str], brand: BrandContext | None) -> list[tuple[str, str, str]]:
    rows = [(element, "missing-disclosure.brief", "brief: mandatory elements") for element in mandatory]
    if brand is not None:
        rows += [(c.value, "missing-disclosure.brand", c.source) for c in brand.required_disclaimers]
    return _first_per_term([row for row in rows if row[0].strip()])


def _wording_rule(rule_id: str) -> str:
    """The warning for a mandatory element written in another case than given ("t&cs apply" for "T&Cs apply"):
    ``missing-disclosure.brief`` -> ``disclosure-wording.brief``."""
    return "disclosure-wording." + rule_id.partition(".")[2]


def forbidden_terms(brief: CreativeBrief, brand: BrandContext | None) -> list[tuple[str, str, Severity, str]]:
    """``(term, rule id, severity, source)`` for every term to keep out of copy: the brief's, then the brand's
    (forbidden, words to avoid, competitor names)."""
    return _forbidden_rows(brief.forbidden_terms, brand)


def mandatory_elements(brief: CreativeBrief, brand: BrandContext | None) -> list[tuple[str, str, str]]:
    """``(element, rule id, source)`` for every element copy must carry: the brief's, then the brand's."""
    return _mandatory_rows(brief.mandatory_elements, brand)


def contacts_given(brief: CreativeBrief, brand: BrandContext | None) -> list[str]:
    """The contact details copy may carry: the brief's, then the brand kit's, each once."""
    return list(dict.fromkeys([*brief.contacts, *(c.value for c in brand.contacts)] if brand else brief.contacts))


def _first_per_term(rows: list[_Row]) -> list[_Row]:
    """Drop rows whose term (first value) came earlier, ignoring case: the brief's rule wins over the brand's."""
    seen: set[str] = set()
    kept: list[_Row] = []
    for row in rows:
        if row[0].casefold() not in seen:
            seen.add(row[0].casefold())
            kept.append(row)
    return kept


def _alternation(regexes: Sequence[str]) -> re.Pattern[str] | None:
    """One case-insensitive pattern whose group ``i + 1`` is ``regexes[i]`` as whole words (None for none)."""
    if not regexes:
        return None
    return re.compile(_CANDIDATE + "(?:" + "|".join(f"({_bounded(regex)})" for regex in regexes) + ")", re.IGNORECASE)


def _branch(match: re.Match[str]) -> int:
    """The index of the alternative that matched, in a pattern with one capturing group per alternative."""
    assert match.lastindex is not None, match.re.pattern
    return match.lastindex - 1


# --- the lexicons ------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Rule:
    rule_id: str
    severity: Severity
    source: str
    message: str
    suggestion: str | None
    needs: str | None  # "source" | "disclosure": the piece carrying one clears the finding
    once: bool
    unless: re.Pattern[str] | None


@dataclass(frozen=True, slots=True)
class _Family:
    name: str
    pattern: re.Pattern[str]
    rules: tuple[_Rule, ...]  # rules[i] is group i + 1 of pattern
    yields_to: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _Directive:
    kind: str
    pattern: re.Pattern[str]
    limit: int | None


@dataclass(frozen=True, slots=True)
class _Lexicon:
    families: tuple[_Family, ...]
    sources: re.Pattern[str]
    disclosures: re.Pattern[str]
    acronyms: frozenset[str]
    numbers: dict[str, int]
    directives: tuple[_Directive, ...]


def _group_free(pattern: str, where: str) -> str:
    """``pattern`` once it compiles without capturing groups (they would shift the family's rule groups)."""
    try:
        groups = re.compile(pattern).groups
    except re.error as error:
        raise CheckError(f"{_RULES_FILE}: {where}: pattern {pattern!r} does not compile: {error}") from error
    if groups:
        raise CheckError(f"{_RULES_FILE}: {where}: pattern {pattern!r} has a capturing group; use (?:...)")
    return pattern


def _family(name: str, spec: dict[str, Any]) -> _Family:
    regexes: list[str] = []
    rules: list[_Rule] = []
    for entry in spec["rules"]:
        rule = _Rule(
            rule_id=entry["id"], severity=entry.get("severity", spec["severity"]), source=entry["source"],
            message=entry["message"],
            suggestion=entry.get("suggestion"), needs=entry.get("needs"), once=entry.get("once", False),
            unless=re.compile(entry["unless"], re.IGNORECASE) if "unless" in entry else None,
        )
        if patterns := entry.get("patterns"):
            regexes.append("|".join(_group_free(pattern, rule.rule_id) for pattern in patterns))
            rules.append(rule)
        for term, alternatives in entry.get("entries", {}).items():
            regexes.append(_term_regex(term, inflect=True))
            rules.append(replace(rule, suggestion=f"say {alternatives} instead of '{{text}}'"))
    pattern = _alternation(regexes)
    if pattern is None:
        raise CheckError(f"{_RULES_FILE}: family {name!r} has no patterns or entries")
    return _Family(name=name, pattern=pattern, rules=tuple(rules), yields_to=tuple(spec.get("yields_to", ())))


@cache
def _lexicon() -> _Lexicon:
    """The packaged lexicons, compiled (once per process)."""
    raw = yaml.safe_load(resources.files("briefcraft").joinpath(_RULES_FILE).read_text(encoding="utf-8"))
    directives = tuple(
        _Directive(kind=spec["kind"], pattern=re.compile(pattern, re.IGNORECASE), limit=spec.get("max"))
        for spec in raw["style"]["directives"] for pattern in spec["patterns"]
    )
    return _Lexicon(
        families=tuple(_family(name, spec) for name, spec in raw["families"].items()),
        sources=re.compile("|".join(raw["sources"]), re.IGNORECASE),
        disclosures=re.compile("|".join(raw["disclosures"]), re.IGNORECASE),
        acronyms=frozenset(raw["acronyms"]),
        numbers={str(word): int(number) for word, number in raw["style"]["numbers"].items()},
        directives=directives,
    )


def _rule_matches(text: str, rule_id: str) -> list[str]:
    """What the lexicon rule ``rule_id`` matches in ``text``."""
    family_name = rule_id.partition(".")[0]
    return [
        match.group(0)
        for family in _lexicon().families if family.name == family_name
        for match in family.pattern.finditer(text.translate(PLAIN))
        if family.rules[_branch(match)].rule_id == rule_id
    ]


def placeholders(text: str) -> list[str]:
    """Template text left unfilled in ``text`` ("[Brand Name]", "{product}", "Lorem ipsum", "XX%"), as the
    ``unfinished-copy.placeholder`` rule finds it."""
    return _rule_matches(text, "unfinished-copy.placeholder")


def ends_cut(text: str) -> bool:
    """Whether ``text`` ends on a word that leaves its phrase unfinished ("with a warm and"), as the
    ``unfinished-copy.cut-phrase`` rule finds it."""
    return bool(_rule_matches(text, "unfinished-copy.cut-phrase"))


def _lexicon_ids() -> list[str]:
    """Every rule id the lexicons test, in file order."""
    return list(dict.fromkeys(rule.rule_id for family in _lexicon().families for rule in family.rules))


#: How findings name each kind of contact detail.
_CONTACT_KINDS = {"email": ("an", "email address"), "link": ("a", "web address"), "phone": ("a", "phone number")}


# --- channel limits ----------------------------------------------------------------------------------------------

_Value = tuple[str, int, str]  # (field, index, plain text)


def _channel(channel_id: str) -> Channel:
    try:
        return get_channel(channel_id)
    except KeyError:
        raise CheckError(f"unknown channel {channel_id!r}; allowed: {', '.join(channel_ids())}") from None


def _field(channel: Channel, name: str) -> CopyField:
    try:
        return channel.field(name)
    except KeyError:
        raise CheckError(
            f"channel {channel.id!r} has no field {name!r}; allowed: {', '.join(f.name for f in channel.fields)}"
        ) from None


def _occurrences(values: Sequence[_Value], pattern: re.Pattern[str]) -> list[tuple[str, int, tuple[int, int]]]:
    return [(name, index, match.span()) for name, index, text in values for match in pattern.finditer(text)]


def _too_long(item_id: str, spec: CopyField, index: int, value: str, source: str) -> Finding | None:
    if len(value) <= spec.max_chars:
        return None
    return Finding(
        rule_id="channel-limit.max_chars", severity="error", item_id=item_id, field=spec.name, index=index,
        span=(spec.max_chars, len(value)), message=f"{spec.name} is {len(value)} characters; the limit is "
        f"{spec.max_chars}", suggestion=f"shorten by {len(value) - spec.max_chars} characters", source=source,
    )


def _refused_characters(item_id: str, channel: Channel, spec: CopyField, index: int, value: str,
                        source: str) -> Finding | None:
    """A value with characters its field does not take (``CopyField.chars``), pointing at the first one."""
    if spec.chars is None or not (refused := spec.chars.refused(value)):
        return None
    chars = list(dict.fromkeys(value[i] for i in refused))  # a once character is refused only when repeated
    shown = ", ".join(f"{c!r} more than once" if c in spec.chars.once else repr(c) for c in chars)
    fix = ", ".join(f"the repeated {c!r}" if c in spec.chars.once else repr(c) for c in chars)
    return Finding(
        rule_id="channel-limit.characters", severity="error", item_id=item_id, field=spec.name, index=index,
        span=(refused[0], refused[0] + 1), message=f"{spec.name} has {shown}; {channel.name} takes "
        f"{spec.chars.describe()} in {spec.name}", suggestion=f"remove {fix}", source=source,
    )


def _repeated_values(item_id: str, channel: Channel, spec: CopyField, given: list[str], source: str) -> list[Finding]:
    """Each value of a field of distinct values that repeats an earlier one (``CopyField.unique``)."""
    return [
        Finding(
            rule_id="channel-limit.duplicate_value", severity="error", item_id=item_id, field=spec.name, index=index,
            message=f"{spec.name} value {index + 1} repeats value {earlier + 1} ({given[index]!r}); {channel.name} "
            f"needs distinct {spec.name}", suggestion="write a different one, or remove it", source=source,
        )
        for index, earlier in spec.repeats(given)
    ]


def _field_rule_ids(channel: Channel, specs: Sequence[CopyField]) -> list[str]:
    """The rule ids of the limits on ``specs`` beyond length and count: characters, distinct values, and the
    channel's hashtag and emoji maximums and its rule on repeated punctuation."""
    return [
        *(["channel-limit.characters"] if any(s.chars is not None for s in specs) else []),
        *(["channel-limit.duplicate_value"] if any(s.unique for s in specs) else []),
        *(["channel-limit.hashtags"] if channel.max_hashtags is not None else []),
        *(["channel-limit.emoji"] if channel.max_emoji is not None else []),
        *(["channel-limit.repeated_punctuation"] if not channel.repeated_punctuation else []),
    ]


def _repeated_punctuation(item_id: str, channel: Channel, values: Sequence[_Value], source: str) -> list[Finding]:
    """Each value with a punctuation mark or symbol repeated back to back, where the channel refuses that."""
    if channel.repeated_punctuation:
        return []
    return [
        Finding(
            rule_id="channel-limit.repeated_punctuation", severity="error", item_id=item_id, field=name, index=index,
            span=match.span(), message=f"{name} repeats {match.group(1)!r} ({match.group(0)!r}); {channel.name} "
            "takes a punctuation mark or symbol once in a row", suggestion=f"write {match.group(1)!r} once",
            source=source,
        )
        for name, index, text in values if (match := REPEATED_PUNCTUATION.search(text))
    ]


def _count_findings(item_id: str, channel: Channel, values: Sequence[_Value], source: str) -> list[Finding]:
    """Hashtags and emoji over the channel's maximum across the piece, pointing at the first one too many."""
    findings: list[Finding] = []
    for what, pattern, limit in (("hashtags", HASHTAG, channel.max_hashtags), ("emoji", EMOJI, channel.max_emoji)):
        if limit is None:
            continue
        found = _occurrences(values, pattern)
        if len(found) > limit:
            name, index, span = found[limit]
            findings.append(Finding(
                rule_id=f"channel-limit.{what}", severity="error", item_id=item_id, field=name, index=index,
                span=span, message=f"{len(found)} {what}; {channel.name} allows {limit}",
                suggestion=f"remove {len(found) - limit} {what}", source=source,
            ))
    return findings


def _limit_findings(copy: CopyVariant, channel: Channel, values: Sequence[_Value]) -> list[Finding]:
    source = f"channel catalog: {channel.name}"
    findings: list[Finding] = []
    for spec in channel.fields:
        given = copy.fields.get(spec.name, [])
        if len(given) < spec.least or any(not v.strip() for v in given):
            findings.append(Finding(
                rule_id="channel-limit.missing_field", severity="error", item_id=copy.id, field=spec.name,
                message=f"{spec.name} needs {spec.least} non-empty value(s), has "
                f"{sum(1 for v in given if v.strip())}",
                source=source,
            ))
        if len(given) > spec.max_count:
            findings.append(Finding(
                rule_id="channel-limit.too_many_values", severity="error", item_id=copy.id, field=spec.name,
                message=f"{spec.name} has {len(given)} values; {channel.name} allows {spec.max_count}",
                suggestion=f"keep the best {spec.max_count}", source=source,
            ))
        findings += [f for i, v in enumerate(given) if (f := _too_long(copy.id, spec, i, v, source)) is not None]
        findings += [
            f for i, v in enumerate(given) if (f := _refused_characters(copy.id, channel, spec, i, v, source))
        ]
        findings += _repeated_values(copy.id, channel, spec, given, source)
    known = {spec.name for spec in channel.fields}
    findings += [
        Finding(
            rule_id="channel-limit.unknown_field", severity="error", item_id=copy.id, field=name,
            message=f"{channel.name} has no field {name!r}; allowed: {', '.join(s.name for s in channel.fields)}",
            source=source,
        )
        for name in sorted(set(copy.fields) - known)
    ]
    return findings + _count_findings(copy.id, channel, values, source) + _repeated_punctuation(
        copy.id, channel, values, source
    )


# --- style rules -------------------------------------------------------------------------------------------------

# Count-limited style kinds: what is counted, and its name in messages.
_COUNTED: dict[str, tuple[re.Pattern[str], str]] = {
    "exclamation": (re.compile("!"), "exclamation marks"),
    "emoji": (EMOJI, "emoji"),
    "hashtags": (HASHTAG, "hashtags"),
}


def _style_limits(rules: Sequence[Cited]) -> tuple[dict[str, tuple[int | None, str]], list[str]]:
    """Style kind -> (limit, source) for the rules understood (the strictest wins), and the not-understood notes.

    A rule is read sentence by sentence; a sentence that matches no known phrasing is reported, never passed.
    """
    lexicon = _lexicon()
    limits: dict[str, tuple[int | None, str]] = {}
    notes: list[str] = []
    for rule in rules:
        for sentence in filter(None, (s.strip() for s in _RULE_SENTENCE.split(rule.value.translate(PLAIN)))):
            understood = False
            for directive in lexicon.directives:
                match = directive.pattern.search(sentence)
                if match is None:
                    continue
                understood = True
                limit = directive.limit
                if number := match.groupdict().get("n"):
                    limit = int(number) if number.isdigit() else lexicon.numbers[number.lower()]
                    limit -= 1 if match.groupdict().get("under") else 0
                old = limits.get(directive.kind)
                if old is None or (limit is not None and old[0] is not None and limit < old[0]):
                    limits[directive.kind] = (limit, rule.source)
            if not understood:
                notes.append(f"style: '{sentence}' not understood")
    return limits, notes


def _sentence_case(text: str, protected: frozenset[str]) -> tuple[tuple[int, int], str] | None:
    """(span, sentence-cased text) when ``text`` is in Title Case: at least two words capitalised mid-sentence,
    and no fewer than those in lower case. Sentence starts, all-caps words and ``protected`` names are skipped."""
    capitalised: list[tuple[int, int]] = []
    lower = 0
    for match in _WORD.finditer(text):
        word, before = match.group(0), text[:match.start()].rstrip(" \t\"'(")
        if not before or before[-1] in ".!?:\n" or word in protected or word.isupper():
            continue
        if word[0].isupper():
            capitalised.append(match.span())
        else:
            lower += 1
    if len(capitalised) < 2 or len(capitalised) < lower:
        return None
    fixed = list(text)
    for start, _ in capitalised:
        fixed[start] = fixed[start].lower()
    return (capitalised[0][0], capitalised[-1][1]), "".join(fixed)


# --- the checker -------------------------------------------------------------------------------------------------


class CopyChecker:
    """Copy rules compiled once (patterns for the brief's and brand's terms), applied to many snippets."""

    def __init__(self, *, brand: BrandContext | None = None, mandatory: Sequence[str] = (),
                 forbidden: Sequence[str] = (), contacts: Sequence[str] | None = None) -> None:
        """``contacts``: the web addresses, email addresses and phone numbers copy may carry (the brief's; the brand
        kit's are added); any other is an error. None (copy checked without a brief) leaves them unchecked."""
        kit = [c.value for c in brand.contacts] if brand else []
        self._contacts = None if contacts is None else (
            {(kind, contact_key(kind, text))
             for given in [*contacts, *kit] for kind, text, _ in contact_details(given)},
            f"brief: contact details ({', '.join(contacts) or 'none given'})"
            + (f"; brand kit: contacts ({', '.join(kit)})" if kit else ""),
            "neither the brief nor the brand kit gives" if kit else "the brief does not give",
        )
        self._forbidden_rows = _forbidden_rows(forbidden, brand)
        self._forbidden = _alternation([
            _term_regex(term, inflect=rule_id != "forbidden-term.competitor")
            for term, rule_id, _, _ in self._forbidden_rows
        ])
        self._mandatory_rows = _mandatory_rows(mandatory, brand)
        self._mandatory = _alternation([term_pattern(element).pattern for element, _, _ in self._mandatory_rows])
        self._as_written = [element_pattern(element) for element, _, _ in self._mandatory_rows]
        # Product names: canonical spelling (whitespace runs collapsed) and citation. Hashtags (#NorthboundColdBrew)
        # are not spellings of the name.
        products = brand.product_names if brand else []
        self._names = [(" ".join(c.value.translate(PLAIN).split()), c.source) for c in products]
        # (any case or spacing, one slip), each with a group per name
        self._name_patterns = tuple(
            re.compile("|".join(f"(?<![#@\\w])({regex(name)})(?!\\w)" for name, _ in self._names), re.IGNORECASE)
            for regex in (_name_regex, _slip_regex)
        ) if self._names else None
        self._style, self._not_understood = _style_limits(brand.style_rules if brand else [])
        names = [brand.brand, *(c.value for c in [*brand.product_names, *brand.competitors])] if brand else []
        words = {word for name in names for word in re.split(r"[\s\-]+", name.translate(PLAIN)) if word}
        self._protected = frozenset(words | {word.capitalize() for word in words})
        self._content_ids = [
            *dict.fromkeys(rule_id for _, rule_id, _, _ in self._forbidden_rows),
            *dict.fromkeys(rule_id for _, rule_id, _ in self._mandatory_rows),
            *dict.fromkeys(_wording_rule(rule_id) for _, rule_id, _ in self._mandatory_rows),
            *_lexicon_ids(),
            *(["terminology.product-name"] if self._names else []),
            *(f"style.{kind}" for kind in self._style),
            *([f"contact-detail.{kind}" for kind in _CONTACT_KINDS] if contacts is not None else []),
        ]

    @classmethod
    def for_brief(cls, brief: CreativeBrief, brand: BrandContext | None = None) -> CopyChecker:
        """The checker for a brief's terms plus, when given, the brand kit's terms, names and style rules."""
        return cls(brand=brand, mandatory=brief.mandatory_elements, forbidden=brief.forbidden_terms,
                   contacts=brief.contacts)

    def check(self, copy: CopyVariant) -> ItemCheck:
        """Every deterministic finding on one copy variant, incl. missing and unknown fields."""
        channel = _channel(copy.channel)
        values = [(name, i, v.translate(PLAIN)) for name, given in copy.fields.items() for i, v in enumerate(given)]
        limit_ids = [*_LIMIT_IDS, *_field_rule_ids(channel, channel.fields)]
        return ItemCheck(
            item_id=copy.id,
            findings=_limit_findings(copy, channel, values)
            + self._content(copy.id, values, channel.body_field.name, unread=channel.search_only_fields),
            tested=limit_ids + self._content_ids, not_checked=list(self._not_understood),
        )

    def check_text(self, text: str, *, channel: str, field: str | None = None, item_id: str = "text") -> ItemCheck:
        """One snippet as the value of `field` (default: the channel's body field); only that field's limits apply;
        mandatory elements must be in the text. Unknown channel/field -> CheckError naming the allowed ones."""
        spec_channel = _channel(channel)
        spec = spec_channel.body_field if field is None else _field(spec_channel, field)
        source = f"channel catalog: {spec_channel.name}"
        values = [(spec.name, 0, text.translate(PLAIN))]
        findings = [
            f for f in [_too_long(item_id, spec, 0, text, source),
                        _refused_characters(item_id, spec_channel, spec, 0, text, source)] if f is not None
        ]
        if spec.count and not text.strip():
            findings.append(Finding(
                rule_id="channel-limit.missing_field", severity="error", item_id=item_id, field=spec.name,
                message=f"{spec.name} is empty", source=source,
            ))
        limit_ids = [
            "channel-limit.max_chars", *(["channel-limit.missing_field"] if spec.count else []),
            *(r for r in _field_rule_ids(spec_channel, [spec]) if r != "channel-limit.duplicate_value"),
        ]
        return ItemCheck(
            item_id=item_id,
            findings=findings + _count_findings(item_id, spec_channel, values, source)
            + _repeated_punctuation(item_id, spec_channel, values, source) + self._content(item_id, values, spec.name),
            tested=limit_ids + self._content_ids, not_checked=list(self._not_understood),
        )

    # --- rules on the words of one piece (a variant, or one snippet) -----------------------------------------

    def _content(self, item_id: str, values: list[_Value], body: str, unread: frozenset[str] = frozenset()
                 ) -> list[Finding]:
        findings = self._term_findings(item_id, values, body, unread)
        findings += _lexicon_findings(item_id, values)
        findings += self._name_findings(item_id, values)
        return findings + self._style_findings(item_id, values) + self._contact_findings(item_id, values)

    def _contact_findings(self, item_id: str, values: list[_Value]) -> list[Finding]:
        """Contact details neither the brief nor the brand kit gives: a model makes them up, and they send customers
        elsewhere."""
        if self._contacts is None:
            return []
        given, source, where = self._contacts
        return [
            Finding(rule_id=f"contact-detail.{kind}", severity="error", item_id=item_id, field=field, index=index,
                    span=span, message=f"{text!r} is {' '.join(_CONTACT_KINDS[kind])} {where}",
                    suggestion=f"remove {text!r}, or add the real {_CONTACT_KINDS[kind][1]} to the brief",
                    source=source)
            for field, index, value in values for kind, text, span in contact_details(value)
            if (kind, contact_key(kind, text)) not in given
        ]

    def _term_findings(self, item_id: str, values: list[_Value], body: str, unread: frozenset[str]) -> list[Finding]:
        """Forbidden terms in any value; mandatory elements missing from the values people read (``unread``: search
        keywords such as Etsy tags, which carry none)."""
        findings: list[Finding] = []
        if self._forbidden is not None:
            for name, index, text in values:
                for match in self._forbidden.finditer(text):
                    term, rule_id, severity, source = self._forbidden_rows[_branch(match)]
                    findings.append(_forbidden_finding(item_id, name, index, match, term, rule_id, severity, source))
        if self._mandatory is not None:
            read = [value for value in values if value[0] not in unread]
            found: dict[int, tuple[str, int, re.Match[str]]] = {}
            for name, index, text in read:
                for match in self._mandatory.finditer(text):
                    found.setdefault(_branch(match), (name, index, match))
            for branch, (element, rule_id, source) in enumerate(self._mandatory_rows):
                if branch not in found:
                    findings.append(Finding(
                        rule_id=rule_id, severity="error", item_id=item_id, field=body, source=source,
                        message=f"the mandatory element {element!r} is missing",
                        suggestion=f"add {element!r} to {body}",
                    ))
                elif not any(self._as_written[branch].search(text) for _, _, text in read):
                    name, index, match = found[branch]
                    findings.append(Finding(
                        rule_id=_wording_rule(rule_id), severity="warning",
                        item_id=item_id, field=name, index=index, span=match.span(), source=source,
                        message=f"the mandatory element {element!r} is written {match.group()!r}",
                        suggestion=f"write it as given: {element!r}",
                    ))
        return findings

    def _name_findings(self, item_id: str, values: list[_Value]) -> list[Finding]:
        """Product names in another case or spacing ("Northbound coldbrew"), or with one slip in a long word
        ("Northbund Cold Brew")."""
        if self._name_patterns is None:
            return []
        written, slips_of = self._name_patterns
        findings: list[Finding] = []
        for field, index, text in values:
            spelt = [match for match in written.finditer(text) if " ".join(match.group(0).split())
                     != self._names[_branch(match)][0]]
            slipped = [match for match in slips_of.finditer(text) if not written.fullmatch(match[0])]
            for match in sorted([*spelt, *slipped], key=lambda match: match.start()):
                name, source = self._names[_branch(match)]
                findings.append(Finding(
                    rule_id="terminology.product-name", severity="warning", item_id=item_id, field=field,
                    index=index, span=match.span(), message=f"{match.group(0)!r} misspells the product name "
                    f"{name!r}", suggestion=f"write {name!r}", source=source,
                ))
        return findings

    def _style_findings(self, item_id: str, values: list[_Value]) -> list[Finding]:
        findings: list[Finding] = []
        for kind, (limit, source) in self._style.items():
            rule_id = f"style.{kind}"

            def finding(field: str, index: int, span: tuple[int, int], message: str, suggestion: str,
                        rule_id: str = rule_id, source: str = source) -> Finding:
                return Finding(rule_id=rule_id, severity="warning", item_id=item_id, field=field, index=index,
                               span=span, message=message, suggestion=suggestion, source=source)

            if kind in _COUNTED and limit is not None:
                pattern, what = _COUNTED[kind]
                found = _occurrences(values, pattern)
                if len(found) > limit:
                    field, index, span = found[limit]
                    findings.append(finding(field, index, span, f"{len(found)} {what}; the brand allows {limit} "
                                            "per piece", f"keep at most {limit}" if limit else f"remove the {what}"))
            elif kind == "all-caps":
                allowed = _lexicon().acronyms | self._protected
                findings += [
                    finding(field, index, match.span(), f"{match.group(0)!r} is in all caps",
                            f"write {match.group(0).capitalize()!r} or {match.group(0).lower()!r}")
                    for field, index, text in values for match in _CAPS.finditer(text)
                    if match.group(0) not in allowed and sum(c.isalpha() for c in match.group(0)) >= 3
                ]
            elif kind == "sentence-case":
                for field, index, text in values:
                    if field in _HEADLINE_FIELDS and (found_case := _sentence_case(text, self._protected)):
                        span, fixed = found_case
                        findings.append(finding(field, index, span, f"{field} is in title case, not sentence case",
                                                f"write {fixed!r} (keep proper nouns capitalised)"))
            elif kind == "sentence-length" and limit is not None:
                for field, index, text in values:
                    for match in _SENTENCE.finditer(text):
                        words = len(_WORD.findall(match.group(0)))
                        if words > limit:
                            findings.append(finding(field, index, match.span(), f"a sentence of {words} words; the "
                                                    f"brand allows {limit}", "split or shorten the sentence"))
        return findings


def _forbidden_finding(item_id: str, field: str, index: int, match: re.Match[str], term: str, rule_id: str,
                       severity: Severity, source: str) -> Finding:
    text = match.group(0)
    if rule_id == "forbidden-term.competitor":
        message, suggestion = f"names the competitor {text!r}", f"remove {text!r}"
    else:
        who = "brief" if rule_id.endswith(".brief") else "brand"
        message = f"uses {text!r}, which the {who} {'forbids' if severity == 'error' else 'asks to avoid'}"
        message += f" ({term!r})" if text.casefold() != _core(term).casefold() else ""
        suggestion = f"remove or rephrase {text!r}"
    return Finding(rule_id=rule_id, severity=severity, item_id=item_id, field=field, index=index, span=match.span(),
                   message=message, suggestion=suggestion, source=source)


def _lexicon_findings(item_id: str, values: list[_Value]) -> list[Finding]:
    """Claims, endorsements and inclusive language, one regex per family over each value of the piece."""
    lexicon = _lexicon()
    cleared: dict[str, bool] = {}

    def piece_has(need: str) -> bool:
        if need not in cleared:
            pattern = lexicon.sources if need == "source" else lexicon.disclosures
            cleared[need] = any(pattern.search(text) for _, _, text in values)
        return cleared[need]

    matches: list[tuple[_Family, _Rule, int, re.Match[str]]] = []
    spans: dict[str, list[tuple[int, int, int]]] = {}
    for family in lexicon.families:
        for position, (_, _, text) in enumerate(values):
            for match in family.pattern.finditer(text):
                matches.append((family, family.rules[_branch(match)], position, match))
                spans.setdefault(family.name, []).append((position, *match.span()))
    findings: list[Finding] = []
    reported: set[str] = set()
    for family, rule, position, match in matches:
        text = match.group(0)
        before = _SENTENCE_END.split(values[position][2][max(0, match.start() - _UNLESS_BEFORE):match.start()])[-1]
        if (rule.unless is not None and rule.unless.search(before + text)) or (rule.needs and piece_has(rule.needs)):
            continue
        if any(p == position and s <= match.start() and match.end() <= e
               for other in family.yields_to for p, s, e in spans.get(other, ())):
            continue
        if rule.once and rule.rule_id in reported:
            continue
        reported.add(rule.rule_id)
        field, index, _ = values[position]
        findings.append(Finding(
            rule_id=rule.rule_id, severity=rule.severity, item_id=item_id, field=field, index=index,
            span=match.span(), message=rule.message.format(text=text),
            suggestion=rule.suggestion.format(text=text) if rule.suggestion else None, source=rule.source,
        ))
    return findings


def check_copy(copy: CopyVariant, brief: CreativeBrief, brand: BrandContext | None = None) -> list[Finding]:
    """Every deterministic finding on one copy variant (brand rules too when ``brand`` is given)."""
    return CopyChecker.for_brief(brief, brand).check(copy).findings
