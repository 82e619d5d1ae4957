"""Approval cannot be bypassed, and one checkpoint takes one decision.

The compiled graph's structure (every path from START to ``export`` goes through ``review``), what export lets out
(only items whose exact content a reviewer approved, as the audit records it: forged decisions and items changed
after their approval are refused), and two approvers at once (two threads of one process, two processes, two studio
sessions): exactly one decision is applied, the other is told why. The graph runs on ``FastChat`` (fixed answers):
these tests are about orchestration.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import gradio as gr
import pytest
from langgraph.types import Command
from pydantic import SecretStr

from briefcraft.errors import AuditError, BriefcraftError, DecisionError, ThreadError
from briefcraft.evals.fakes import FastChat
from briefcraft.graphs import runner
from briefcraft.graphs.brief_graph import build_graph
from briefcraft.memory.store import DefaultBrandMemory
from briefcraft.schemas import AuditEvent, CopyVariant, ReviewDecision
from briefcraft.settings import Settings, UiUser
from briefcraft.tools.audit import item_hash
from briefcraft.ui.studio import ItemChoice, Studio

IG, EMAIL, IMG_IG, IMG_EMAIL = "copy-instagram_feed-1", "copy-email-1", "img-instagram_feed-1", "img-email-1"
#: The nodes a run can reach from START without passing review.
BEFORE_REVIEW = {"__start__", "intake", "ask_clarification", "recall_brand", "plan", "budget_work", "write_copy",
                 "make_visual", "check_compliance", "budget_fix", "review"}
APPROVE, DROP = {"type": "approve"}, {"type": "drop"}
COPIES_ONLY = {"decisions": [APPROVE, APPROVE, DROP, DROP]}  # approve the copy, leave the images out
NOTHING = {"decisions": [DROP] * 4}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """No automatic fixing round, so revision numbers count review rounds only."""
    return settings.model_copy(update={"compliance_autofix": False})


@pytest.fixture
def graph(settings: Settings) -> Any:
    return build_graph(settings, chat_model=FastChat(), memory=DefaultBrandMemory())


def _start(graph: Any, settings: Settings, brief: str, thread: str = "t1") -> runner.RunStatus:
    current = runner.start(graph, brief, thread_id=thread, max_brief_chars=settings.max_brief_chars, user="maya")
    assert [a["args"]["id"] for a in current.items] == [IG, EMAIL, IMG_IG, IMG_EMAIL]
    return current


def _config(thread: str = "t1") -> dict[str, Any]:
    return {"configurable": {"thread_id": thread}}


def _deck(pack: str | None) -> list[CopyVariant]:
    text = (Path(pack or "") / "copy_deck.json").read_text(encoding="utf-8")
    return [CopyVariant.model_validate(copy) for copy in json.loads(text)]


def _approvals(graph: Any, thread: str = "t1") -> set[tuple[str | None, int | None, str | None, str | None]]:
    """(item, revision, sha256, who) of every approval (or approved edit) the audit records."""
    audit: list[AuditEvent] = graph.get_state(_config(thread)).values["audit"]
    return {(e.item_id, e.revision, e.sha256, e.actor) for e in audit
            if e.kind == "human_decision" and e.decision in ("approve", "edit")}


# --- A. approval cannot be bypassed ------------------------------------------------------------------------


def test_every_path_from_start_to_export_passes_the_review_interrupt(graph: Any) -> None:
    drawn = graph.get_graph()
    edges = {(edge.source, edge.target) for edge in drawn.edges}

    def reachable(without: set[str]) -> set[str]:
        seen, todo = {"__start__"}, ["__start__"]
        while todo:
            node = todo.pop()
            for source, target in edges:
                if source == node and target not in seen | without:
                    seen.add(target)
                    todo.append(target)
        return seen

    assert {"export", "finalize", "__end__"} <= reachable(set())
    assert reachable({"review"}) == BEFORE_REVIEW - {"review"}  # without review: no finalize, no export
    into = {target: {s for s, t in edges if t == target} for target in ("export", "finalize", "budget_review")}
    assert into == {"export": {"finalize"}, "finalize": {"budget_review"}, "budget_review": {"review"}}
    # the routers' possible targets are drawn (conditional edges), so the walk above covers them
    assert {(e.source, e.target) for e in drawn.edges if e.conditional} >= {
        ("budget_review", "finalize"), ("budget_review", "write_copy"), ("budget_review", "make_visual"),
        ("budget_review", "check_compliance"), ("check_compliance", "review"), ("check_compliance", "budget_fix"),
    }


def test_the_run_waits_at_the_review_interrupt_with_every_item(graph: Any, settings: Settings,
                                                               sample_brief: str) -> None:
    current = _start(graph, settings, sample_brief)
    snapshot = graph.get_state(_config())
    assert current.stage == "waiting_for_approval"
    assert snapshot.next == ("review",)
    assert [(task.name, len(task.interrupts)) for task in snapshot.tasks] == [("review", 1)]
    assert "manifest" not in snapshot.values and snapshot.values.get("finals", []) == []


def test_only_the_items_a_reviewer_approved_are_exported(graph: Any, settings: Settings, sample_brief: str) -> None:
    current = _start(graph, settings, sample_brief)
    response = {"decisions": [APPROVE, DROP, APPROVE, {"type": "reject", "message": "calmer colours"}]}
    second = runner.resume(graph, "t1", response, user="cd", checkpoint=current.checkpoint)
    assert [(a["args"]["id"], a["args"]["revision"]) for a in second.items] == [(IMG_EMAIL, 1)]
    done = runner.resume(graph, "t1", {"decisions": [DROP]}, user="cd", checkpoint=second.checkpoint)
    assert done.stage == "done"
    state = graph.get_state(_config()).values
    (copy,) = _deck(done.pack)
    (preview,) = [image for image in state["images"] if image.id == IMG_IG]
    assert (copy.id, copy.revision) == (IG, 0)
    assert _approvals(graph) == {(IG, 0, item_hash(copy), "cd"), (IMG_IG, 0, item_hash(preview), "cd")}
    manifest = json.loads((Path(done.pack or "") / "manifest.json").read_text(encoding="utf-8"))
    assert {image["source_id"] for image in manifest["images"]} == {IMG_IG}
    assert {p.parent.name for p in (Path(done.pack or "") / "assets").rglob("*.png")} == {"instagram_feed"}


@pytest.mark.parametrize("forged_audit", [False, True], ids=["decisions-only", "with-audit-of-another-sha256"])
@pytest.mark.parametrize(("decisions", "refused"), [
    (["approve"] * 4, IMG_IG),  # finalize refuses before rendering anything in full
    (["approve", "approve", "drop", "drop"], IG),  # export refuses the copy
], ids=["images", "copy"])
def test_an_approval_put_into_the_state_without_the_review_is_refused(
    graph: Any, settings: Settings, sample_brief: str, forged_audit: bool, decisions: list[str], refused: str
) -> None:
    current = _start(graph, settings, sample_brief)
    forged = [ReviewDecision(item_id=a["args"]["id"], revision=0, action=action, reviewer="mallory")  # type: ignore[arg-type]
              for a, action in zip(current.items, decisions, strict=True)]
    update: dict[str, Any] = {"decisions": forged}
    if forged_audit:  # an audit line that claims the approval, for content other than the item's
        update["audit"] = [AuditEvent(kind="human_decision", node="review", item_id=d.item_id, revision=0,
                                      sha256="0" * 64, actor="mallory", decision=d.action, at=d.at) for d in forged]
    graph.update_state(_config(), update, as_node="budget_review")  # straight past review, as an API client could
    with pytest.raises(AuditError) as caught:
        graph.invoke(None, _config(), durability="sync")
    state = graph.get_state(_config()).values
    digest = item_hash(next(i for i in [*state["copy"], *state["images"]] if i.id == refused))
    line = (f"export refused: {refused!r} revision 0 (sha256 {digest[:16]}) has no recorded human approval of its "
            "exact content; only what a reviewer approved is exported")
    assert str(caught.value) == line
    assert runner.status(graph, "t1").stage == "failed"
    assert "manifest" not in state and state.get("finals", []) == []
    assert not (settings.packs_dir / "t1").exists()


def test_an_item_changed_after_its_approval_is_not_exported(graph: Any, settings: Settings,
                                                            sample_brief: str) -> None:
    _start(graph, settings, sample_brief)
    # approve through the review, stop before export, then change the approved copy's text
    graph.invoke(Command(resume=COPIES_ONLY), _config(), durability="sync", interrupt_before=["export"])
    assert graph.get_state(_config()).next == ("export",)
    copy = next(c for c in graph.get_state(_config()).values["copy"] if c.id == IG)
    changed = copy.model_copy(update={"fields": {**copy.fields, "headline": ["Cheap cold brew"]}})
    graph.update_state(_config(), {"copy": [changed]}, as_node="finalize")
    with pytest.raises(AuditError, match=rf"^export refused: '{IG}' revision 0 \(sha256 {item_hash(changed)[:16]}\)"):
        graph.invoke(None, _config(), durability="sync")
    assert not (settings.packs_dir / "t1").exists()


@pytest.mark.parametrize(("caption", "rounds"), [
    ("Slow-steeped oat cold brew. Contains oats", 1),  # passes the checks: the edit is the approval
    ("Cheap oat cold brew. Contains oats", 2),  # a forbidden term: the edited revision goes back to review
], ids=["clean-edit", "edit-that-fails-the-checks"])
def test_an_edited_item_is_exported_only_in_its_edited_approved_form(
    graph: Any, settings: Settings, sample_brief: str, caption: str, rounds: int
) -> None:
    current = _start(graph, settings, sample_brief)
    original = current.items[0]["args"]["fields"]
    edit = {"type": "edit", "edited_action": {"name": "publish_copy",
                                              "args": {"fields": {**original, "caption": [caption]}}}}
    after = runner.resume(graph, "t1", {"decisions": [edit, DROP, DROP, DROP]}, user="cd",
                          checkpoint=current.checkpoint)
    if rounds == 2:
        assert [(a["args"]["id"], a["args"]["revision"], a["args"]["fields"]["caption"]) for a in after.items] == [
            (IG, 1, [caption])
        ]
        after = runner.resume(graph, "t1", {"decisions": [APPROVE]}, user="ana", checkpoint=after.checkpoint)
    assert after.stage == "done"
    (copy,) = _deck(after.pack)
    assert (copy.id, copy.revision, copy.author, copy.fields["caption"]) == (IG, 1, "human", [caption])
    deciders = {"cd"} if rounds == 1 else {"cd", "ana"}  # the failed edit is recorded too, for its new content
    assert _approvals(graph) == {(IG, 1, item_hash(copy), who) for who in deciders}
    assert original["caption"][0] not in (Path(after.pack or "") / "copy_deck.md").read_text(encoding="utf-8")


# --- B. one decision per checkpoint ------------------------------------------------------------------------


def _applied_first(thread: str, by: str) -> str:
    return f"thread {thread!r}: another decision was applied to this checkpoint first (by {by}); reload and decide " \
        "again"


def _running(thread: str, holder: str) -> str:
    return f"thread {thread!r} is running ({holder}): another run or decision is being applied to it; wait for it " \
        "to finish, then reload and decide again"


def test_a_decision_submitted_twice_is_refused_the_second_time(graph: Any, settings: Settings,
                                                               sample_brief: str) -> None:
    current = _start(graph, settings, sample_brief)
    rework = {"decisions": [{"type": "reject", "message": "warmer"}] * 4}
    second = runner.resume(graph, "t1", rework, user="cd", checkpoint=current.checkpoint)
    assert [a["args"]["revision"] for a in second.items] == [1, 1, 1, 1]  # the same decisions would fit here too
    with pytest.raises(DecisionError) as caught:
        runner.resume(graph, "t1", rework, user="cd", checkpoint=current.checkpoint)
    assert str(caught.value) == _applied_first("t1", "cd")
    assert runner.status(graph, "t1") == second
    done = runner.resume(graph, "t1", NOTHING, user="ana", checkpoint=second.checkpoint)
    with pytest.raises(DecisionError) as caught:  # once done, a late decision is told who decided, not just "done"
        runner.resume(graph, "t1", NOTHING, user="cd", checkpoint=second.checkpoint)
    assert str(caught.value) == _applied_first("t1", "ana")
    with pytest.raises(DecisionError, match=r"^thread 't1' has no checkpoint 'nope'; reload it and decide again$"):
        runner.resume(graph, "t1", NOTHING, checkpoint="nope")
    assert runner.status(graph, "t1") == done


def test_a_thread_another_run_holds_is_refused_naming_who_holds_it(graph: Any, settings: Settings,
                                                                   sample_brief: str) -> None:
    current = _start(graph, settings, sample_brief)
    with runner.claim(graph, "t1", user="cd"):
        assert runner.running() == {"t1": f"cd, pid {os.getpid()}"}
        with pytest.raises(ThreadError) as caught:
            runner.resume(graph, "t1", COPIES_ONLY, user="ana", checkpoint=current.checkpoint)
        assert str(caught.value) == _running("t1", f"cd, pid {os.getpid()}")
    assert runner.running() == {}
    assert runner.status(graph, "t1") == current
    assert runner.resume(graph, "t1", COPIES_ONLY, user="ana", checkpoint=current.checkpoint).stage == "done"


def _race_in_process(graph: Any, thread: str, checkpoint: str | None) -> dict[str, runner.RunStatus | str]:
    """cd (approve the copy) and ana (drop everything) submit on one checkpoint at once, from two threads."""
    outcome: dict[str, runner.RunStatus | str] = {}
    barrier = threading.Barrier(2)

    def submit(user: str, response: dict[str, Any]) -> None:
        barrier.wait()
        try:
            outcome[user] = runner.resume(graph, thread, response, user=user, checkpoint=checkpoint)
        except BriefcraftError as error:
            outcome[user] = str(error)

    workers = [threading.Thread(target=submit, args=args) for args in (("cd", COPIES_ONLY), ("ana", NOTHING))]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return outcome


def _exactly_one_applied(graph: Any, thread: str, outcome: dict[str, runner.RunStatus | str], pid: int) -> str:
    """The winner, after checking that only its decisions are recorded and the loser was told why."""
    (winner,) = [user for user, result in outcome.items() if isinstance(result, runner.RunStatus)]
    (loser,) = set(outcome) - {winner}
    told = {_running(thread, f"{winner}, pid {pid}"): "still running", _applied_first(thread, winner): "applied first",
            # another process that finds the lock taken before its holder has written its name there
            _running(thread, "in another process"): "still running"}
    assert outcome[loser] in told
    decisions = graph.get_state(_config(thread)).values["decisions"]
    expected = ["approve", "approve", "drop", "drop"] if winner == "cd" else ["drop"] * 4
    assert [(d.reviewer, d.action) for d in decisions] == [(winner, action) for action in expected]
    assert runner.status(graph, thread).stage == "done"
    return told[str(outcome[loser])]


ROUNDS = 6


def test_two_approvers_at_once_in_one_process_exactly_one_decision_applies(graph: Any, settings: Settings,
                                                                          sample_brief: str) -> None:
    told = []
    for n in range(ROUNDS):
        current = _start(graph, settings, sample_brief, thread=f"r{n}")
        outcome = _race_in_process(graph, f"r{n}", current.checkpoint)
        told.append(_exactly_one_applied(graph, f"r{n}", outcome, os.getpid()))
    print(f"in-process: {ROUNDS} races, {ROUNDS} with exactly one decision applied; losers told: {sorted(told)}")


_SUBMIT = """
import json, sys
from pathlib import Path
from briefcraft.errors import BriefcraftError
from briefcraft.evals.fakes import FastChat
from briefcraft.graphs import runner
from briefcraft.graphs.brief_graph import build_graph
from briefcraft.memory.store import DefaultBrandMemory
from briefcraft.settings import Settings

data, thread, checkpoint, user, response = sys.argv[1:]
settings = Settings(_env_file=None, data_dir=Path(data), compliance_autofix=False)
graph = build_graph(settings, chat_model=FastChat(), memory=DefaultBrandMemory())
print("ready", flush=True)
sys.stdin.readline()  # both processes submit when the test says go
try:
    outcome = runner.resume(graph, thread, json.loads(response), user=user, checkpoint=checkpoint).stage
except BriefcraftError as error:
    outcome = str(error)
print(json.dumps({"pid": __import__("os").getpid(), "outcome": outcome}), flush=True)
"""


def _submitter(settings: Settings, thread: str, checkpoint: str | None, user: str,
               response: dict[str, Any]) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-c", _SUBMIT, str(settings.data_dir), thread, checkpoint or "", user, json.dumps(response)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    assert process.stdout is not None and process.stdout.readline() == "ready\n"
    return process


def _outcome(process: subprocess.Popen[str]) -> tuple[int, str]:
    out, _ = process.communicate(timeout=120)
    assert process.returncode == 0
    result = json.loads(out)
    return result["pid"], result["outcome"]


def test_two_processes_on_one_data_dir_exactly_one_decision_applies(graph: Any, settings: Settings,
                                                                    sample_brief: str) -> None:
    # a held thread: another process is refused at once, naming this one
    current = _start(graph, settings, sample_brief, thread="held")
    with runner.claim(graph, "held", user="cd"):
        assert _outcome(_submitter(settings, "held", current.checkpoint, "ana", NOTHING))[1] == \
            _running("held", f"cd, pid {os.getpid()}")
    assert runner.status(graph, "held") == current
    # two processes let go at once
    told = []
    for n in range(ROUNDS // 2):
        thread = f"p{n}"
        current = _start(graph, settings, sample_brief, thread=thread)
        processes = {user: _submitter(settings, thread, current.checkpoint, user, response)
                     for user, response in (("cd", COPIES_ONLY), ("ana", NOTHING))}
        for process in processes.values():
            assert process.stdin is not None
            process.stdin.write("go\n")
            process.stdin.flush()
        results = {user: _outcome(process) for user, process in processes.items()}
        outcome: dict[str, runner.RunStatus | str] = {
            user: runner.status(graph, thread) if text == "done" else text for user, (_, text) in results.items()
        }
        winner = next(user for user, (_, text) in results.items() if text == "done")
        told.append(_exactly_one_applied(graph, thread, outcome, results[winner][0]))
    print(f"two processes: {ROUNDS // 2} races, {ROUNDS // 2} with exactly one decision applied; losers told: "
          f"{sorted(told)}")


def test_two_studio_approvers_on_one_checkpoint_the_second_is_told_who_decided(settings: Settings,
                                                                              sample_brief: str) -> None:
    users = {name: UiUser(password=SecretStr(f"{name}-pw"), role="approver") for name in ("cd", "ana")}
    studio = Studio(settings.model_copy(update={"ui_users": users}),
                    build_graph(settings, chat_model=FastChat(), memory=DefaultBrandMemory()))
    cd, ana = gr.Request(username="cd"), gr.Request(username="ana")
    list(studio.send(sample_brief, "default", [], None, cd))
    (record,) = studio.threads.visible_to(studio.viewer(cd))
    tid = record.thread_id
    (first, _), (second, _) = studio.load_review(tid, cd), studio.load_review(tid, ana)
    assert first is not None and second is not None and first["checkpoint"] == second["checkpoint"]
    done = list(studio.submit_review(first, [ItemChoice("drop")] * 4, cd))
    assert f"**Thread {tid} is done; pack written to {settings.packs_dir / tid}." in done[-1][0]
    assert list(studio.submit_review(second, [ItemChoice("approve")] * 4, ana)) == [
        (f"⚠ Not submitted: {_applied_first(tid, 'cd')}", gr.skip())
    ]
    decisions = studio.graph.get_state(_config(tid)).values["decisions"]
    assert [(d.reviewer, d.action) for d in decisions] == [("cd", "drop")] * 4
