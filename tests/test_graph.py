"""The brief graph on real parts: the local model, SQLite checkpoints, the layout renderer, real checks."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from langchain_core.language_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from langgraph.types import Command

from briefcraft.agents.intake import clarifying_question
from briefcraft.agents.models import LocalLlamaChat
from briefcraft.channels import get_channel
from briefcraft.errors import DecisionError, ThreadError
from briefcraft.graphs import runner
from briefcraft.graphs.brief_graph import build_graph
from briefcraft.schemas import CreativeBrief
from briefcraft.settings import Settings

pytestmark = pytest.mark.llm


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The review protocol's tests run without the automatic fixing round (test_graph_compliance.py covers it),
    so their revision numbers count human rounds only."""
    return settings.model_copy(update={"compliance_autofix": False})


@pytest.fixture
def graph(settings: Settings, local_model: LocalLlamaChat) -> Any:
    return build_graph(settings, chat_model=local_model)


def _start(graph: Any, settings: Settings, brief: str | CreativeBrief, thread: str = "t1") -> runner.RunStatus:
    return runner.start(graph, brief, thread_id=thread, max_brief_chars=settings.max_brief_chars, user="maya")


def test_sample_brief_reaches_review_with_every_item(graph: Any, settings: Settings, sample_brief: str) -> None:
    current = _start(graph, settings, sample_brief)
    assert current.stage == "waiting_for_approval"
    request = current.request
    assert request is not None
    names = [(a["name"], a["args"]["id"]) for a in request["action_requests"]]
    assert names == [
        ("publish_copy", "copy-instagram_feed-1"), ("publish_copy", "copy-email-1"),
        ("publish_image", "img-instagram_feed-1"), ("publish_image", "img-email-1"),
    ]
    assert {c["action_name"]: c["allowed_decisions"] for c in request["review_configs"]} == {
        "publish_copy": ["approve", "edit", "reject"], "publish_image": ["approve", "edit", "reject"],
    }
    state = graph.get_state({"configurable": {"thread_id": "t1"}}).values
    brief = state["brief"]
    assert (brief.channels, brief.mandatory_elements, brief.forbidden_terms) == (
        ["instagram_feed", "email"], ["Contains oats"], ["cheap"]
    )
    for copy in state["copy"]:
        assert "contains oats" in " ".join(v for vs in copy.fields.values() for v in vs).lower()
    assert all(i.renderer == "layout" and "not AI imagery" in i.label for i in state["images"])


def test_external_hitl_response_rejects_edits_and_approves(graph: Any, settings: Settings, sample_brief: str) -> None:
    """Resume with plain HITLResponse dicts, as LangGraph Studio or Agent Chat UI would send them."""
    _start(graph, settings, sample_brief)
    config = {"configurable": {"thread_id": "t1", "user_id": "cd@brand.example", "user_role": "approver"}}
    edited_args = {"fields": {"headline": ["Oat power, U-Bahn hour"], "caption": ["Smooth. Contains oats."]}}
    response = {"decisions": [
        {"type": "edit", "edited_action": {"name": "publish_copy", "args": edited_args}},
        {"type": "reject", "message": "Make it warmer"},
        {"type": "approve"},
        {"type": "approve"},
    ]}
    graph.invoke(Command(resume=response), config, durability="sync")
    second = runner.status(graph, "t1")
    assert second.stage == "waiting_for_approval"
    assert [(a["args"]["id"], a["args"]["revision"]) for a in second.items] == [("copy-email-1", 1)]
    graph.invoke(Command(resume={"decisions": [{"type": "approve"}]}), config, durability="sync")
    done = runner.status(graph, "t1")
    assert done.stage == "done"
    pack = Path(done.pack or "")
    deck = {c["id"]: c for c in json.loads((pack / "copy_deck.json").read_text())}
    assert deck["copy-instagram_feed-1"]["fields"]["headline"] == ["Oat power, U-Bahn hour"]
    assert deck["copy-instagram_feed-1"]["author"] == "human"
    assert deck["copy-email-1"]["revision"] == 1
    decisions = [json.loads(line)["event"] for line in (pack / "audit.jsonl").read_text().splitlines()]
    human = [(e["item_id"], e["decision"], e["actor"]) for e in decisions if e["kind"] == "human_decision"]
    assert human == [
        ("copy-instagram_feed-1", "edit", "cd@brand.example"), ("copy-email-1", "reject", "cd@brand.example"),
        ("img-instagram_feed-1", "approve", "cd@brand.example"), ("img-email-1", "approve", "cd@brand.example"),
        ("copy-email-1", "approve", "cd@brand.example"),
    ]
    # The final for the instagram image carries the edited headline.
    state = graph.get_state(config).values
    finals = [f for f in state["finals"] if f.channel == "instagram_feed"]
    assert {f.headline for f in finals} == {"Oat power, U-Bahn hour"}
    assert sorted((f.width, f.height) for f in finals) == [(1080, 1080), (1080, 1350)]


def test_edit_that_breaks_a_limit_goes_back_to_review(graph: Any, settings: Settings, sample_brief: str) -> None:
    current = _start(graph, settings, sample_brief)
    too_long = {"fields": {"headline": ["x" * 41], "caption": ["Contains oats"]}}
    decisions = [{"type": "edit", "edited_action": {"name": "publish_copy", "args": too_long}}]
    decisions += [{"type": "approve"}] * (len(current.items) - 1)
    after = runner.resume(graph, "t1", {"decisions": decisions}, user="cd")
    assert [(a["args"]["id"], a["args"]["revision"]) for a in after.items] == [("copy-instagram_feed-1", 1)]
    assert "ERROR channel-limit.max_chars: headline is 41 characters; the limit is 40" in after.items[0]["description"]


def test_rejections_are_bounded(settings: Settings, local_model: LocalLlamaChat, sample_brief: str) -> None:
    graph = build_graph(settings.model_copy(update={"max_revision_rounds": 1}), chat_model=local_model)
    current = _start(graph, settings, sample_brief)
    reject_email = [{"type": "reject", "message": "no"} if a["args"]["id"] == "copy-email-1" else {"type": "approve"}
                    for a in current.items]
    current = runner.resume(graph, "t1", {"decisions": reject_email})
    assert [a["args"]["id"] for a in current.items] == ["copy-email-1"]
    done = runner.resume(graph, "t1", {"decisions": [{"type": "reject", "message": "still no"}]})
    assert done.stage == "done"
    deck = json.loads((Path(done.pack or "") / "copy_deck.json").read_text())
    assert [c["id"] for c in deck] == ["copy-instagram_feed-1"]


def test_image_variants_one_is_picked_the_others_dropped_one_regenerated(
    settings: Settings, local_model: LocalLlamaChat
) -> None:
    graph = build_graph(settings.model_copy(update={"image_variants": 3}), chat_model=local_model)
    brief = CreativeBrief(product="Linen tote", channels=["etsy_listing"], deliverables=["image"])
    current = _start(graph, settings, brief)
    images = [a["args"] for a in current.items]
    assert [(i["id"], i["variant"]) for i in images] == [("img-etsy_listing-1", 1), ("img-etsy_listing-2", 2),
                                                           ("img-etsy_listing-3", 3)]
    assert len({i["seed"] for i in images}) == 3 and len({i["sha256"] for i in images}) == 3
    # pick variant 2, drop variant 1, ask for a new render of variant 3
    after = runner.resume(graph, "t1", {"decisions": [{"type": "drop", "message": "not this one"}, {"type": "approve"},
                                                      {"type": "reject"}]}, user="cd")
    (redo,) = after.items
    assert (redo["args"]["id"], redo["args"]["revision"]) == ("img-etsy_listing-3", 1)
    assert redo["args"]["seed"] == images[2]["seed"] + 1 and redo["args"]["sha256"] != images[2]["sha256"]
    done = runner.resume(graph, "t1", {"decisions": [{"type": "drop"}]}, user="cd")
    assert done.stage == "done"
    manifest = json.loads((Path(done.pack or "") / "manifest.json").read_text())
    assert {i["source_id"] for i in manifest["images"]} == {"img-etsy_listing-2"}
    audit = graph.get_state({"configurable": {"thread_id": "t1"}}).values["audit"]
    assert [(e.item_id, e.revision, e.decision, e.comment) for e in audit if e.kind == "human_decision"] == [
        ("img-etsy_listing-1", 0, "drop", "not this one"), ("img-etsy_listing-2", 0, "approve", None),
        ("img-etsy_listing-3", 0, "reject", None), ("img-etsy_listing-3", 1, "drop", None),
    ]
    # every render and stamp names the revision it made: the rewrite's picture is revision 1, the finals are
    # refined from revision 0 of variant 2
    made = {(e.kind, e.node, e.item_id.split("-", 3)[-1] if e.item_id else None, e.revision) for e in audit
            if e.kind in ("render", "provenance")}
    assert ("render", "make_visual", "3", 1) in made and ("render", "make_visual", "3", 0) in made
    assert {revision for kind, node, _, revision in made if node == "finalize"} == {0}
    assert {kind for kind, node, _, _ in made if node == "finalize"} == {"render", "provenance"}


def test_clarifying_question_then_answer(graph: Any, settings: Settings) -> None:
    request = "Launch our oat-milk cold brew to Berlin commuters. Playful but premium."
    current = _start(graph, settings, request)
    assert current.stage == "waiting_for_clarification"
    assert current.question == clarifying_question(["channels"], request)
    assert current.request is not None
    assert current.request["review_configs"] == [{"action_name": "ask_user", "allowed_decisions": ["respond"]}]
    answered = runner.resume(graph, "t1", {"decisions": [{"type": "respond", "message": "X and LinkedIn"}]})
    assert answered.stage == "waiting_for_approval"
    assert [a["args"]["id"] for a in answered.items if a["name"] == "publish_copy"] == [  # in the answer's order
        "copy-x_post-1", "copy-linkedin_post-1"
    ]


def test_malformed_decisions_leave_the_thread_resumable(graph: Any, settings: Settings, sample_brief: str) -> None:
    current = _start(graph, settings, sample_brief)
    bad = [
        {"decisions": [{"type": "approve"}]},
        {"decisions": "yes"},
        {"decisions": [{"type": "maybe"}] * len(current.items)},
    ]
    for response in bad:
        with pytest.raises(DecisionError):
            runner.resume(graph, "t1", response)
    assert runner.status(graph, "t1") == current
    done = runner.resume(graph, "t1", runner.approve_all(current))
    assert done.stage == "done"
    with pytest.raises(ThreadError, match="is done; nothing to resume"):
        runner.resume(graph, "t1", runner.approve_all(current))


def test_unknown_thread_and_duplicate_start(graph: Any, settings: Settings, sample_brief: str) -> None:
    with pytest.raises(ThreadError, match="unknown thread 'nope'"):
        runner.status(graph, "nope")
    _start(graph, settings, sample_brief)
    with pytest.raises(ThreadError, match="already exists"):
        _start(graph, settings, sample_brief)


def test_structured_brief_skips_intake_model_call(graph: Any, settings: Settings) -> None:
    brief = CreativeBrief(product="Linen tote", channels=["etsy_listing", "google_rsa"], mandatory_elements=["Handmade"])
    current = _start(graph, settings, brief)
    assert [a["args"]["id"] for a in current.items] == ["copy-etsy_listing-1", "copy-google_rsa-1", "img-etsy_listing-1"]
    audit = graph.get_state({"configurable": {"thread_id": "t1"}}).values["audit"]
    assert [e.node for e in audit if e.kind == "model_call"].count("intake") == 0
    etsy = current.items[0]["args"]["fields"]
    tags = get_channel("etsy_listing").field("tags")  # 13 asked for; what Etsy does not take, and repeats, removed
    assert tags.chars is not None and 1 <= len(etsy["tags"]) <= 13
    assert all(len(t) <= 20 and tags.chars.refused(t) == [] for t in etsy["tags"]) and tags.repeats(etsy["tags"]) == []


def test_export_only_reachable_through_review(graph: Any) -> None:
    edges = {(e.source, e.target) for e in graph.get_graph().edges}
    assert {s for s, t in edges if t == "export"} == {"finalize"}
    assert {s for s, t in edges if t == "finalize"} == {"budget_review"}  # the budget gate after each review
    assert {s for s, t in edges if t == "budget_review"} == {"review"}
    assert {s for s, t in edges if t == "review"} == {"check_compliance"}


def test_paused_run_resumes_from_a_new_graph_on_the_same_file(
    settings: Settings, local_model: LocalLlamaChat, sample_brief: str
) -> None:
    first = build_graph(settings, chat_model=local_model)
    current = _start(first, settings, sample_brief)
    second = build_graph(settings, chat_model=local_model)  # a new SqliteSaver connection on the same file
    assert runner.status(second, "t1") == current
    assert runner.resume(second, "t1", runner.approve_all(current)).stage == "done"


def test_the_review_says_which_model_replies_were_read_without_their_limits(settings: Settings) -> None:
    """A provider whose copy replies break the schema's limits (a cloud model; the local one decodes within them):
    the review item says so, for the revision that reply wrote and not for the rewrite after a rejection."""
    too_long = json.dumps({"headline": "Linen totes, woven slowly, for every market morning", "caption": "Carry it."})
    fits = json.dumps({"headline": "Linen totes", "caption": "Woven slowly."})
    model = GenericFakeChatModel(messages=iter([AIMessage(too_long), AIMessage(too_long), AIMessage(fits)]))
    graph = build_graph(settings.model_copy(update={"compliance_llm_review": False}), chat_model=model)
    brief = CreativeBrief(product="Linen tote", channels=["instagram_feed"], deliverables=["copy"])
    current = _start(graph, settings, brief)
    (item,) = current.items
    assert item["args"]["revision"] == 0 and len(item["args"]["fields"]["headline"][0]) <= 40  # code fitted it
    assert ("Model reply: read without the InstagramFeedCopy schema's limits (headline: String should have at most "
            "40 characters)") in item["description"].splitlines()
    current = runner.resume(graph, "t1", {"decisions": [{"type": "reject", "message": "shorter"}]}, user="maya")
    (item,) = current.items
    assert item["args"]["revision"] == 1 and "Model reply" not in item["description"]
    audit = graph.get_state({"configurable": {"thread_id": "t1"}}).values["audit"]
    assert [(e.revision, e.comment is not None) for e in audit if e.kind == "model_call"] == [
        (0, False), (0, True), (1, False)]


def test_the_graph_runs_async_on_its_default_checkpoints(graph: Any) -> None:
    """A developer's async app (FastAPI, an agent server): astream, aget_state, its history and ainvoke on the
    default SQLite checkpoints, which SqliteSaver alone refuses; the synchronous runner reads the same thread."""
    config = {"configurable": {"thread_id": "async"}}

    async def drive() -> tuple[list[str], Any, list[Any], dict[str, Any]]:
        steps = [next(iter(update)) async for update in graph.astream(
            {"request": "Promote our linen tote bags on email.", "brand_id": "acme"}, config,
            stream_mode="updates", durability="sync")]
        waiting = await graph.aget_state(config)
        history = [snapshot async for snapshot in graph.aget_state_history(config)]
        assert [s.config for s in history] == [s.config for s in graph.get_state_history(config)]
        items = waiting.interrupts[0].value["action_requests"]
        done = await graph.ainvoke(Command(resume={"decisions": [{"type": "approve"}] * len(items)}), config,
                                   durability="sync")
        return steps, waiting, history, done

    steps, waiting, history, done = asyncio.run(drive())
    assert (steps[0], steps[-1]) == ("intake", "__interrupt__")
    assert [a["args"]["id"] for a in waiting.interrupts[0].value["action_requests"]] == ["copy-email-1", "img-email-1"]
    assert history[0].config == waiting.config and len(history) > 5
    assert runner.status(graph, "async").stage == "done"
    assert (Path(done["out_dir"]) / "manifest.json").is_file()
