"""Compliance in the graph: one automatic fixing round, findings and brand score at review, signed finals, the
hash-chained ledger (and `briefcraft audit verify` catching an edit), and the LLM reviewer as model judgment."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langchain_core.language_models import GenericFakeChatModel
from langchain_core.messages import AIMessage

from briefcraft.agents.compliance import MODEL_FAMILIES, review_with_model
from briefcraft.agents.llm import ModelCall
from briefcraft.agents.models import LocalLlamaChat
from briefcraft.graphs import runner
from briefcraft.graphs.brief_graph import build_graph
from briefcraft.schemas import BrandContext, CopyVariant, CreativeBrief
from briefcraft.settings import Settings
from briefcraft.tools.audit import Ledger, ledger_path
from briefcraft.tools.provenance import COMPOSITE_SYNTHETIC, verify
from briefcraft.ui.cli import main

BRIEF = CreativeBrief(product="Oat cold brew", channels=["instagram_feed"], mandatory_elements=["Contains oats"])
CLAIM = {"headline": "Clinically proven cold brew", "caption": "Smooth oat cold brew for the U-Bahn ride."}
FIXED = {"headline": "Slow-steeped cold brew", "caption": "Smooth oat cold brew for the U-Bahn ride."}


def _fake(*replies: dict[str, str]) -> GenericFakeChatModel:
    """A chat model that answers with ``replies`` in order: the copy a test needs, exactly."""
    messages: Iterator[AIMessage] = iter([AIMessage(json.dumps(reply)) for reply in replies])
    return GenericFakeChatModel(messages=messages)


@pytest.fixture
def done(settings: Settings) -> tuple[Any, runner.RunStatus, runner.RunStatus]:
    """A thread whose copy broke a claims rule, was fixed once by the copywriter, then approved and exported."""
    graph = build_graph(settings, chat_model=_fake(CLAIM, FIXED))
    review = runner.start(graph, BRIEF, thread_id="t1", max_brief_chars=4000, user="maya")
    return graph, review, runner.resume(graph, "t1", runner.approve_all(review), user="cd")


def test_copy_with_errors_gets_one_fixing_round_before_review(done: tuple[Any, Any, Any]) -> None:
    graph, review, _ = done
    copy = review.items[0]
    assert (copy["args"]["id"], copy["args"]["revision"]) == ("copy-instagram_feed-1", 1)
    assert copy["args"]["fields"]["headline"] == ["Slow-steeped cold brew"]
    assert copy["description"].startswith("Compliance: approved, brand score 100% (")
    image = review.items[1]
    assert "Compliance: approved" in image["description"]
    assert "NOT CHECKED image-safety: not checked (no local safety classifier" in image["description"]
    audit = graph.get_state({"configurable": {"thread_id": "t1"}}).values["audit"]
    (fix,) = [e for e in audit if e.kind == "autofix"]
    assert (fix.item_id, fix.revision) == ("copy-instagram_feed-1", 0)
    assert fix.comment.startswith("Fix these compliance errors: unsubstantiated-claim.")
    assert "'Clinically proven'" in fix.comment


def test_finals_are_signed_watermarked_and_described(done: tuple[Any, Any, Any]) -> None:
    graph, _, finished = done
    assert finished.stage == "done"
    finals = graph.get_state({"configurable": {"thread_id": "t1"}}).values["finals"]
    assert len(finals) == 2
    for final in finals:
        assert final.provenance is not None and final.provenance.dev_ca
        assert final.provenance.digital_source_type == COMPOSITE_SYNTHETIC  # a layout render: no AI imagery
        report = verify(Path(final.path))
        assert (report.has_manifest, report.validation_state) == (True, "Valid")
        assert [e.code for e in report.errors] == ["signingCredential.untrusted"]  # the dev CA is not a trust anchor
        assert report.digital_source_type == COMPOSITE_SYNTHETIC
        assert [i.relationship for i in report.ingredients] == ["componentOf"]
        assert report.xmp.alt_text == final.alt_text
        assert final.provenance.watermark in ("embedded", "unreadable: embedded, but it does not read back from "
                                                                  "these pixels")
        if final.provenance.watermark == "embedded":  # stamp read it back before signing
            assert report.watermark == final.provenance.watermark_payload
            assert (report.watermark_status, len(report.watermark or "")) == ("found", 8)
    manifest = json.loads((Path(finished.pack) / "manifest.json").read_text())
    assert manifest["compliance"]["status"] in ("approved", "review")
    assert set(manifest["compliance"]["items"]) == {"copy-instagram_feed-1", *(f.id for f in finals)}
    assert [i["provenance"]["digital_source_type"] for i in manifest["images"]] == [COMPOSITE_SYNTHETIC] * 2


def test_the_ledger_verifies_and_an_edit_is_caught(done: tuple[Any, Any, Any], settings: Settings,
                                                  monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    graph, _, finished = done
    values = graph.get_state({"configurable": {"thread_id": "t1"}}).values
    path = ledger_path(settings.audit_dir, "t1")
    check = Ledger(path).verify(head=values["ledger"], events=values["audit"])
    assert check.valid and check.entries == len(values["audit"]) == values["ledger"].count
    pack_entries = (Path(finished.pack) / "audit.jsonl").read_text().splitlines()
    assert json.loads(pack_entries[-1])["event"]["kind"] == "export"
    decisions = [json.loads(line)["event"] for line in path.read_text().splitlines()]
    approvals = [e for e in decisions if e["kind"] == "human_decision"]
    assert {(e["actor"], e["revision"]) for e in approvals} == {("cd", 1), ("cd", 0)}
    assert all(len(e["sha256"]) == 64 for e in approvals)

    monkeypatch.setenv("BRIEFCRAFT_DATA_DIR", str(settings.data_dir))
    assert main(["audit", "verify", "t1"]) == 0
    assert capsys.readouterr().out.startswith(f"ledger of thread 't1' verifies: {check.entries} entries")
    lines = path.read_text().splitlines(keepends=True)
    lines[3] = lines[3].replace('"node":"', '"node":"x', 1)
    path.write_text("".join(lines))
    assert main(["audit", "verify", "t1"]) == 4
    assert capsys.readouterr().err == (f"ledger of thread 't1' does NOT verify: {path} line 4: its content does not "
                                       "match its hash; the entry was edited\n")


def test_model_findings_quote_the_copy_or_are_dropped() -> None:
    copy = CopyVariant(id="c1", channel="x_post", fields={"post": ["Our cold brew keeps you sharp all day."]})
    reply = {"concerns": [
        {"family": "health-claim", "quote": "keeps you sharp", "problem": "implies a cognitive benefit",
         "fix": "say how it tastes"},
        {"family": "financial-claim", "quote": "double your money", "problem": "not in the copy"},
    ]}
    model = GenericFakeChatModel(messages=iter([AIMessage(json.dumps(reply))]))
    brand = BrandContext(brand="b", palette=["#112233"])
    findings, audit = review_with_model(model, copy, brand, who=ModelCall(provider="fake", model="fake"))
    (finding,) = findings
    assert (finding.rule_id, finding.severity, finding.origin, finding.field, finding.span) == (
        "health-claim.model-judgment", "warning", "model", "post", (14, 29)
    )
    assert (finding.source, finding.suggestion) == ("model judgment (fake:fake)", "say how it tastes")
    assert [e.node for e in audit] == ["check_compliance"]


@pytest.mark.llm
def test_the_local_model_reviews_copy_as_model_judgment(local_model: LocalLlamaChat) -> None:
    copy = CopyVariant(id="c1", channel="x_post",
                       fields={"post": ["Our cold brew cures colds and boosts immunity. Contains oats."]})
    findings, audit = review_with_model(local_model, copy, None, who=ModelCall.of(local_model))
    (call,) = audit
    assert (call.kind, call.node, call.item_id) == ("model_call", "check_compliance", "c1")
    text = copy.fields["post"][0]
    for finding in findings:  # whatever the 135M model says, only quotes that are in the copy survive
        assert finding.origin == "model" and finding.rule_id.split(".")[0] in MODEL_FAMILIES
        assert finding.span is not None
        assert text[finding.span[0]:finding.span[1]].casefold() in text.casefold()


def test_words_set_on_an_image_are_checked_like_copy(settings: Settings) -> None:
    brief = CreativeBrief(product="Oat cold brew", channels=["x_post"], key_messages=["The #1 cold brew in Berlin"])
    graph = build_graph(settings, chat_model=_fake({"text": "Smooth oat cold brew for the ride.", "headline": "Oat"}))
    review = runner.start(graph, brief, thread_id="t1", max_brief_chars=4000)
    image = next(a for a in review.items if a["name"] == "publish_image")
    assert image["args"]["headline"] == "The #1 cold brew in Berlin"
    lines = image["description"].splitlines()
    assert lines[1].startswith("Compliance: blocked, brand score ")
    assert lines[2].startswith("ERROR unsubstantiated-claim.superlative: '#1' claims a measurable rank")
    report = graph.get_state({"configurable": {"thread_id": "t1"}}).values["compliance"]
    (finding,) = [f for f in report.for_item(image["args"]["id"]) if f.severity == "error"]
    assert (finding.field, finding.span) == ("text in image", (4, 6))


def test_a_web_address_the_brief_does_not_give_goes_back_then_blocks(settings: Settings) -> None:
    brief = BRIEF.model_copy(update={"contacts": ["northbound.coffee"]})
    made_up = {"headline": "Oat cold brew", "caption": "Crates at northbound.coffee/crates or oat-deals.example."}
    graph = build_graph(settings, chat_model=_fake(made_up, made_up))
    review = runner.start(graph, brief, thread_id="t1", max_brief_chars=4000)
    copy = review.items[0]
    # the fixing round ran, and its rewrite was no better: the draft goes to review
    assert (copy["args"]["id"], copy["args"]["revision"]) == ("copy-instagram_feed-1", 0)
    lines = copy["description"].splitlines()
    assert lines[0] == "Compliance: blocked, brand score 97% (39 guidelines tested)"
    assert lines[1] == (
        "ERROR contact-detail.link: 'oat-deals.example' is a web address the brief does not give Fix: remove "
        "'oat-deals.example', or add the real web address to the brief. (source: brief: contact details "
        "(northbound.coffee))"
    )
    assert ("Automatic fix: kept this draft: the automatic fix (revision 1) left 1 rule error(s), the draft 1"
            in lines)
    audit = graph.get_state({"configurable": {"thread_id": "t1"}}).values["audit"]
    fix, kept = [e for e in audit if e.kind == "autofix"]
    assert "contact-detail.link" in fix.comment and "'oat-deals.example'" in fix.comment
    assert (kept.node, kept.item_id, kept.revision) == ("write_copy", "copy-instagram_feed-1", 0)
    assert [e.revision for e in audit if e.kind == "model_call" and e.item_id == copy["args"]["id"]] == [0, 1]
