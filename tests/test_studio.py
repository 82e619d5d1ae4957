"""The studio's handlers, called in process on a graph whose chat model answers with fixed JSON: progress messages,
the clarifying question, review decisions (approve, reject, edit), who may see and decide what, threads listed
after a restart, and the pack zip."""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path
from typing import Any

import gradio as gr
import pytest
from langchain_core.language_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from pydantic import SecretStr

from briefcraft.agents.intake import clarifying_question
from briefcraft.errors import BriefError, ConfigError, DecisionError
from briefcraft.graphs import runner
from briefcraft.graphs.brief_graph import build_graph
from briefcraft.graphs.review import edit_decision, edit_text, read_edit
from briefcraft.memory.store import DefaultBrandMemory
from briefcraft.schemas import Budget, CreativeBrief
from briefcraft.settings import Settings, UiUser
from briefcraft.ui.studio import (
    ItemChoice,
    Loaded,
    Studio,
    build_studio,
    check_login,
    hitl_response,
    read_limits,
)

BRIEF = "Launch our oat-milk cold brew on Instagram. Must say 'Contains oats'."
INTAKE = {"product": "oat-milk cold brew", "objective": "", "audience": "", "key_messages": [], "tone": []}
COPY = {"headline": "Slow-steeped cold brew", "caption": "Smooth oat cold brew for the U-Bahn ride. Contains oats"}
WARMER = {"headline": "Your warm-hearted cold brew", "caption": "Oat cold brew for slow mornings. Contains oats"}
COPY_ID, IMAGE_ID = "copy-instagram_feed-1", "img-instagram_feed-1"
MAYA, CD, LEA = gr.Request(username="maya"), gr.Request(username="cd"), gr.Request(username="lea")
UNPRICED = "$0.0000 for {calls} call(s) (0 tokens in, 0 out, {unpriced} unpriced call(s) not counted)"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Three logins: two marketers and an approver."""
    users = {name: UiUser(password=SecretStr(f"{name}-pw"), role=role)
             for name, role in (("maya", "marketer"), ("lea", "marketer"), ("cd", "approver"))}
    return settings.model_copy(update={"ui_users": users})


def _studio(settings: Settings, *replies: dict[str, Any]) -> Studio:
    """A studio on a graph whose model answers ``replies`` in order (house brand defaults, no Chroma)."""
    model = GenericFakeChatModel(messages=iter([AIMessage(json.dumps(reply)) for reply in replies]))
    return Studio(settings, build_graph(settings, chat_model=model, memory=DefaultBrandMemory()))


def _send(studio: Studio, text: str, request: gr.Request, *, thread: str | None = None,
          brand: str = "default") -> list[tuple[Any, ...]]:
    return list(studio.send(text, brand, [], thread, request))


def _meta(chat: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(m["metadata"]["title"], m["metadata"]["status"]) for m in chat if m.get("metadata")]


def _waiting(studio: Studio, request: gr.Request = MAYA) -> str:
    """Start the sample thread and return its id (it waits for approval)."""
    _send(studio, BRIEF, request)
    (record,) = studio.threads.visible_to(studio.viewer(request))
    return record.thread_id


def _submit(studio: Studio, loaded: Loaded | None, choices: list[ItemChoice], request: gr.Request
            ) -> tuple[list[str], Loaded | None]:
    """Every status the submission showed, and the checkpoint it loaded last."""
    yields = list(studio.submit_review(loaded, choices, request))
    return [status for status, _ in yields], yields[-1][1]


def test_a_brief_streams_one_message_per_step_and_stops_at_review(settings: Settings) -> None:
    studio = _studio(settings, INTAKE, COPY)
    yields = _send(studio, BRIEF, MAYA)
    assert yields[0][1:] == ("", [], None)  # the input box clears once the thread holds the brief
    assert any(("intake", "pending") in _meta(chat) for chat, *_ in yields[1:])  # a spinner while it runs
    # the preview shows as soon as make_visual ends, before the run reaches review
    first = next(n for n, (_, _, previews, _) in enumerate(yields[1:], 1) if previews != gr.skip())
    assert _meta(yields[first][0])[-1] == (f"make_visual {IMAGE_ID}", "done")
    assert yields[first][2] == yields[-1][2]
    chat, _, previews, asking = yields[-1]
    assert chat[0] == {"role": "user", "content": BRIEF}
    assert _meta(chat) == [
        ("intake", "done"), ("recall_brand", "done"), ("plan", "done"), (f"write_copy {COPY_ID}", "done"),
        (f"make_visual {IMAGE_ID}", "done"), ("check_compliance", "done"), ("review", "done"),
    ]
    steps = {m["metadata"]["title"]: m for m in chat if m.get("metadata")}
    assert steps["intake"]["content"] == "brief: oat-milk cold brew on instagram_feed; must say 'Contains oats'"
    assert steps["recall_brand"]["content"] == ("brand memory is not installed (pip install 'briefcraft[memory]'): "
                                                "the house defaults, palette #1F3A5F #F2C14E #F78154 #FDF6E3")
    assert steps["plan"]["content"] == "1 copy and 1 visual subtask(s)"
    assert steps["check_compliance"]["content"] == "bundle approved, brand score 100%"
    assert steps["review"]["content"] == "waiting for a human"
    assert all(m["metadata"]["duration"] >= 0 for m in steps.values())
    (record,) = studio.threads.visible_to(studio.viewer(MAYA))
    assert (record.owner, record.brand, record.title) == ("maya", "default", BRIEF)
    tid = record.thread_id
    assert chat[-2]["content"].splitlines() == [
        f"**{COPY_ID}** (revision 0)", f"headline: {COPY['headline']}", f"caption: {COPY['caption']}",
        "Compliance: approved, brand score 100% (39 guidelines tested)",
    ]
    # the fake model reports no tokens, so its two calls are unpriced; the layout render is free
    assert chat[-1]["content"] == (f"Thread {tid} waits for approval of 2 item(s): open the Review tab. Cost so far: "
                                   f"{UNPRICED.format(calls=3, unpriced=2)}.")
    ((path, caption),) = previews
    assert Path(path).is_file() and Path(path).is_relative_to(settings.data_dir)
    assert caption == f"{IMAGE_ID}: Layout render (brand palette and headline; not AI imagery)"
    assert asking is None
    assert runner.status(studio.graph, tid).stage == "waiting_for_approval"


def test_findings_are_highlighted_on_the_copy_in_the_chat(settings: Settings) -> None:
    claim = {"headline": "The #1 cold brew <in> Berlin", "caption": "Oat cold brew for the ride. Contains oats"}
    studio = _studio(settings, INTAKE, claim, claim)  # the automatic fixing round gets the same copy back: no better
    chat = _send(studio, BRIEF, MAYA)[-1][0]
    lines = chat[-2]["content"].splitlines()
    assert lines[:3] == [
        f"**{COPY_ID}** (revision 0)",
        'headline: The <mark title="ERROR unsubstantiated-claim.superlative: &#x27;#1&#x27; claims a measurable rank '
        'or record that needs documentary evidence">#1</mark> cold brew &lt;in&gt; Berlin',
        f"caption: {claim['caption']}",
    ]
    assert any(line.startswith("ERROR unsubstantiated-claim.superlative: '#1' claims") for line in lines[3:])


def test_a_failed_step_is_one_chat_line_and_a_retry_runs_it_again(settings: Settings) -> None:
    studio = _studio(settings, INTAKE, {"headline": "x"}, {"headline": "x"}, COPY)  # no caption, twice; then one
    chat, _, previews, _ = _send(studio, BRIEF, MAYA)[-1]
    (record,) = studio.threads.visible_to(studio.viewer(MAYA))
    failed = ("failed: StructuredOutputError: generic-fake-chat-model:GenericFakeChatModel gave no valid "
              "InstagramFeedCopy after one repair (headline: String should have at least 2 characters (and 1 more))")
    steps = {m["metadata"]["title"]: m["content"] for m in chat if m.get("metadata")}
    assert steps[f"write_copy {COPY_ID}"] == failed
    assert all(m["metadata"]["status"] == "done" for m in chat if m.get("metadata"))  # no spinner left behind
    assert [m["content"] for m in chat[-2:]] == [
        f"⚠ {failed.removeprefix('failed: StructuredOutputError: ')}",
        f"Thread {record.thread_id} stopped (failed); it keeps every step before that: retry it from the Runs tab. "
        f"Cost so far: {UNPRICED.format(calls=4, unpriced=3)}.",  # the failed step's 2 calls included
    ]
    assert [caption.split(":")[0] for _, caption in previews] == [IMAGE_ID]  # the branch that did finish
    assert steps[f"make_visual {IMAGE_ID}"].startswith("512x512, Layout render")
    tid = record.thread_id
    assert runner.status(studio.graph, tid).stage == "failed"
    detail, _, rows = studio.open_run(tid, MAYA)
    assert "Error: StructuredOutputError: " in detail  # as the run showed it, not a repr
    # the failed step's 2 calls follow the ledger's events, unnumbered (the ledger does not hold them yet)
    assert [row[0] for row in rows] == [*range(len(rows) - 2), "", ""]
    assert [(row[2], row[3], row[4]) for row in rows[-2:]] == [("model_call", "write_copy", COPY_ID)] * 2
    assert all(row[9].startswith("in a step that failed: StructuredOutputError: ") for row in rows[-2:])
    assert list(studio.retry(tid, LEA)) == [f"⚠ Not retried: no thread {tid!r} among lea's threads"]
    statuses = list(studio.retry(tid, MAYA))
    lines = statuses[-1].splitlines()
    assert lines[0] == f"Retry of thread {tid} by maya:"
    # the preview the failed step kept is reported done, not rendered again
    assert sorted(line.split(" (")[0] for line in lines[1:-2]) == [
        "- ✓ check_compliance", f"- ✓ make_visual {IMAGE_ID}", "- ✓ review", f"- ✓ write_copy {COPY_ID}"]
    # the failed attempt's two calls count too (kept when the step failed, recorded once the thread went on)
    assert lines[-1] == (f"**Thread {tid} waits for approval of 2 item(s): open the Review tab. Cost so far: "
                         f"{UNPRICED.format(calls=5, unpriced=4)}.**")
    assert list(studio.retry(tid, MAYA)) == [
        f"⚠ Not retried: thread {tid!r} is waiting for approval; give decisions"]


@pytest.mark.parametrize(("text", "brand", "line"), [
    ("   ", "default", "⚠ the brief is empty; describe the product, audience and channels"),
    ("x" * 101, "default", "⚠ the brief is 101 characters; the limit is 100 (BRIEFCRAFT_MAX_BRIEF_CHARS)"),
    (BRIEF, "!!!", "⚠ brand name '!!!' is not usable: give 1-48 letters, digits, spaces or dashes"),
])
def test_user_errors_are_one_chat_line_and_lose_nothing(settings: Settings, text: str, brand: str, line: str) -> None:
    studio = _studio(settings.model_copy(update={"max_brief_chars": 100}))
    history = [{"role": "assistant", "content": "earlier"}]
    ((chat, box, _, asking),) = list(studio.send(text, brand, history, None, MAYA))
    assert chat == [*history, {"role": "user", "content": text}, {"role": "assistant", "content": line}]
    assert (box, asking) == (text, None)  # the text stays in the input box
    assert studio.threads.visible_to(studio.viewer(CD)) == []


def test_a_clarifying_question_is_answered_by_the_next_chat_input(settings: Settings) -> None:
    studio = _studio(settings, INTAKE, INTAKE, COPY)
    request = "Launch our oat-milk cold brew on TikTok. Must say 'Contains oats'."
    chat, _, previews, asking = _send(studio, request, MAYA)[-1]
    assert chat[-1]["content"] == clarifying_question(["channels"], request)
    assert chat[-1]["content"].startswith("Nothing is made for TikTok: the channel catalog has no such channel. ")
    assert _meta(chat)[-1] == ("ask_clarification", "done")
    assert previews == [] and asking is not None
    chat, _, previews, asking_after = list(studio.send("Instagram", "default", chat, asking, MAYA))[-1]
    assert _meta(chat)[-2:] == [("check_compliance", "done"), ("review", "done")]
    assert chat[-1]["content"] == (f"Thread {asking} waits for approval of 2 item(s): open the Review tab. Note: "
                                   "nothing is made for TikTok: the channel catalog has no such channel. Cost so "
                                   f"far: {UNPRICED.format(calls=4, unpriced=3)}.")
    assert [p[1].split(":")[0] for p in previews] == [IMAGE_ID]
    assert asking_after is None
    assert [r.thread_id for r in studio.threads.visible_to(studio.viewer(MAYA))] == [asking]


def test_an_approver_rejects_edits_and_approves_to_the_pack(settings: Settings) -> None:
    studio = _studio(settings, INTAKE, COPY, WARMER)
    tid = _waiting(studio)
    assert [label.split(" · ")[-1] for label, _ in studio.waiting_threads(None, CD).choices] == [tid]
    loaded, status = studio.load_review(tid, CD)
    assert loaded is not None and [a["args"]["id"] for a in loaded["items"]] == [COPY_ID, IMAGE_ID]
    assert status.endswith("2 item(s) wait for a decision.")

    statuses, loaded = _submit(studio, loaded, [ItemChoice("reject", "warmer"), ItemChoice("approve")], CD)
    assert statuses[-1].splitlines()[-1] == (f"**Thread {tid} waits for approval of 1 item(s): open the Review tab. "
                                             f"Cost so far: {UNPRICED.format(calls=4, unpriced=3)}.**")
    assert f"- ✓ write_copy {COPY_ID}" in statuses[-1]
    assert loaded is not None
    ((action,),) = [loaded["items"]]
    assert (action["args"]["revision"], action["args"]["fields"]["headline"]) == (1, [WARMER["headline"]])

    edited = edit_text(action).replace(WARMER["headline"], "Oat power, U-Bahn hour")
    statuses, loaded = _submit(studio, loaded, [ItemChoice("edit", None, edited)], CD)
    assert loaded is None
    done = runner.status(studio.graph, tid)
    assert statuses[-1].splitlines()[-1].startswith(f"**Thread {tid} is done; pack written to {done.pack}.")
    deck = json.loads((Path(done.pack or "") / "copy_deck.json").read_text())
    assert [(c["id"], c["revision"], c["author"], c["fields"]["headline"]) for c in deck] == [
        (COPY_ID, 2, "human", ["Oat power, U-Bahn hour"])
    ]
    audit = [json.loads(line)["event"] for line in (Path(done.pack or "") / "audit.jsonl").read_text().splitlines()]
    assert [(e["item_id"], e["decision"], e["actor"], e["role"]) for e in audit if e["kind"] == "human_decision"] == [
        (COPY_ID, "reject", "cd", "approver"), (IMAGE_ID, "approve", "cd", "approver"),
        (COPY_ID, "edit", "cd", "approver"),
    ]
    assert studio.waiting_threads(None, CD).choices == []


def test_a_marketer_cannot_decide_and_nothing_changes(settings: Settings) -> None:
    studio = _studio(settings, INTAKE, COPY)
    tid = _waiting(studio)
    before = runner.status(studio.graph, tid)
    loaded, status = studio.load_review(tid, MAYA)  # she may read her own thread's items
    assert loaded is not None
    assert status.endswith("You can read them; only approvers and admins decide (maya is a marketer).")
    statuses, kept = _submit(studio, loaded, [ItemChoice("approve"), ItemChoice("approve")], MAYA)
    assert statuses == ["⚠ Not submitted: maya is a marketer: only approvers and admins submit decisions"]
    assert kept == gr.skip()
    assert runner.status(studio.graph, tid) == before


def test_decisions_that_do_not_fit_are_refused_and_change_nothing(settings: Settings) -> None:
    studio = _studio(settings, INTAKE, COPY)
    tid = _waiting(studio)
    before = runner.status(studio.graph, tid)
    loaded, _ = studio.load_review(tid, CD)
    cases = [
        ([ItemChoice(None), ItemChoice("approve")], f"choose approve, reject, edit, drop for {COPY_ID!r}"),
        ([ItemChoice("edit", None, "just text"), ItemChoice("approve")],
         f"edit of {COPY_ID!r} line 1: start with a field name and a colon (headline, caption)"),
        ([ItemChoice("approve")], "got 1 decisions for 2 items; load the thread again"),
        ([ItemChoice("approve"), ItemChoice("edit", None, "prompt: a cat")],
         f"edit of {IMAGE_ID!r} line 1: start with a field name and a colon (alt_text)"),
    ]
    for choices, line in cases:
        assert _submit(studio, loaded, choices, CD)[0] == [f"⚠ Not submitted: {line}"]
    assert _submit(studio, None, [], CD)[0] == ["⚠ Not submitted: load a thread first"]
    stale = Loaded(thread=tid, items=[{**a, "args": {**a["args"], "revision": 5}} for a in before.items])
    assert _submit(studio, stale, [ItemChoice("approve")] * 2, CD)[0] == [
        f"⚠ Not submitted: thread {tid!r} changed since you loaded it; load it again"
    ]
    assert runner.status(studio.graph, tid) == before


def test_another_marketer_can_never_see_open_review_or_download_the_thread(settings: Settings) -> None:
    studio = _studio(settings, INTAKE, COPY)
    tid = _waiting(studio)
    refused = f"⚠ no thread {tid!r} among lea's threads"
    assert studio.runs(LEA)[0] == [] and studio.runs(LEA)[1].choices == []
    assert studio.waiting_threads(None, LEA).choices == []
    assert studio.load_review(tid, LEA) == (None, refused)
    assert studio.open_run(tid, LEA) == (refused, None, [])
    forged = Loaded(thread=tid, items=runner.status(studio.graph, tid).items)
    assert _submit(studio, forged, [ItemChoice("approve")] * 2, LEA)[0] == [f"⚠ Not submitted: {refused[2:]}"]
    ((chat, box, _, _),) = list(studio.send("Instagram", "default", [], tid, LEA))
    assert (chat[-1]["content"], box) == (refused, "Instagram")
    assert [row[0] for row in studio.runs(MAYA)[0]] == [tid]
    assert [row[:4] for row in studio.runs(CD)[0]] == [[tid, BRIEF, "maya", "waiting_for_approval"]]


def test_threads_survive_a_restart_and_the_pack_downloads_as_a_zip(settings: Settings) -> None:
    first = _studio(settings, INTAKE, COPY)
    tid = _waiting(first)
    assert first.open_run(tid, MAYA)[1] is None  # no pack before approval
    _submit(first, first.load_review(tid, CD)[0], [ItemChoice("approve")] * 2, CD)

    restarted = _studio(settings)  # a new process: a new graph on the same data dir
    rows, choices = restarted.runs(MAYA)
    assert [row[:5] for row in rows] == [[tid, BRIEF, "maya", "done", "default"]]
    assert [value for _, value in choices.choices] == [tid]
    detail, download, audit = restarted.open_run(tid, MAYA)
    assert "ledger verifies: " in detail and f"Thread {tid} is done" in detail
    assert download == str(settings.data_dir / "downloads" / f"briefcraft-{tid}.zip")
    pack = Path(runner.status(restarted.graph, tid).pack or "")
    expected = sorted(p.relative_to(pack).as_posix() for p in pack.rglob("*") if p.is_file())
    with zipfile.ZipFile(download) as archive:
        assert sorted(archive.namelist()) == expected
        assert "manifest.json" in expected
        assert json.loads(archive.read("manifest.json")) == json.loads((pack / "manifest.json").read_text())
    decisions = [row for row in audit if row[2] == "human_decision"]
    assert [(row[4], row[6], row[8]) for row in decisions] == [(COPY_ID, "cd", "approve"), (IMAGE_ID, "cd", "approve")]
    assert [row[0] for row in audit] == list(range(len(audit)))
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", row[1]) for row in audit)


def test_threads_started_outside_the_studio_are_listed_and_reviewed_there(settings: Settings) -> None:
    studio = _studio(settings, INTAKE, COPY, INTAKE, COPY)
    # the CLI or a library user starts threads on the same data dir: one run by maya, one by nobody in particular
    waiting = runner.start(studio.graph, f"{BRIEF}\nMore below.", thread_id="cli-1", max_brief_chars=4000,
                           brand="acme", user="maya")
    runner.start(studio.graph, CreativeBrief(product="Oat latte", channels=["instagram_feed"]), thread_id="lib-1",
                 max_brief_chars=4000)
    rows, choices = studio.runs(CD)
    assert [row[:5] for row in rows] == [
        ["lib-1", "Oat latte (structured brief)", "unknown", "waiting_for_approval", "default"],
        ["cli-1", BRIEF, "maya", "waiting_for_approval", "acme"]]
    assert [label for label, _ in choices.choices] == ["Oat latte (structured brief) · unknown · lib-1",
                                                       f"{BRIEF} · maya · cli-1"]
    assert [row[0] for row in studio.runs(MAYA)[0]] == ["cli-1"]  # a marketer sees the threads she started
    assert studio.runs(LEA)[0] == []
    assert [value for _, value in studio.waiting_threads(None, CD).choices] == ["lib-1", "cli-1"]
    assert studio.waiting_threads(None, CD).value == "lib-1"  # the newest is chosen, the one chosen stays chosen
    assert studio.waiting_threads("cli-1", CD).value == "cli-1" and studio.waiting_threads("gone", CD).value == "lib-1"
    loaded = studio.load_review("cli-1", CD)[0]
    assert loaded is not None and [a["args"]["id"] for a in loaded["items"]] == [i["args"]["id"] for i in waiting.items]
    _submit(studio, loaded, [ItemChoice("approve")] * len(waiting.items), CD)
    assert runner.status(studio.graph, "cli-1").stage == "done"
    assert [row[:4] for row in studio.runs(CD)[0]][1] == ["cli-1", BRIEF, "maya", "done"]


def test_a_thread_whose_input_was_refused_is_not_offered_a_retry(settings: Settings) -> None:
    """A client's structured brief naming a channel the catalog lacks fails intake: the same input would fail the
    same way again, so the Runs tab asks for the brief again instead of a retry."""
    studio = _studio(settings)
    with pytest.raises(BriefError):
        studio.graph.invoke({"brief": {"product": "Oat latte", "channels": ["tiktok"]}},
                            {"configurable": {"thread_id": "client-1"}}, durability="sync")
    assert [row[:4] for row in studio.runs(CD)[0]] == [["client-1", "Oat latte (structured brief)", "unknown",
                                                        "failed"]]
    detail, download, _ = studio.open_run("client-1", CD)
    assert download is None
    assert detail.startswith("**Oat latte (structured brief)** (thread client-1 by unknown): Thread client-1 stopped "
                             "(failed): its brief was refused, and a retry would refuse it again; send the brief "
                             "again, corrected. ")
    assert "retry it from the Runs tab" not in detail and " Error: BriefError: brief: channels: " in detail


def test_edit_lines_round_trip_and_continue_multiline_values() -> None:
    action = {"name": "publish_copy", "args": {"id": "c1", "fields": {"subject": ["Hi"], "body": ["a\nb: c"]}}}
    assert edit_text(action) == "subject: Hi\nbody: a\nb: c"
    assert read_edit(action, edit_text(action)) == {"fields": {"subject": ["Hi"], "body": ["a\nb: c"]}}
    tags = {"name": "publish_copy", "args": {"id": "c2", "fields": {"tags": ["x", "y"]}}}
    assert read_edit(tags, "tags: x\ntags: y\n\n") == {"fields": {"tags": ["x", "y"]}}
    image = {"name": "publish_image", "args": {"id": "i1", "alt_text": "A bottle"}}
    assert read_edit(image, "alt_text: A bottle on a bench") == {"alt_text": "A bottle on a bench"}
    with pytest.raises(DecisionError, match=r"^edit of 'i1': give the alt text on one 'alt_text:' line$"):
        read_edit(image, "alt_text: a\nalt_text: b")
    with pytest.raises(DecisionError, match=r"^edit of 'c1' names no field; give 'name: value' lines \(subject, body\)$"):
        read_edit(action, "\n  \n")
    # the CLI's partial edit keeps the fields it does not name; the studio's editor text is the whole item
    assert edit_decision(action, "subject: Hello", partial=True)["edited_action"]["args"] == {
        "fields": {"subject": ["Hello"], "body": ["a\nb: c"]}}
    assert edit_decision(action, "subject: Hello")["edited_action"]["args"] == {"fields": {"subject": ["Hello"]}}
    assert hitl_response([action, image], [ItemChoice("reject", "  "), ItemChoice("edit", "", "alt_text: B")]) == {
        "decisions": [{"type": "reject"}, {"type": "edit", "edited_action": {"name": "publish_image",
                                                                             "args": {"alt_text": "B"}}}]
    }
    assert hitl_response([action, image], [ItemChoice("drop", "not picked"), ItemChoice("drop")]) == {
        "decisions": [{"type": "drop", "message": "not picked"}, {"type": "drop"}]
    }


def test_the_budget_box_empty_is_no_limit_and_0_is_a_budget_of_nothing(settings: Settings) -> None:
    studio = _studio(settings, INTAKE, COPY, INTAKE, COPY, INTAKE, COPY)
    limits = {}
    for budget in ("", "0", "max_cost_usd 0.50, max_gpu_seconds 120"):
        seen = {r.thread_id for r in studio.threads.visible_to(studio.viewer(MAYA))}
        list(studio.send(BRIEF, "default", [], None, MAYA, budget))
        (new,) = [r.thread_id for r in studio.threads.visible_to(studio.viewer(MAYA)) if r.thread_id not in seen]
        limits[budget] = studio.graph.get_state({"configurable": {"thread_id": new}}).values["limits"]
    # 0 is what `briefcraft run --max-cost-usd 0` gives: paid calls stop at the first gate (this fake model is free)
    assert limits == {"": Budget(), "0": Budget(max_cost_usd=0.0),
                      "max_cost_usd 0.50, max_gpu_seconds 120": Budget(max_cost_usd=0.5, max_gpu_seconds=120)}
    # a budget it cannot read: one line, the brief stays in the box, and no thread is started
    chat, text, _, _ = list(studio.send(BRIEF, "default", [], None, MAYA, "cheap"))[-1]
    assert chat[-1]["content"] == "⚠ budget: max_cost_usd: Input should be a valid number, unable to parse string as a number"
    assert text == BRIEF and len(studio.threads.visible_to(studio.viewer(MAYA))) == 3


def test_a_budget_reply_in_the_chat() -> None:
    assert read_limits("max_cost_usd 0.5") == Budget(max_cost_usd=0.5)
    assert read_limits(" $0.75 ") == Budget(max_cost_usd=0.75)
    assert read_limits("max_cost_usd=1, max_gpu_seconds: 60") == Budget(max_cost_usd=1, max_gpu_seconds=60)
    for text in ("max_cost_usd 1 max_gpu_seconds", "max_tokens 5"):
        with pytest.raises(DecisionError, match=r"^a budget is an amount in USD or limits by name, e\.g\. "
                                                r"'max_cost_usd 0\.50'; allowed: "
                                                r"max_cost_usd, max_gpu_seconds, max_revision_rounds \(got "):
            read_limits(text)
    with pytest.raises(DecisionError, match=r"^budget: max_cost_usd: Input should be greater than or equal to 0"):
        read_limits("max_cost_usd -1")
    with pytest.raises(DecisionError, match=r"^budget: max_cost_usd: Input should be a valid number"):
        read_limits("lots")


def test_logins_and_roles(settings: Settings) -> None:
    assert check_login(settings, "cd", "cd-pw") and not check_login(settings, "cd", "maya-pw")
    assert not check_login(settings, "nobody", "")
    studio = _studio(settings)
    assert (studio.viewer(CD).name, studio.viewer(CD).role, studio.viewer(CD).decides) == ("cd", "approver", True)
    assert not studio.viewer(MAYA).sees_all
    with pytest.raises(ConfigError, match=r"^user 'eve' is not in BRIEFCRAFT_UI_USERS; log in again$"):
        studio.viewer(gr.Request(username="eve"))
    local = _studio(settings.model_copy(update={"ui_users": {}}))
    assert (local.viewer(gr.Request()).name, local.viewer(gr.Request()).role) == ("local", "admin")


def test_the_blocks_carry_the_elem_id_contract(settings: Settings) -> None:
    graph = build_graph(settings, chat_model=GenericFakeChatModel(messages=iter([])), memory=DefaultBrandMemory())
    demo = build_studio(settings.model_copy(update={"brand": "northbound", "ui_concurrency": 3}), graph=graph)
    ids = {block.elem_id: block for block in demo.blocks.values() if block.elem_id}
    assert set(ids) == {
        "brief-chat", "brief-input", "brief-brand", "brief-budget", "brief-send", "brief-previews", "review-thread",
        "review-load",
        "review-submit", "review-status", "runs-table", "runs-refresh", "runs-thread", "runs-open", "runs-download",
        "runs-audit", "runs-detail", "runs-retry",
    }
    assert ids["brief-brand"].value == "northbound"
    assert demo._queue.default_concurrency_limit == 3
    # brief-send queues apart from runs-retry (and review-submit, wired per render): a new brief's first steps
    # never wait behind other threads' final renders
    runs = {(d.concurrency_id, d.concurrency_limit) for d in demo.fns.values() if d.concurrency_id in ("briefs",
                                                                                                          "decisions")}
    assert runs == {("briefs", 3), ("decisions", 3)}

