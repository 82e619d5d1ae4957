"""SIGTERM drains: a run that gets SIGTERM mid-step finishes that step, stops before the next one and says so; a new
process resumes the thread from there to the same state as a run never stopped, with no model call made twice.

The runs are real processes (``runner.start`` / ``runner.resume`` within ``runner.stop_on_sigterm()``, as
``briefcraft run|resume`` call them, and the studio server's ``launch``) on ``FastChat``, whose call at the chosen
node announces itself and waits for a line on stdin: the test sends SIGTERM while the node runs, then lets it go on.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from builders import free_port

from briefcraft.evals.fakes import FastChat
from briefcraft.graphs import runner
from briefcraft.graphs.brief_graph import build_graph
from briefcraft.memory.store import DefaultBrandMemory
from briefcraft.schemas import AuditEvent
from briefcraft.settings import Settings
from briefcraft.tools.audit import item_hash

_CHILD = """
import json, sys, threading
from pathlib import Path
from briefcraft.agents import prompts
from briefcraft.evals.fakes import FastChat
from briefcraft.graphs import runner
from briefcraft.graphs.brief_graph import build_graph
from briefcraft.memory.store import DefaultBrandMemory
from briefcraft.settings import Settings

mode, data, thread, pause_at, brief = sys.argv[1:]
armed = [getattr(prompts, pause_at)] if pause_at else []


class Paused(FastChat):
    def _generate(self, messages, stop=None, run_manager=None, **kwargs):
        if armed and messages[0].text == armed[0]:
            armed.clear()
            print("busy", flush=True)
            sys.stdin.readline()  # the test sends SIGTERM, then a line
        return super()._generate(messages, stop, run_manager, **kwargs)


settings = Settings(_env_file=None, data_dir=Path(data), compliance_autofix=False, compliance_llm_review=True,
                    ui_port=int(mode.split(":")[1]) if mode.startswith("studio") else 7860)
graph = build_graph(settings, chat_model=Paused(), memory=DefaultBrandMemory())


def run():
    return runner.start(graph, brief, thread_id=thread, max_brief_chars=settings.max_brief_chars, user="maya")


if mode == "run":
    with runner.stop_on_sigterm():
        current = run()
    print(json.dumps({"stage": current.stage, "error": current.error}), flush=True)
elif mode == "resume":
    with runner.stop_on_sigterm():
        current = runner.resume(graph, thread, None, user="maya")
    print(json.dumps({"stage": current.stage, "error": current.error}), flush=True)
else:  # the studio server, with a run going on in a worker thread as the studio's sessions run them
    from briefcraft.ui.studio import launch
    threading.Thread(target=run, daemon=True).start()
    launch(settings, graph=graph)
"""

#: (the fake model's system prompt to pause in, the step it belongs to, the step the stopped run leaves next)
POINTS = [
    ("INTAKE_SYSTEM", "intake", ("recall_brand",)),
    ("COPY_SYSTEM", "make_visual, write_copy", ("check_compliance",)),  # one of four parallel branches
    ("REVIEW_SYSTEM", "check_compliance", ("review",)),
]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The compliance check asks the model too, so a step after the parallel branches makes a model call."""
    return settings.model_copy(update={"compliance_autofix": False, "compliance_llm_review": True})


@pytest.fixture
def graph(settings: Settings) -> Any:
    return build_graph(settings, chat_model=FastChat(), memory=DefaultBrandMemory())


def _child(mode: str, settings: Settings, pause_at: str, brief: str, thread: str = "t1") -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BRIEFCRAFT_", "GRADIO_"))}
    return subprocess.Popen(
        [sys.executable, "-c", _CHILD, mode, str(settings.data_dir), thread, pause_at, brief],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )


def _sigterm_when_busy(child: subprocess.Popen[str], *, wait_for: tuple[str, ...] = ("busy",)) -> list[str]:
    """Read the child's lines until each of ``wait_for`` began one; then SIGTERM it and let its model call go on."""
    assert child.stdout is not None and child.stdin is not None
    lines: list[str] = []
    while not all(any(line.startswith(start) for line in lines) for start in wait_for):
        line = child.stdout.readline()
        assert line, f"the child ended early: {child.communicate(timeout=60)[1][-2000:]}"
        lines.append(line.strip())
    child.send_signal(signal.SIGTERM)
    child.stdin.write("go\n")
    child.stdin.flush()
    return lines


def _finish(child: subprocess.Popen[str]) -> list[str]:
    out, err = child.communicate(timeout=120)
    assert child.returncode == 0, err[-2000:]
    return out.splitlines()


def _outcome(graph: Any, thread: str) -> tuple[list[str], Counter[tuple[str, str, str | None]]]:
    """What a thread holds, to compare runs: each item's content hash, and its audit events by (kind, node, item)
    without times (a call made twice would count twice)."""
    state = graph.get_state({"configurable": {"thread_id": thread}}).values
    audit: list[AuditEvent] = state["audit"]
    return ([item_hash(item) for item in [*state["copy"], *state["images"]]],
            Counter((e.kind, e.node, e.item_id) for e in audit))


@pytest.mark.parametrize(("pause_at", "step", "left_next"), POINTS, ids=[p[1].split(",")[0] for p in POINTS])
def test_sigterm_mid_step_stops_after_it_and_a_new_process_resumes_to_the_same_state(
    graph: Any, settings: Settings, sample_brief: str, pause_at: str, step: str, left_next: tuple[str, ...]
) -> None:
    whole = runner.start(graph, sample_brief, thread_id="whole", max_brief_chars=settings.max_brief_chars, user="maya")
    run = _child("run", settings, pause_at, sample_brief)
    assert _sigterm_when_busy(run) == ["busy"]
    assert [json.loads(line) for line in _finish(run)] == [
        {"stage": "interrupted", "error": f"stopped on SIGTERM after step {step}; resume with: briefcraft resume t1"}
    ]
    snapshot = graph.get_state({"configurable": {"thread_id": "t1"}})
    assert snapshot.next == left_next and not snapshot.interrupts  # the step is in; the next one never began
    assert runner.status(graph, "t1").stage == "interrupted"

    resumed = _child("resume", settings, "", sample_brief)
    assert [json.loads(line) for line in _finish(resumed)] == [{"stage": "waiting_for_approval", "error": None}]
    assert whole.stage == "waiting_for_approval"
    assert _outcome(graph, "t1") == _outcome(graph, "whole")
    current = runner.status(graph, "t1")
    assert [a["args"] for a in current.items] == [a["args"] for a in whole.items]
    # and on to the pack, as the uninterrupted thread goes
    done = runner.resume(graph, "t1", runner.approve_all(current), user="cd", checkpoint=current.checkpoint)
    assert done.stage == "done" and (Path(done.pack or "") / "manifest.json").is_file()


def test_the_studio_server_on_sigterm_lets_its_running_thread_finish_the_step_then_exits(
    graph: Any, settings: Settings, sample_brief: str
) -> None:
    studio = _child(f"studio:{free_port()}", settings, "COPY_SYSTEM", sample_brief)
    lines = _sigterm_when_busy(studio, wait_for=("busy", "briefcraft studio: http"))
    lines += _finish(studio)
    assert lines[-2:] == [
        "briefcraft studio: stopping on SIGTERM; running threads stop after their current step",
        "stopped on SIGTERM: thread t1; resume with: briefcraft resume t1",
    ]
    assert graph.get_state({"configurable": {"thread_id": "t1"}}).next == ("check_compliance",)
    assert runner.resume(graph, "t1", None, user="maya").stage == "waiting_for_approval"
