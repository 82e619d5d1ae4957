"""The graph served by `langgraph dev` (LangGraph's API server, in memory), driven over HTTP with `langgraph_sdk`
as LangGraph Studio, Agent Chat UI and developers' own clients drive it: the entry point in langgraph.json, the
checkpoints in LangChain's human-in-the-loop protocol, bad answers refused with our line while the thread waits,
and the pack written to the data dir. The real server, the real local model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from builders import free_port, wait_for_server
from langgraph_sdk import get_sync_client
from langgraph_sdk.client import SyncLangGraphClient

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SyncLangGraphClient, Path]]:
    """`langgraph dev` on 127.0.0.1 over the repository's langgraph.json, and its data dir. It runs in a temp
    folder (it keeps its state in ``.langgraph_api`` there), so the config's paths are made absolute."""
    where = tmp_path_factory.mktemp("langgraph")
    config = json.loads((REPO / "langgraph.json").read_text())
    config["dependencies"] = [str((REPO / path).resolve()) for path in config["dependencies"]]
    config["graphs"] = {name: str(REPO / spec.removeprefix("./")) for name, spec in config["graphs"].items()}
    (where / "langgraph.json").write_text(json.dumps(config))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BRIEFCRAFT_", "LANGSMITH_", "LANGCHAIN_"))}
    env |= {"BRIEFCRAFT_DATA_DIR": str(where / "data"), "LANGSMITH_TRACING": "false",
            "LANGGRAPH_CLI_NO_ANALYTICS": "1"}
    port = free_port()
    log = where / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(Path(sys.executable).with_name("langgraph")), "dev", "--no-browser", "--no-reload",
             "--host", "127.0.0.1", "--port", str(port)],
            cwd=where, env=env, stdout=out, stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            wait_for_server(f"{url}/ok", process, log, "langgraph dev", timeout=120)
            yield get_sync_client(url=url, timeout=300), where / "data"
        finally:
            process.terminate()
            process.wait(timeout=30)


def _asking(client: SyncLangGraphClient, thread_id: str) -> dict[str, Any]:
    """The one interrupt the thread waits on."""
    (waiting,) = client.threads.get_state(thread_id)["interrupts"]
    return dict(waiting)


def _failed(client: SyncLangGraphClient, thread_id: str, **run: Any) -> str:
    """The message of a run that fails (its input, or an answer that does not fit)."""
    with pytest.raises(Exception) as failed:
        client.runs.wait(thread_id, "briefcraft", raise_error=True, **run)
    return str(failed.value)


def _refused(client: SyncLangGraphClient, thread_id: str, response: dict[str, Any]) -> str:
    """The message of the run an answer that does not fit fails with."""
    return _failed(client, thread_id, command={"resume": response})


def test_a_brief_over_langgraph_dev_asks_refuses_bad_answers_and_ends_in_a_pack(
        server: tuple[SyncLangGraphClient, Path]) -> None:
    client, data = server
    thread = client.threads.create()["thread_id"]
    client.runs.wait(thread, "briefcraft", input={
        "request": "Launch our oat-milk cold brew to Berlin commuters. Must say 'Contains oats'.",
        "brand_id": "northbound",
    })

    # no channel in the brief: a clarifying question, with the protocol's schema for the answer
    question = _asking(client, thread)
    assert [a["name"] for a in question["value"]["action_requests"]] == ["ask_user"]
    assert question["value"]["action_requests"][0]["args"]["missing"] == ["channels"]
    assert question["response_schema"]["title"] == "HITLResponse"
    assert "ApproveDecision" in question["response_schema"]["$defs"]
    message = _refused(client, thread, {"decisions": [{"type": "approve"}]})
    assert "answer a clarifying question with a 'respond' decision carrying a 'message'" in message
    assert _asking(client, thread) == question  # nothing kept: the same question waits

    client.runs.wait(thread, "briefcraft",
                     command={"resume": {"decisions": [{"type": "respond", "message": "Instagram"}]}})
    review = _asking(client, thread)
    actions = review["value"]["action_requests"]
    assert [(a["name"], a["args"]["id"]) for a in actions] == [
        ("publish_copy", "copy-instagram_feed-1"), ("publish_image", "img-instagram_feed-1"),
    ]
    assert "Contains oats" in " ".join(actions[0]["args"]["fields"]["caption"])
    assert actions[1]["args"]["label"] == "Layout render (brand palette and headline; not AI imagery)"
    for bad, line in [
        ({"decisions": [{"type": "approve"}]}, "got 1 decisions for 2 pending items; give one per item, in order"),
        ({"decisions": [{"type": "approve"}, {"type": "edit", "edited_action": {
            "name": "publish_image", "args": {"prompt": "a new picture"}}}]}, "'img-instagram_feed-1'"),
    ]:
        assert line in _refused(client, thread, bad)
        assert _asking(client, thread) == review

    alt = "A glass of oat-milk cold brew on a Berlin U-Bahn bench"
    client.runs.wait(thread, "briefcraft", config={"configurable": {"user_id": "cd"}}, command={"resume": {
        "decisions": [{"type": "approve"}, {"type": "edit", "edited_action": {
            "name": "publish_image", "args": {"alt_text": alt}}}],
    }})
    state = client.threads.get_state(thread)
    assert state["interrupts"] == [] and state["next"] == []
    values = state["values"]
    assert [(d["item_id"], d["action"], d["reviewer"]) for d in values["decisions"]] == [
        ("copy-instagram_feed-1", "approve", "cd"), ("img-instagram_feed-1", "edit", "cd"),
    ]
    pack = data / "packs" / thread
    assert Path(values["out_dir"]) == pack
    manifest = json.loads((pack / "manifest.json").read_text())
    finals = manifest["images"]
    assert finals and {(f["source_id"], f["renderer"]) for f in finals} == {("img-instagram_feed-1", "layout")}
    assert all(f["alt_text"].endswith(alt) for f in finals)  # after the words the final shows (its headline)
    assert all((pack / f["path"]).is_file() for f in finals)


def test_a_chat_message_starts_a_brief_and_the_graph_replies_in_the_chat(
        server: tuple[SyncLangGraphClient, Path]) -> None:
    """What Agent Chat UI sends: the brief as a human message (no ``request``, no brand), decisions as the resume;
    the graph says what it read and where the pack went, in the thread's messages, and streams only that."""
    client, data = server
    thread = client.threads.create()["thread_id"]
    brief = "Launch our oat-milk cold brew on Instagram. Must say 'Contains oats'."
    streamed = [chunk.data[0]["content"] for chunk in client.runs.stream(
        thread, "briefcraft", input={"messages": [{"type": "human", "content": brief}]}, stream_mode="messages-tuple",
    ) if chunk.event == "messages"]
    state = client.threads.get_state(thread)
    assert state["values"]["request"] == brief and state["values"]["brief"]["brand"] == "default"
    human, plan = state["values"]["messages"]
    assert (human["type"], human["content"]) == ("human", brief)
    assert plan["type"] == "ai" and plan["content"] == (  # the brand the server runs on has nothing in memory
        "Brief: oat-milk cold brew on instagram_feed; must say 'Contains oats'. Writing 1 copy and 1 image variant(s) "
        "for your review. "
        "Brand: briefcraft defaults: no brand memory for 'default' yet.")
    assert streamed == [plan["content"]]  # the model calls' JSON is the graph's work, not its chat
    items = _asking(client, thread)["value"]["action_requests"]
    client.runs.wait(thread, "briefcraft", command={"resume": {"decisions": [{"type": "approve"}] * len(items)}})
    *_, done = client.threads.get_state(thread)["values"]["messages"]
    assert done["type"] == "ai" and done["content"].startswith(
        f"Pack written to {data / 'packs' / thread}: 1 copy item(s), 2 final image(s). Compliance: ")


def test_a_structured_brief_as_json_goes_to_review_and_bad_input_is_named(
        server: tuple[SyncLangGraphClient, Path]) -> None:
    client, data = server
    bad = client.threads.create()["thread_id"]
    assert _failed(client, bad, input={"brief": {"product": "Oat cold brew", "channels": ["tiktok"]}}).startswith(
        "BriefError: brief: channels: unknown channel 'tiktok'; allowed: ")
    elsewhere = client.threads.create()["thread_id"]  # a client chooses no path on the server's host
    assert _failed(client, elsewhere, input={"request": "Cold brew on email.", "out_dir": "/tmp/x"}) == (
        f"BriefError: out_dir '/tmp/x' is outside {data / 'packs'}: this graph writes packs only there; leave "
        "out_dir out")
    thread = client.threads.create()["thread_id"]
    client.runs.wait(thread, "briefcraft", input={"brief": {
        "product": "Oat cold brew", "channels": ["email"], "deliverables": ["copy"],
        "mandatory_elements": ["Contains oats"], "limits": {"max_revision_rounds": 0},
    }})
    state = client.threads.get_state(thread)
    assert state["values"]["limits"]["max_revision_rounds"] == 0  # the brief's own budget
    (waiting,) = state["interrupts"]
    (item,) = waiting["value"]["action_requests"]
    assert (item["name"], item["args"]["id"]) == ("publish_copy", "copy-email-1")
    assert "Contains oats" in json.dumps(item["args"]["fields"])


def test_the_assistant_publishes_what_starts_a_brief_as_its_input_schema(
        server: tuple[SyncLangGraphClient, Path]) -> None:
    """The form LangGraph Studio shows for a new run, and what a client reads from the API: the brief's inputs,
    not the graph's working state (pydantic reads both schemas from the graph's TypedDicts)."""
    client, _ = server
    [assistant] = client.assistants.search(graph_id="briefcraft")
    schemas = client.assistants.get_schemas(assistant["assistant_id"])
    assert list(schemas["input_schema"]["properties"]) == ["request", "messages", "brief", "brand_id", "limits",
                                                            "out_dir"]
    assert "CreativeBrief" in schemas["input_schema"]["$defs"]
    assert {"copy", "images", "decisions", "manifest"} <= set(schemas["output_schema"]["properties"])
