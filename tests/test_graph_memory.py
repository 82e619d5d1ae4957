"""The brief graph with real brand memory: recall with citations, brand rules in compliance, learning on export."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from langgraph.types import Command

from briefcraft.agents.models import LocalLlamaChat
from briefcraft.graphs import runner
from briefcraft.graphs.brief_graph import build_graph
from briefcraft.memory.kit import distill, save_kit
from briefcraft.memory.store import ChromaBrandMemory
from briefcraft.schemas import CreativeBrief
from briefcraft.settings import Settings

pytestmark = pytest.mark.llm

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "brands" / "northbound"
WORDS = "guidelines.md > Northbound Coffee brand guidelines > Words"


@pytest.fixture
def memory(settings: Settings) -> Iterator[ChromaBrandMemory]:
    """The sample brand's guidelines in memory, with the kit the patterns read from them."""
    with ChromaBrandMemory(settings) as opened:
        opened.add(EXAMPLE / "guidelines.md", brand="northbound")
        save_kit(opened.kit_path("northbound"), distill("northbound", opened.kit_rules("northbound"), None))
        yield opened


def test_brand_memory_feeds_copy_and_compliance_and_learns_from_approval(
    settings: Settings, local_model: LocalLlamaChat, memory: ChromaBrandMemory
) -> None:
    graph = build_graph(settings, chat_model=local_model, memory=memory)
    brief = CreativeBrief(product="Northbound Oat Cold Brew", audience="Berlin commuters",
                          channels=["instagram_feed"], deliverables=["copy"], brand="northbound")
    current = runner.start(graph, brief, thread_id="t1", max_brief_chars=settings.max_brief_chars, user="maya")
    assert current.stage == "waiting_for_approval"
    config = {"configurable": {"thread_id": "t1"}}
    state = graph.get_state(config).values
    brand = state["brand"]
    assert brand.palette == ["#1F3A5F", "#F4E9D8", "#E8A33D", "#2E5E4E"]
    assert [(c.value, c.source) for c in brand.required_disclaimers] == [
        ("Contains oats", "guidelines.md > Northbound Coffee brand guidelines > Always include")
    ]
    assert brand.guidance and all(s.source.startswith("guidelines.md > ") for s in brand.guidance)
    [copy] = state["copy"]
    assert "Contains oats" in copy.fields["caption"][0]  # the brand's disclaimer, added by code

    # An edit that uses a word the brand forbids is caught, citing the guideline, and goes back to review.
    edit = {"fields": {"headline": ["Cheap thrills, slow-steeped"], "caption": ["Smooth. Contains oats."]}}
    graph.invoke(Command(resume={"decisions": [{"type": "edit", "edited_action": {"name": "publish_copy",
                                                                                  "args": edit}}]}),
                 config, durability="sync")
    again = runner.status(graph, "t1")
    assert again.stage == "waiting_for_approval"
    findings = [f for f in graph.get_state(config).values["compliance"].findings if f.item_id == copy.id]
    assert [(f.rule_id, f.severity, f.field, f.span, f.source) for f in findings] == [
        ("forbidden-term.brand", "error", "headline", (0, 5), WORDS)
    ]

    graph.invoke(Command(resume={"decisions": [{"type": "approve"}]}), config, durability="sync")
    assert runner.status(graph, "t1").stage == "done"
    audit = graph.get_state(config).values["audit"]
    assert audit[-1].kind == "remember" and audit[-1].comment.startswith("1 approved item(s)")
    [example] = memory.examples(brief, "instagram_feed")
    assert example.source == "approved: t1/copy-instagram_feed-1"
    assert "Cheap thrills, slow-steeped" in example.text
