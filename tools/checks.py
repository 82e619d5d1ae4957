"""Deterministic compliance checks on copy: channel limits, forbidden terms, mandatory elements.

Each check returns ``Finding``s with a stable rule id ``family.specific``; the [compliance] issue adds
the remaining families (claims, accessibility, terminology...) beside these. Terms and elements come from
the brief (``*.brief``) and from the brand kit in brand memory (``*.brand``, citing the guideline).
"""

from __future__ import annotations

import re
from typing import TypeVar

from briefcraft.channels import get_channel
from briefcraft.schemas import BrandContext, ComplianceReport, CopyVariant, CreativeBrief, Finding, Severity

__all__ = ["HASHTAG", "check_copy", "check_items", "forbidden_terms", "mandatory_elements", "term_pattern"]

_Row = TypeVar("_Row", bound=tuple[str, ...])

HASHTAG = re.compile(r"(?<![\w#])#\w+")


def term_pattern(term: str) -> re.Pattern[str]:
    """A case-insensitive whole-word pattern for ``term`` (spaces match any run of whitespace)."""
    words = [re.escape(word) for word in term.split()]
    return re.compile(r"(?<!\w)" + r"\s+".join(words) + r"(?!\w)", re.IGNORECASE)


def _limit_findings(copy: CopyVariant) -> list[Finding]:
    channel = get_channel(copy.channel)
    source = f"channel catalog: {channel.name}"
    findings: list[Finding] = []
    for spec in channel.fields:
        values = copy.fields.get(spec.name, [])
        if len(values) < spec.count or any(not v.strip() for v in values):
            findings.append(Finding(
                rule_id="channel-limit.missing_field", severity="error", item_id=copy.id, field=spec.name,
                message=f"{spec.name} needs {spec.count} non-empty value(s), has "
                f"{sum(1 for v in values if v.strip())}",
                source=source,
            ))
        if len(values) > spec.max_count:
            findings.append(Finding(
                rule_id="channel-limit.too_many_values", severity="error", item_id=copy.id, field=spec.name,
                message=f"{spec.name} has {len(values)} values; {channel.name} allows {spec.max_count}",
                suggestion=f"keep the best {spec.max_count}", source=source,
            ))
        for index, value in enumerate(values):
            if len(value) > spec.max_chars:
                findings.append(Finding(
                    rule_id="channel-limit.max_chars", severity="error", item_id=copy.id, field=spec.name,
                    index=index, span=(spec.max_chars, len(value)),
                    message=f"{spec.name} is {len(value)} characters; the limit is {spec.max_chars}",
                    suggestion=f"shorten by {len(value) - spec.max_chars} characters", source=source,
                ))
    unknown = sorted(set(copy.fields) - {spec.name for spec in channel.fields})
    findings.extend(
        Finding(
            rule_id="channel-limit.unknown_field", severity="error", item_id=copy.id, field=name,
            message=f"{channel.name} has no field {name!r}; allowed: "
            f"{', '.join(spec.name for spec in channel.fields)}",
            source=source,
        )
        for name in unknown
    )
    if channel.max_hashtags is not None:
        count = sum(len(HASHTAG.findall(v)) for values in copy.fields.values() for v in values)
        if count > channel.max_hashtags:
            findings.append(Finding(
                rule_id="channel-limit.hashtags", severity="error", item_id=copy.id,
                message=f"{count} hashtags; {channel.name} allows {channel.max_hashtags}",
                suggestion=f"remove {count - channel.max_hashtags} hashtags", source=source,
            ))
    return findings


def forbidden_terms(brief: CreativeBrief, brand: BrandContext | None) -> list[tuple[str, str, Severity, str]]:
    """``(term, rule id, severity, source)`` for every term to keep out of copy: the brief's, then the brand's."""
    terms: list[tuple[str, str, Severity, str]] = [
        (term, "forbidden-term.brief", "error", "brief: forbidden terms") for term in brief.forbidden_terms
    ]
    if brand is not None:
        terms += [(c.value, "forbidden-term.brand", "error", c.source) for c in brand.forbidden_terms]
        terms += [(c.value, "forbidden-term.brand-avoid", "warning", c.source) for c in brand.dont_words]
    return _first_per_term(terms)


def mandatory_elements(brief: CreativeBrief, brand: BrandContext | None) -> list[tuple[str, str, str]]:
    """``(element, rule id, source)`` for every element copy must carry: the brief's, then the brand's."""
    elements = [(e, "missing-disclosure.brief", "brief: mandatory elements") for e in brief.mandatory_elements]
    if brand is not None:
        elements += [(c.value, "missing-disclosure.brand", c.source) for c in brand.required_disclaimers]
    return _first_per_term(elements)


def _first_per_term(rows: list[_Row]) -> list[_Row]:
    """Drop rows whose term (first value) came earlier, ignoring case: the brief's rule wins over the brand's."""
    seen: set[str] = set()
    kept: list[_Row] = []
    for row in rows:
        if row[0].casefold() not in seen:
            seen.add(row[0].casefold())
            kept.append(row)
    return kept


def _term_findings(copy: CopyVariant, brief: CreativeBrief, brand: BrandContext | None) -> list[Finding]:
    findings: list[Finding] = []
    for term, rule_id, severity, source in forbidden_terms(brief, brand):
        pattern = term_pattern(term)
        for name, values in copy.fields.items():
            for index, value in enumerate(values):
                findings.extend(
                    Finding(
                        rule_id=rule_id, severity=severity, item_id=copy.id, field=name, index=index,
                        span=match.span(), message=f"uses {match.group(0)!r}, which the "
                        f"{'brief' if rule_id.endswith('.brief') else 'brand'} "
                        f"{'forbids' if severity == 'error' else 'asks to avoid'}",
                        suggestion=f"remove or rephrase {match.group(0)!r}", source=source,
                    )
                    for match in pattern.finditer(value)
                )
    everything = "\n".join(v for values in copy.fields.values() for v in values)
    body = get_channel(copy.channel).body_field.name
    findings.extend(
        Finding(
            rule_id=rule_id, severity="error", item_id=copy.id, field=body,
            message=f"the mandatory element {element!r} is missing",
            suggestion=f"add {element!r} to {body}", source=source,
        )
        for element, rule_id, source in mandatory_elements(brief, brand)
        if not term_pattern(element).search(everything)
    )
    return findings


def check_copy(copy: CopyVariant, brief: CreativeBrief, brand: BrandContext | None = None) -> list[Finding]:
    """Every deterministic finding on one copy variant (brand rules too when ``brand`` is given)."""
    return _limit_findings(copy) + _term_findings(copy, brief, brand)


def check_items(copies: list[CopyVariant], brief: CreativeBrief, brand: BrandContext | None = None
                ) -> ComplianceReport:
    """A report over the copy of a bundle (image rules arrive with the [compliance] issue)."""
    findings = [finding for copy in copies for finding in check_copy(copy, brief, brand)]
    return ComplianceReport(findings=findings, checked=[c.id for c in copies])
