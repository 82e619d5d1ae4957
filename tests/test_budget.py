"""Budgets: the graph stops before the calls coming next would take a brief over its budget, says why, waits, and
goes on once someone raises it; the brief's own rewrite rounds. The local model's calls are priced with a test
pricing table (it is free in the shipped one)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from briefcraft.agents.models import LocalLlamaChat
from briefcraft.errors import DecisionError
from briefcraft.graphs import runner
from briefcraft.graphs.brief_graph import build_graph
from briefcraft.pricing import load_pricing
from briefcraft.schemas import Budget, CreativeBrief
from briefcraft.settings import Settings

pytestmark = pytest.mark.llm

BRIEF = CreativeBrief(product="Oat cold brew", channels=["x_post", "linkedin_post"], deliverables=["copy"],
                      mandatory_elements=["Contains oats"])


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    """The local model at $100 per million tokens in and out, so that its calls cost something."""
    table = load_pricing().model_dump(mode="json")
    table["chat"]["models"]["local"] = {"*": {"input": 100.0, "output": 100.0}}
    path = tmp_path / "pricing.yaml"
    path.write_text(yaml.safe_dump(table), encoding="utf-8")
    return settings.model_copy(update={"pricing_file": path, "compliance_autofix": False})


@pytest.fixture
def graph(settings: Settings, local_model: LocalLlamaChat) -> Any:
    return build_graph(settings, chat_model=local_model)


def _start(graph: Any, brief: str | CreativeBrief, limits: Budget | None = None) -> runner.RunStatus:
    return runner.start(graph, brief, thread_id="t1", max_brief_chars=4000, user="maya", limits=limits)


def test_a_brief_stops_before_going_over_its_budget_and_goes_on_when_raised(graph: Any) -> None:
    chat = "Launch our oat cold brew on X and LinkedIn. Must say 'Contains oats'."
    first = _start(graph, chat, Budget(max_cost_usd=0.05))
    assert first.stage == "waiting_for_budget" and first.waiting
    assert first.cost is not None and first.cost.calls == 1 and first.cost.total_usd > 0  # intake ran, priced
    intake_cost = first.cost.total_usd
    assert first.budget_reason == (
        f"the next 2 write copy call(s), 2 make visual call(s) would take the brief to about ${3 * intake_cost:.4f}, "
        f"over its max_cost_usd of $0.0500 (spent ${intake_cost:.4f})")  # a copy call: as dear as the dearest so far
    assert first.limits == Budget(max_cost_usd=0.05)

    negative = {"type": "edit", "edited_action": {"name": "raise_budget", "args": {"max_cost_usd": -1}}}
    for bad in ({"decisions": [{"type": "approve"}]}, {"decisions": [negative]}):
        with pytest.raises(DecisionError):
            runner.resume(graph, "t1", bad)
    assert runner.status(graph, "t1") == first  # a refused raise changes nothing

    after = runner.resume(graph, "t1", runner.raise_budget(Budget(max_cost_usd=10.0)), user="cd", role="approver")
    assert after.stage == "waiting_for_approval"
    assert sorted(a["args"]["id"] for a in after.items) == [
        "copy-linkedin_post-1", "copy-x_post-1", "img-linkedin_post-1", "img-x_post-1"]
    # every item shows what it cost: the copy its priced model calls, an image its (free) layout render
    assert all("Cost so far: $" in a["description"] for a in after.items)
    assert all("Cost so far: $0.0000" in a["description"] for a in after.items if a["name"] == "publish_image")
    audit = graph.get_state({"configurable": {"thread_id": "t1"}}).values["audit"]
    (raised,) = [e for e in audit if e.kind == "budget"]
    assert (raised.node, raised.actor, raised.role) == ("budget_work", "cd", "approver")
    assert raised.comment.startswith('budget raised to {"max_cost_usd":10.0} (the next 2 write copy call(s), 2 make')
    done = runner.resume(graph, "t1", runner.approve_all(after))
    assert done.stage == "done" and done.cost is not None
    manifest = json.loads((Path(done.pack or "") / "manifest.json").read_text())
    assert manifest["cost"]["total_usd"] == done.cost.total_usd > intake_cost
    by_item = manifest["cost"]["by_item"]
    assert set(by_item) == {"copy-x_post-1", "copy-linkedin_post-1", "img-x_post-1", "img-linkedin_post-1"}
    assert by_item["img-x_post-1"] == 0 and by_item["copy-x_post-1"] > 0
    assert manifest["cost"]["pricing"] == "chat 2025-11-30, images 2026-06-11, GPU 2026-11-01"


def test_without_a_budget_nothing_stops(graph: Any) -> None:
    assert _start(graph, BRIEF).stage == "waiting_for_approval"


def test_the_briefs_own_rewrite_rounds(graph: Any) -> None:
    current = _start(graph, BRIEF.model_copy(update={"limits": Budget(max_revision_rounds=0)}))
    reject_x = [{"type": "reject", "message": "no"} if a["args"]["id"] == "copy-x_post-1" else {"type": "approve"}
                for a in current.items]
    done = runner.resume(graph, "t1", {"decisions": reject_x})  # no rounds: the rejected item is dropped at once
    assert done.stage == "done"
    deck = json.loads((Path(done.pack or "") / "copy_deck.json").read_text())
    assert [c["id"] for c in deck] == ["copy-linkedin_post-1"]
