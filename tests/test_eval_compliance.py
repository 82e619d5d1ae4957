"""The compliance eval: its labelled data is well-formed and self-consistent, its metrics are exact, and the
checker passes it (the quality gate)."""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import regex
from builders import ETSY_REFUSED, load_script

from briefcraft.channels import get_channel, load_catalog

EVAL = Path(__file__).resolve().parents[1] / "evals" / "eval_compliance.py"


@pytest.fixture(scope="module")
def ev() -> ModuleType:
    return load_script("eval_compliance")


@pytest.fixture(scope="module")
def snippets(ev: ModuleType) -> list[Any]:
    """Every labelled snippet."""
    return list(ev.load_snippets())


def test_the_eval_brand_loads_as_a_brand_context(ev: ModuleType) -> None:
    brand = ev.load_brand()
    assert brand.brand == "Northbound"
    assert brand.palette == ["#1F3A5F", "#F4E9D8", "#E8A33D"]
    assert [c.value for c in brand.forbidden_terms] == ["cheap", "guilt-free", "diet", "best coffee in the world"]
    assert [c.value for c in brand.dont_words] == ["hack", "fuel", "crush it"]
    assert [c.value for c in brand.required_disclaimers] == ["Contains oats"]
    assert [c.value for c in brand.product_names] == [
        "Northbound Cold Brew", "Northbound Oat Cold Brew", "Northbound Night Shift"]
    assert [c.value for c in brand.competitors] == ["Starbucks", "Oatly", "Nespresso"]
    assert [c.value for c in brand.style_rules] == ["No all-caps words", "At most one exclamation mark per piece"]
    assert all(c.source.startswith("guidelines.md > ") for c in brand.forbidden_terms + brand.dont_words)


def test_the_snippets_are_well_formed(ev: ModuleType, snippets: list[Any]) -> None:
    catalog = load_catalog()
    assert len(snippets) >= 200
    ids = [s.id for s in snippets]
    assert len(set(ids)) == len(ids)
    for s in snippets:
        assert s.channel in catalog
        assert s.field is None or s.field in {f.name for f in catalog[s.channel].fields}
        assert s.expected <= set(ev.FAMILIES)
    assert {s.channel for s in snippets} == set(catalog)


def test_every_family_has_15_positives_and_about_a_third_is_clean(ev: ModuleType, snippets: list[Any]) -> None:
    positives = Counter(family for s in snippets for family in s.expected)
    assert {family: positives[family] >= 15 for family in ev.FAMILIES} == dict.fromkeys(ev.FAMILIES, True)
    clean = sum(not s.expected for s in snippets) / len(snippets)
    assert 0.30 <= clean <= 0.40


def test_channel_limit_labels_match_the_catalog(snippets: list[Any]) -> None:
    for s in snippets:
        channel = get_channel(s.channel)
        field = channel.field(s.field) if s.field is not None else channel.body_field  # the checker's default
        too_long = len(s.text) > field.max_chars
        too_many_tags = channel.max_hashtags is not None and len(re.findall(r"#\w+", s.text)) > channel.max_hashtags
        refused = s.channel == "etsy_listing" and s.field in ETSY_REFUSED and (
            regex.search(ETSY_REFUSED[s.field], s.text) is not None
            or (s.field == "title" and any(s.text.count(c) > 1 for c in "%:&+"))  # Etsy: each once in a title
        )
        doubled = not channel.repeated_punctuation and re.search(r"([^\w\s/])\1", s.text) is not None
        assert (too_long or too_many_tags or refused or doubled) == ("channel-limit" in s.expected), s.id


def test_missing_disclosure_labels_match_the_text(snippets: list[Any]) -> None:
    for s in snippets:
        if s.brand or s.require:  # mandatory elements go in the body field; no label rests on a headline's duty
            assert s.field in (None, get_channel(s.channel).body_field.name), s.id
        required = [*s.require, *(["Contains oats"] if s.brand else [])]
        missing = any(r.rstrip(".").casefold() not in s.text.casefold() for r in required)
        assert missing == ("missing-disclosure" in s.expected), s.id


def test_disclosure_wording_labels_match_the_text(snippets: list[Any]) -> None:
    """Present in another case than given, and not as a sentence writes it (first letter either way, all capitals)."""
    for s in snippets:
        required = [r.rstrip(".") for r in [*s.require, *(["Contains oats"] if s.brand else [])]]
        miswritten = any(r.casefold() in s.text.casefold()
                         and not any(form in s.text for form in (r, r[0].swapcase() + r[1:], r.upper()))
                         for r in required)
        assert miswritten == ("disclosure-wording" in s.expected), s.id


def test_brand_only_families_need_the_brand(snippets: list[Any]) -> None:
    assert [s.id for s in snippets if not s.brand and s.expected & {"terminology", "style"}] == []
    assert [s.id for s in snippets if s.brand and s.text.count("!") > 1 and "style" not in s.expected] == []


def test_score_counts_each_family_once_per_snippet(ev: ModuleType) -> None:
    pairs = [
        ({"style"}, {"style"}),                               # TP style
        ({"style", "terminology"}, {"style"}),                # TP style, FN terminology
        (set(), {"terminology"}),                             # FP terminology
        ({"terminology"}, {"terminology", "health-claim"}),   # TP terminology, FP health-claim
        (set(), set()),                                       # nothing
    ]
    scores = ev.score(pairs, families=("style", "terminology", "health-claim", "financial-claim"))
    assert {f: (s.tp, s.fp, s.fn, s.support) for f, s in scores.items()} == {
        "style": (2, 0, 0, 2), "terminology": (1, 1, 1, 2), "health-claim": (0, 1, 0, 0),
        "financial-claim": (0, 0, 0, 0),
    }
    assert (scores["style"].precision, scores["style"].recall, scores["style"].f1) == (1.0, 1.0, 1.0)
    assert (scores["terminology"].precision, scores["terminology"].recall, scores["terminology"].f1) == (0.5, 0.5, 0.5)
    # predicted but never labelled: no true positive, so precision 0; nothing to recall, so recall 1
    assert (scores["health-claim"].precision, scores["health-claim"].recall) == (0.0, 1.0)
    assert (scores["financial-claim"].precision, scores["financial-claim"].recall) == (1.0, 1.0)
    assert ev.FamilyScore(tp=3, fp=1, fn=2).as_dict() == {
        "support": 5, "tp": 3, "fp": 1, "fn": 2, "precision": 0.75, "recall": 0.6, "f1": 0.6667}


def test_a_bad_line_is_named(ev: ModuleType, tmp_path: Path) -> None:
    good = '{"id": "s0001", "channel": "email", "field": "subject", "text": "Hi", "brand": false, "expected": []}'
    path = tmp_path / "snippets.jsonl"
    path.write_text(good + "\n" + good.replace("email", "fax") + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"snippets.jsonl:2: channel: unknown channel 'fax'; allowed: instagram_feed"):
        ev.load_snippets(path)
    path.write_text(good + "\n" + good.replace('"subject"', '"footer"') + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r":2: field: channel 'email' has no field 'footer'; allowed: subject, preheader"):
        ev.load_snippets(path)
    path.write_text(good + "\n" + good.replace("[]", '["tone"]') + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r":2: expected: unknown family 'tone'; allowed: channel-limit"):
        ev.load_snippets(path)
    path.write_text(good + "\n" + good + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r":2: id 's0001' repeats"):
        ev.load_snippets(path)


def test_loading_the_eval_does_not_import_the_checker() -> None:
    code = (f"import importlib.util, sys; spec = importlib.util.spec_from_file_location('e', {str(EVAL)!r}); "
            "m = importlib.util.module_from_spec(spec); sys.modules['e'] = m; "
            "spec.loader.exec_module(m); m.load_snippets(); "
            "print('briefcraft.tools.checks' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# THE QUALITY GATE: the checker must reach precision and recall >= 0.9 on every family of the labelled set.
# It fails until tools/checks.py (CopyChecker) exists and is tuned; the labels were written without reading it.
def test_quality_gate_the_checker_scores_at_least_0_9_on_every_family() -> None:
    run = subprocess.run([sys.executable, str(EVAL), "--min", "0.9", "--errors"], check=False,
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
