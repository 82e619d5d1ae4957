"""Deterministic compliance checks on copy: channel limits, forbidden terms, mandatory elements.

Each check returns ``Finding``s with a stable rule id ``family.specific``; the [compliance] issue adds
the remaining families (claims, accessibility, terminology...) beside these.
"""

from __future__ import annotations

import re

from briefcraft.channels import get_channel
from briefcraft.schemas import ComplianceReport, CopyVariant, CreativeBrief, Finding

__all__ = ["HASHTAG", "check_copy", "check_items", "term_pattern"]

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


def _term_findings(copy: CopyVariant, brief: CreativeBrief) -> list[Finding]:
    findings: list[Finding] = []
    for term in brief.forbidden_terms:
        pattern = term_pattern(term)
        for name, values in copy.fields.items():
            for index, value in enumerate(values):
                findings.extend(
                    Finding(
                        rule_id="forbidden-term.brief", severity="error", item_id=copy.id, field=name,
                        index=index, span=match.span(),
                        message=f"uses {match.group(0)!r}, which the brief forbids",
                        suggestion=f"remove or rephrase {match.group(0)!r}", source="brief: forbidden terms",
                    )
                    for match in pattern.finditer(value)
                )
    everything = "\n".join(v for values in copy.fields.values() for v in values)
    body = get_channel(copy.channel).body_field.name
    findings.extend(
        Finding(
            rule_id="missing-disclosure.brief", severity="error", item_id=copy.id, field=body,
            message=f"the mandatory element {element!r} is missing",
            suggestion=f"add {element!r} to {body}", source="brief: mandatory elements",
        )
        for element in brief.mandatory_elements
        if not term_pattern(element).search(everything)
    )
    return findings


def check_copy(copy: CopyVariant, brief: CreativeBrief) -> list[Finding]:
    """Every deterministic finding on one copy variant."""
    return _limit_findings(copy) + _term_findings(copy, brief)


def check_items(copies: list[CopyVariant], brief: CreativeBrief) -> ComplianceReport:
    """A report over the copy of a bundle (image rules arrive with the [compliance] issue)."""
    findings = [finding for copy in copies for finding in check_copy(copy, brief)]
    return ComplianceReport(findings=findings, checked=[c.id for c in copies])
