"""The [evals] datasets: labelled briefs and Northbound voice pairs load, cover what the issue asks for, and keep
the labels that can be checked mechanically consistent with their text."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from briefcraft.channels import channel_ids
from briefcraft.evals.datasets import (
    BRIEFS_FILE,
    VOICE_FILE,
    EvalBrief,
    VoicePair,
    load_briefs,
    load_voice_pairs,
)
from briefcraft.schemas import CreativeBrief

GUIDELINES = Path(__file__).resolve().parents[1] / "examples" / "brands" / "northbound" / "guidelines.md"


@pytest.fixture(scope="module")
def briefs() -> list[EvalBrief]:
    return load_briefs()


@pytest.fixture(scope="module")
def pairs() -> list[VoicePair]:
    return load_voice_pairs()


def _guideline_list(label: str) -> list[str]:
    """The comma-separated values after ``label:`` on a line of the Northbound guidelines, quotes removed."""
    match = re.search(rf"^{re.escape(label)}:(.*)$", GUIDELINES.read_text(encoding="utf-8"), re.MULTILINE)
    assert match, f"no '{label}:' line in {GUIDELINES}"
    return [value.strip().strip('"') for value in match.group(1).split(",")]


def _has_word(text: str, word: str) -> bool:
    """``word`` at a word start, so inflections count: 'fuel' finds 'fuelled', 'hack' finds 'hacks'."""
    return re.search(rf"(?<!\w){re.escape(word)}", text, re.IGNORECASE) is not None


def _hyped(text: str) -> bool:
    """Shouting as Northbound's style rules define it: an all-caps word, or more than one exclamation mark."""
    return text.count("!") > 1 or re.search(r"\b[A-Z]{2,}\b", text) is not None


def test_the_default_files_are_the_package_data() -> None:
    assert (BRIEFS_FILE.parent.name, BRIEFS_FILE.name) == ("briefs", "briefs.jsonl")
    assert (VOICE_FILE.parent.name, VOICE_FILE.name) == ("voice", "northbound.jsonl")


def test_the_briefs_cover_what_the_issue_asks_for(briefs: list[EvalBrief]) -> None:
    assert len(briefs) >= 48
    assert [b.id for b in briefs] == [f"b{n:03d}" for n in range(1, len(briefs) + 1)]
    per_channel = Counter(c for b in briefs for c in b.expected.channels)
    assert {c: per_channel[c] >= 3 for c in channel_ids()} == dict.fromkeys(channel_ids(), True)
    assert sum("etsy_listing" in b.expected.channels for b in briefs) >= 10
    assert sum(bool(b.expected.missing) for b in briefs) >= 6
    assert {e for b in briefs for e in b.expected.missing} == {"product", "channels"}
    non_english = Counter(b.expected.locale for b in briefs if b.expected.locale != "en")
    assert sum(non_english.values()) >= 3 and len(non_english) >= 3
    assert {len(b.expected.channels) for b in briefs if not b.expected.missing} == {1, 2, 3, 4}
    assert {b.expected.deliverables for b in briefs} == {("copy", "image"), ("copy",), ("image",)}
    assert sum(b.expected.brand == "northbound" for b in briefs) >= 5
    assert {b.expected.brand for b in briefs} == {"default", "northbound"}


def test_mandatory_and_forbidden_terms_are_quoted_from_the_brief(briefs: list[EvalBrief]) -> None:
    absent = [(b.id, term) for b in briefs for term in (*b.expected.mandatory_elements, *b.expected.forbidden_terms)
              if term.casefold() not in b.text.casefold()]
    assert absent == []
    assert sum(bool(b.expected.mandatory_elements) for b in briefs) >= 30
    assert sum(bool(b.expected.forbidden_terms) for b in briefs) >= 20


def test_every_complete_label_is_a_valid_creative_brief(briefs: list[EvalBrief]) -> None:
    for b in briefs:
        if b.expected.missing:
            continue
        labelled = b.expected.model_dump(exclude={"missing"})
        brief = CreativeBrief.model_validate({k: list(v) if isinstance(v, tuple) else v for k, v in labelled.items()})
        assert (tuple(brief.channels), brief.locale) == (b.expected.channels, b.expected.locale), b.id


def test_the_voice_pairs_differ_only_in_voice(pairs: list[VoicePair]) -> None:
    dont = _guideline_list("Avoid")
    never = _guideline_list("Never say")
    competitors = _guideline_list("Competitors")
    assert (dont, never, competitors) == (["hack", "fuel", "crush it"],
                                          ["cheap", "guilt-free", "diet", "best coffee in the world"],
                                          ["Oatly", "Starbucks", "Nespresso"])
    assert len(pairs) >= 30
    assert [p.id for p in pairs] == [f"v{n:03d}" for n in range(1, len(pairs) + 1)]
    assert len({p.channel for p in pairs}) >= 8
    for p in pairs:
        assert p.on_voice != p.off_voice, p.id
        for text in (p.on_voice, p.off_voice):
            # both sides pass the brand's compliance rules, so a voice score cannot lean on them
            assert "contains oats" in text.casefold(), p.id
            assert [w for w in (*never, *competitors) if _has_word(text, w)] == [], p.id
            assert set(re.findall(r"northbound", text, re.IGNORECASE)) <= {"Northbound"}, p.id
        assert [w for w in dont if _has_word(p.on_voice, w)] == [], p.id
        assert not _hyped(p.on_voice), p.id
    off = [p.id for p in pairs if _hyped(p.off_voice) or any(_has_word(p.off_voice, w) for w in dont)]
    assert len(off) >= len(pairs) / 2


def _brief_line(record_id: str = "b001", **expected: Any) -> str:
    labels = {"product": "mug", "channels": ["etsy_listing"], "deliverables": ["copy", "image"],
              "mandatory_elements": [], "forbidden_terms": [], "audience": "", "tone": [], "locale": "en"}
    return json.dumps({"id": record_id, "text": "Etsy listing for my mug", "expected": labels | expected})


@pytest.mark.parametrize(("line", "problem"), [
    (_brief_line(channels=["fax"]), "expected.channels: unknown channel 'fax'; allowed: instagram_feed, "),
    (_brief_line(channels=["email", "email"]), "expected.channels: channel 'email' is listed twice"),
    (_brief_line(deliverables=["video"]), "expected.deliverables.0: Input should be 'copy' or 'image'"),
    (_brief_line(deliverables=[]), "expected.deliverables: Tuple should have at least 1 item"),
    (_brief_line(product=""), "expected: product is empty, so 'missing' must list it"),
    (_brief_line("b002", channels=[], missing=["channels"]), None),
    (_brief_line(missing=["channels"]), "expected: channels is given, so 'missing' must not list it"),
    (_brief_line(tone=["Playful"]), "expected.tone: tone word 'Playful' is not lower-case"),
    (_brief_line(voice="warm"), "expected.voice: Extra inputs are not permitted"),
    (_brief_line(locale="German"), "expected.locale: String should match pattern"),
    ("{not json", "input: Invalid JSON"),
    (_brief_line(), "id 'b001' repeats; ids must be unique"),
])
def test_a_bad_brief_line_is_named(tmp_path: Path, line: str, problem: str | None) -> None:
    path = tmp_path / "briefs.jsonl"
    path.write_text(_brief_line() + "\n\n" + line + "\n", encoding="utf-8")
    if problem is None:
        assert [b.expected.missing for b in load_briefs(path)] == [(), ("channels",)]
        return
    with pytest.raises(ValueError, match=rf"^{re.escape(f'{path}:3: {problem}')}"):
        load_briefs(path)


def test_a_bad_voice_line_is_named(tmp_path: Path) -> None:
    good = {"id": "v001", "channel": "email", "on_voice": "Smooth. Contains oats.", "off_voice": "Fuel up. Contains oats."}
    path = tmp_path / "voice.jsonl"
    for bad, problem in [
        (good | {"channel": "fax"}, "channel: unknown channel 'fax'; allowed: instagram_feed"),
        (good | {"off_voice": good["on_voice"]}, "input: on_voice and off_voice are the same text"),
        (good | {"on_voice": ""}, "on_voice: String should have at least 1 character"),
        (good, "id 'v001' repeats; ids must be unique"),
    ]:
        path.write_text(json.dumps(good) + "\n" + json.dumps(bad) + "\n", encoding="utf-8")
        with pytest.raises(ValueError, match=rf"^{re.escape(f'{path}:2: {problem}')}"):
            load_voice_pairs(path)


def test_loading_the_datasets_imports_only_the_core() -> None:
    code = ("import sys; from briefcraft.evals.datasets import load_briefs, load_voice_pairs; "
            "load_briefs(); load_voice_pairs(); "
            "print(sorted(m for m in sys.modules if m.split('.')[:2] in (['briefcraft', 'agents'], "
            "['briefcraft', 'graphs'], ['briefcraft', 'tools'], ['briefcraft', 'memory'], ['briefcraft', 'ui'])))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
