"""Deterministic copy checks: exact findings with stable rule ids."""

from __future__ import annotations

from briefcraft.schemas import CopyVariant, CreativeBrief
from briefcraft.tools.checks import check_copy, check_items

BRIEF = CreativeBrief(
    product="Oat cold brew", channels=["x_post", "google_rsa"], mandatory_elements=["Contains oats"],
    forbidden_terms=["cheap", "sugar free"],
)


def _x(text: str, headline: str = "Smooth energy") -> CopyVariant:
    return CopyVariant(id="copy-x_post-1", channel="x_post", fields={"text": [text], "headline": [headline]})


def test_clean_copy_has_no_findings() -> None:
    assert check_copy(_x("Smooth oat cold brew for the commute. Contains oats."), BRIEF) == []


def test_over_limit_is_an_error_with_span() -> None:
    text = "a" * 270 + " Contains oats"
    (finding,) = check_copy(_x(text), BRIEF)
    assert (finding.rule_id, finding.severity, finding.field, finding.span) == (
        "channel-limit.max_chars", "error", "text", (280, 284)
    )
    assert finding.message == "text is 284 characters; the limit is 280"


def test_forbidden_terms_case_insensitive_and_multiword() -> None:
    findings = check_copy(_x("Not CHEAP, just sugar  free joy. Contains oats."), BRIEF)
    assert [(f.rule_id, f.span) for f in findings] == [("forbidden-term.brief", (4, 9)), ("forbidden-term.brief", (16, 27))]


def test_word_boundaries_for_terms() -> None:
    assert check_copy(_x("Cheapside cafe special. Contains oats."), BRIEF) == []


def test_missing_disclosure_points_at_body_field() -> None:
    (finding,) = check_copy(_x("Smooth oat cold brew."), BRIEF)
    assert (finding.rule_id, finding.field, finding.source) == ("missing-disclosure.brief", "text", "brief: mandatory elements")


def test_list_fields_counts_and_missing_values() -> None:
    rsa = CopyVariant(
        id="copy-google_rsa-1", channel="google_rsa",
        fields={"headlines": ["One", "Two"], "descriptions": ["Contains oats", "x" * 91], "path1": ["a"], "path2": [" "]},
    )
    rules = sorted((f.rule_id, f.field, f.index) for f in check_copy(rsa, BRIEF))
    assert rules == [
        ("channel-limit.max_chars", "descriptions", 1),
        ("channel-limit.missing_field", "headlines", None),
        ("channel-limit.missing_field", "path2", None),
    ]


def test_hashtag_limit() -> None:
    story = CopyVariant(id="s", channel="instagram_story", fields={
        "headline": ["Go"], "cta": [" ".join(f"#t{i}" for i in range(11)) + " Contains oats"]})
    rules = [f.rule_id for f in check_copy(story, BRIEF)]
    assert "channel-limit.hashtags" in rules


def test_report_status() -> None:
    clean, dirty = _x("Fine. Contains oats."), _x("cheap").model_copy(update={"id": "copy-x_post-2"})
    report = check_items([clean, dirty], BRIEF)
    assert report.item_status(clean.id) == "approved"
    assert report.item_status(dirty.id) == "blocked"
    assert report.status == "blocked"
    assert report.checked == [clean.id, dirty.id]
