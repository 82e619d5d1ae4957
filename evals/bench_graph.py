"""Benchmark: the brief graph's orchestration overhead, its end-to-end latency, and many briefs at once.

    .venv/bin/python evals/bench_graph.py overhead [--repeat 20] [--profile-briefs 3] [--json PATH]
    .venv/bin/python evals/bench_graph.py e2e [--repeat 3] [--json PATH]
    .venv/bin/python evals/bench_graph.py concurrency [--briefs 20] [--json PATH]

``overhead``: structured briefs of ``OVERHEAD_BRIEF``'s shape (Instagram feed, email and Google search, with
``copy_variants=2`` and ``image_variants=2``: 3 channels x 2 = 6 copy subtasks, the 2 channels with images x 2 = 4
visual subtasks), each with its own product so that no brief reuses an earlier one's stamped finals (``finalize``
keeps a stamp per picture and marks, for re-runs after a crash, and the product is in every final's alt text), from
start to the review checkpoint, approve all, to the end, through the full graph (the
``FastChat`` fake model, ``InstantRenderer``, compliance checks, finals with provenance, export, ledger) with default
settings and again with ``watermark=False``, and through a bare LangGraph graph of the same shape (same node names,
the same ``Send`` fan-out, an ``interrupt`` at review, ``durability="sync"``) whose nodes only return ids. Each graph
has its own SQLite file in a temp dir behind the same ``SqliteSaver`` (strict like ``build_graph``'s own, and timing
its reads and writes). The three are interleaved ``--repeat`` times, after one warm-up
brief each, and driven by the same code: per-brief wall and CPU medians, ratios to the bare graph, per-node time from
the task start/end events ``runner.stream`` turns into ``StepUpdate`` (here in ms, unrounded). When the full graph is
over ``TARGET_RATIO``, ``--profile-briefs`` more briefs run under cProfile (every thread) to say what dominates.

``e2e``: the default offline configuration (the local llama.cpp model, brand memory, layout renderer), the sample
brief through ``runner.stream``: seconds to the first streamed update, to the last preview (``make_visual`` done),
to the review checkpoint; then approve all and seconds to the exported pack and to the end. The model, brand memory
and its embedding model are loaded once, first, and timed separately; each run is a fresh thread.

``concurrency``: ``--briefs`` structured briefs of ``OVERHEAD_BRIEF``'s shape, each with its own product, started at
once from as many threads on one compiled graph (``FastChat``, the layout renderer, ``DefaultBrandMemory``), each
to review, approve all, to the end: wall, briefs/min, p50/p95 per step from ``StepUpdate.seconds``, and a leakage
check (each pack's manifest names its own thread and product; no other thread's id or product is in its state).

Each mode prints markdown tables; ``--json`` writes every sample.
"""

from __future__ import annotations

import argparse
import cProfile
import importlib.metadata
import json
import operator
import os
import platform
import pstats
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Annotated, Any, TypedDict

from langchain_core.messages import HumanMessage
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import CheckpointTuple
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Command, Send, interrupt
from PIL import Image
from pydantic import BaseModel

from briefcraft.agents.models import make_chat_model
from briefcraft.agents.planner import plan_subtasks
from briefcraft.evals.fakes import FastChat
from briefcraft.evals.report import markdown_table, median, p95
from briefcraft.graphs import runner
from briefcraft.graphs.brief_graph import build_graph
from briefcraft.memory.embeddings import make_embedding_function
from briefcraft.memory.store import BrandMemory, ChromaBrandMemory, DefaultBrandMemory, open_memory
from briefcraft.schemas import CreativeBrief
from briefcraft.settings import Settings
from briefcraft.tools.render import Rendered, RenderSpec

__all__ = ["OVERHEAD_BRIEF", "TARGET_RATIO", "InstantRenderer", "concurrency", "e2e", "main", "overhead"]

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "briefcraft" / "data" / "sample_brief.txt"
#: The issue's target: the full graph on instant fakes at most this many times the bare graph's per-brief time.
TARGET_RATIO = 1.5
#: 3 channels x copy_variants 2 = 6 copy subtasks; instagram_feed and email take images: 2 x image_variants 2 = 4.
#: Not facebook_feed: its first size is Instagram's (1080x1080), so with a picture that depends on size and seed only
#: its previews would be the same bytes as Instagram's (see the store race in docs/BENCHMARKS.md).
OVERHEAD_BRIEF = CreativeBrief(
    product="Oat-milk cold brew", objective="Launch in Berlin", audience="Berlin commuters",
    key_messages=["Smooth energy for the morning U-Bahn ride"], tone=["playful", "premium"],
    channels=["instagram_feed", "email", "google_rsa"],
)
_VARIANTS = {"copy_variants": 2, "image_variants": 2}
_SHAPE = {"write_copy": 6, "make_visual": 4}
#: Finals per brief: the 4 approved previews at each of their channel's sizes (Instagram 2, email 1).
_FINALS = 6
#: Graph runs of one thread that may fail and be retried (``runner.resume_input(..., None)``) in concurrency mode.
_RETRIES = 2
#: Profiler entries that are threads waiting for work, not work.
_IDLE = ("<method 'get' of '_queue.SimpleQueue' objects>", "<method 'acquire' of '_thread.lock' objects>")


class InstantRenderer:
    """An image backend that answers at once with a tiny 8x8 picture in the palette's first colour (a benchmark
    fixture; the compositor still scales it to every preview and final size).

    Two pixels carry the spec's seed and size, so different specs give different pictures, as a real backend's do:
    parallel branches storing the same bytes at once collide in ``tools/assets.save_bytes`` (docs/BENCHMARKS.md).
    """

    renderer = "layout"  # no model imagery: priced, labelled and stamped like a layout render
    label = "Benchmark fixture: an 8x8 picture (not AI imagery)"

    def render(self, spec: RenderSpec) -> Rendered:
        """The picture for ``spec``: no work beyond 64 pixels."""
        picture = Image.new("RGB", (8, 8), spec.palette[0])
        picture.putpixel((0, 0), (spec.seed % 256, spec.width % 256, spec.height % 256))
        picture.putpixel((1, 0), (spec.seed // 256 % 256, spec.width // 256 % 256, spec.height // 256 % 256))
        return Rendered(picture)


# --- small helpers -------------------------------------------------------------------------------------




def _ms(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{value * 1000:.{digits}f}"



def _machine() -> dict[str, Any]:
    info = Path("/proc/cpuinfo")
    lines = info.read_text().splitlines() if info.exists() else []
    cpu = next((line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")), platform.machine())
    return {"date": datetime.now(UTC).isoformat(timespec="seconds"), "cpus": os.cpu_count(), "cpu": cpu,
            "python": platform.python_version(), "langgraph": importlib.metadata.version("langgraph"),
            "load_1min": os.getloadavg()[0]}


def _machine_line(machine: dict[str, Any]) -> str:
    return (f"machine: {machine['cpus']} CPUs ({machine['cpu']}), no GPU used, Python {machine['python']}, langgraph "
            f"{machine['langgraph']}; load average (1 min) {machine['load_1min']:.1f} at the start, "
            f"{os.getloadavg()[0]:.1f} at the end; {machine['date']}")


def _default_environment() -> None:
    """The default configuration, whatever the caller's shell sets."""
    for name in [n for n in os.environ if n.startswith("BRIEFCRAFT_")]:
        del os.environ[name]


def _settings(data_dir: Path, **overrides: Any) -> Settings:
    return Settings(_env_file=None, data_dir=data_dir, **overrides)


def _config(thread_id: str) -> RunnableConfig:
    return {"configurable": {"thread_id": thread_id}}


class _TimedSaver(SqliteSaver):
    """A ``SqliteSaver`` on a SQLite file that adds up the seconds its writes and reads take, over all threads (its
    shallow copies, such as ``with_allowlist`` makes, share the tally).

    Strict, like ``build_graph``'s own saver: it deserializes LangGraph's safe types only, plus the classes
    ``with_allowlist`` adds (``build_graph`` adds ours)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        super().__init__(sqlite3.connect(path, check_same_thread=False),
                         serde=JsonPlusSerializer(allowed_msgpack_modules=None))
        self.spent = {"writes": 0.0, "reads": 0.0}
        self._tally = threading.Lock()

    def _add(self, kind: str, started: float) -> None:
        with self._tally:
            self.spent[kind] += time.perf_counter() - started

    def put(self, *args: Any, **kwargs: Any) -> RunnableConfig:
        """``SqliteSaver.put``, timed."""
        started = time.perf_counter()
        try:
            return super().put(*args, **kwargs)
        finally:
            self._add("writes", started)

    def put_writes(self, *args: Any, **kwargs: Any) -> None:
        """``SqliteSaver.put_writes``, timed."""
        started = time.perf_counter()
        try:
            super().put_writes(*args, **kwargs)
        finally:
            self._add("writes", started)

    def get_tuple(self, *args: Any, **kwargs: Any) -> CheckpointTuple | None:
        """``SqliteSaver.get_tuple``, timed."""
        started = time.perf_counter()
        try:
            return super().get_tuple(*args, **kwargs)
        finally:
            self._add("reads", started)


# --- the bare graph ------------------------------------------------------------------------------------


class _BareState(TypedDict, total=False):
    """The bare graph's state: ids and a few flags, with the full graph's reducers where branches write."""

    request: str
    subtasks: list[str]
    brand: str
    copy: Annotated[list[str], operator.add]
    images: Annotated[list[str], operator.add]
    compliance: str
    decisions: Annotated[list[str], operator.add]
    finals: list[str]
    out_dir: str
    manifest: dict[str, Any]


def _bare_nothing(state: _BareState) -> dict[str, Any]:
    return {}


def _bare_intake(state: _BareState) -> dict[str, Any]:
    return {"request": state["request"]}


def _bare_ask(state: _BareState) -> dict[str, Any]:
    return {"request": f"{state['request']}\n{interrupt('never asked')}"}


def _bare_recall(state: _BareState) -> dict[str, Any]:
    return {"brand": "default"}


def _bare_plan(state: _BareState, *, subtasks: list[str]) -> dict[str, Any]:
    return {"subtasks": subtasks}


def _bare_copy(task: dict[str, str]) -> dict[str, Any]:
    return {"copy": [task["id"]]}


def _bare_visual(task: dict[str, str]) -> dict[str, Any]:
    return {"images": [task["id"]]}


def _bare_check(state: _BareState) -> dict[str, Any]:
    return {"compliance": "approved"}


def _bare_review(state: _BareState) -> dict[str, Any]:
    pending = [i for i in [*state.get("copy", []), *state.get("images", [])] if i not in state.get("decisions", [])]
    if not pending:
        return {}
    interrupt({"action_requests": [{"name": "publish", "args": {"id": i}} for i in pending]})
    return {"decisions": pending}


def _bare_finalize(state: _BareState) -> dict[str, Any]:
    return {"finals": state["images"]}


def _bare_export(state: _BareState, config: RunnableConfig) -> dict[str, Any]:
    thread = str(config["configurable"]["thread_id"])
    return {"manifest": {"thread_id": thread, "items": len(state["decisions"])}, "out_dir": thread}


def _bare_fan_out(state: _BareState) -> list[Send] | str:
    sends = [Send("write_copy" if i.startswith("copy-") else "make_visual", {"id": i}) for i in state["subtasks"]]
    return sends or "check_compliance"


def _bare_graph(checkpointer: SqliteSaver, subtasks: list[str]) -> CompiledStateGraph[Any, Any, Any, Any]:
    """The full graph's nodes and edges (``build_graph``), each node returning ids only."""
    builder = StateGraph(_BareState)
    nodes: dict[str, Callable[..., dict[str, Any]]] = {
        "intake": _bare_intake, "ask_clarification": _bare_ask, "recall_brand": _bare_recall,
        "plan": partial(_bare_plan, subtasks=subtasks), "write_copy": _bare_copy, "make_visual": _bare_visual,
        "check_compliance": _bare_check, "review": _bare_review, "finalize": _bare_finalize, "export": _bare_export,
        "remember_approved": _bare_nothing, "seal_ledger": _bare_nothing, "budget_work": _bare_nothing,
        "budget_fix": _bare_nothing, "budget_review": _bare_nothing,
    }
    for name, node in nodes.items():
        builder.add_node(name, node)
    builder.add_edge(START, "intake")
    builder.add_conditional_edges("intake", lambda _: "recall_brand", ["ask_clarification", "recall_brand"])
    builder.add_edge("ask_clarification", "intake")
    builder.add_edge("recall_brand", "plan")
    builder.add_edge("plan", "budget_work")
    builder.add_conditional_edges("budget_work", _bare_fan_out, ["write_copy", "make_visual", "check_compliance"])
    builder.add_edge("write_copy", "check_compliance")
    builder.add_edge("make_visual", "check_compliance")
    builder.add_conditional_edges("check_compliance", lambda _: "review", ["budget_fix", "review"])
    builder.add_conditional_edges("budget_fix", lambda _: [], ["write_copy"])
    builder.add_edge("review", "budget_review")
    builder.add_conditional_edges("budget_review", lambda _: "finalize",
                                  ["write_copy", "make_visual", "check_compliance", "finalize"])
    builder.add_edge("finalize", "export")
    builder.add_edge("export", "remember_approved")
    builder.add_edge("remember_approved", "seal_ledger")
    builder.add_edge("seal_ledger", END)
    return builder.compile(checkpointer=checkpointer)


# --- overhead ------------------------------------------------------------------------------------------


def _timed_stream(graph: CompiledStateGraph[Any, Any, Any, Any], value: Any, config: RunnableConfig,
                  started: float, tasks: list[dict[str, Any]]) -> None:
    """Run ``value`` as ``runner.stream`` does (task events, durability sync), noting each task's start and end."""
    begun: dict[str, float] = {}
    for event in graph.stream(value, config, stream_mode="tasks", durability="sync"):
        now = time.perf_counter() - started
        if "result" not in event:
            begun[event["id"]] = now
            continue
        if event["error"] is not None:
            raise RuntimeError(f"{event['name']} failed: {event['error']}")
        tasks.append({"node": event["name"], "start": begun.pop(event["id"], now), "end": now})


def _drive(graph: CompiledStateGraph[Any, Any, Any, Any], saver: _TimedSaver, thread_id: str,
           first: dict[str, Any]) -> dict[str, Any]:
    """One brief: ``first`` to the review checkpoint, approve every item, to the end; wall, CPU and checkpoint
    seconds, and every task's start and end."""
    config = _config(thread_id)
    tasks: list[dict[str, Any]] = []
    spent = dict(saver.spent)
    cpu, started = time.process_time(), time.perf_counter()
    _timed_stream(graph, first, config, started, tasks)
    requests = graph.get_state(config).interrupts[0].value["action_requests"]
    _timed_stream(graph, Command(resume={"decisions": [{"type": "approve"} for _ in requests]}), config, started,
                  tasks)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    checkpoints = {f"checkpoint_{kind}_s": saver.spent[kind] - spent[kind] for kind in spent}
    final = graph.get_state(config)
    if final.next or "manifest" not in final.values:
        raise RuntimeError(f"thread {thread_id} did not reach its pack (next: {final.next})")
    return {"wall_s": wall, "cpu_s": cpu, **checkpoints, "items": len(requests), "tasks": tasks}


def _covered(tasks: list[dict[str, Any]]) -> float:
    """Seconds during which at least one task was running."""
    total, reach = 0.0, float("-inf")
    for task in sorted(tasks, key=operator.itemgetter("start")):
        total += max(0.0, task["end"] - max(task["start"], reach))
        reach = max(reach, task["end"])
    return total


def _node_seconds(brief: dict[str, Any]) -> dict[str, float]:
    seconds: dict[str, float] = {}
    for task in brief["tasks"]:
        seconds[task["node"]] = seconds.get(task["node"], 0.0) + task["end"] - task["start"]
    return seconds


def _node_time(node: str, brief: dict[str, Any]) -> float:
    return _node_seconds(brief).get(node, 0.0)


def _count(folder: Path) -> int:
    return len(list(folder.glob("*.json"))) if folder.is_dir() else 0


def _check_shape(name: str, brief: dict[str, Any]) -> None:
    counts = {node: sum(1 for t in brief["tasks"] if t["node"] == node) for node in _SHAPE}
    if counts != _SHAPE:
        raise RuntimeError(f"{name}: a brief ran {counts}, not the {_SHAPE} the comparison needs (did compliance "
                           "send copy back to the copywriter?)")
    if brief["stamps_written"] != _FINALS:
        raise RuntimeError(f"{name}: a brief stamped {brief['stamps_written']} finals afresh, not {_FINALS}: it "
                           "reused an earlier brief's stamps, so its finalize time would not be a brief's")


def _profile_parts() -> list[tuple[str, str, tuple[str, ...]]]:
    """(label, file suffix, function names) of what the profile report adds up, in report order."""
    return [
        ("finalize node", "graphs/brief_graph.py", ("finalize",)),
        ("- render_finals: full-size picture, compose at each size, PNG", "agents/art_director.py",
         ("render_finals",)),
        ("- stamp_finals: provenance of each final", "agents/art_director.py", ("stamp_finals",)),
        ("-- watermark embed", "tools/provenance.py", ("_embed_watermark",)),
        ("-- watermark read-back check", "tools/provenance.py", ("_read_watermark",)),
        ("-- PNG encode with XMP", "tools/provenance.py", ("_encode",)),
        ("-- C2PA sign (c2pa Builder.sign)", "c2pa/c2pa.py", ("sign",)),
        ("check_compliance node", "graphs/brief_graph.py", ("check_compliance",)),
        ("export node (pack, with its own compliance check)", "graphs/brief_graph.py", ("export",)),
        ("- write_pack: pack files, decks, manifest", "tools/export.py", ("write_pack",)),
        ("compliance checks in both nodes (check_bundle)", "agents/compliance.py", ("check_bundle",)),
        ("make_visual branches (previews)", "graphs/brief_graph.py", ("make_visual",)),
        ("write_copy branches", "graphs/brief_graph.py", ("write_copy",)),
        ("audit ledger writes (Ledger.sync)", "tools/audit.py", ("sync",)),
        ("checkpoint writes (SqliteSaver.put, put_writes)", "langgraph/checkpoint/sqlite/__init__.py",
         ("put", "put_writes")),
        ("checkpoint reads (SqliteSaver.get_tuple)", "langgraph/checkpoint/sqlite/__init__.py", ("get_tuple",)),
    ]


@contextmanager
def _profiled() -> Iterator[list[cProfile.Profile]]:
    """cProfile in this thread and in every thread started meanwhile (LangGraph runs nodes in pool threads)."""
    profiles = [cProfile.Profile()]

    def install(*_: object) -> None:  # the first event in a new thread: from then on its own profiler records
        profile = cProfile.Profile()
        profiles.append(profile)
        profile.enable()

    threading.setprofile(install)
    profiles[0].enable()
    try:
        yield profiles
    finally:
        profiles[0].disable()
        threading.setprofile(None)


def _profile_report(profiles: list[cProfile.Profile], wall: float, briefs: int) -> dict[str, Any]:
    stats = pstats.Stats(profiles[0])
    for profile in profiles[1:]:
        stats.add(profile)
    table: dict[tuple[str, int, str], tuple[Any, ...]] = stats.stats  # type: ignore[attr-defined]
    parts = []
    for label, suffix, names in _profile_parts():
        seconds = sum(row[3] for (path, _, name), row in table.items() if path.endswith(suffix) and name in names)
        parts.append({"part": label, "seconds_per_brief": seconds / briefs})
    busy = sorted(((row[2], f"{Path(path).name}:{line}({name})" if path != "~" else name)
                   for (path, line, name), row in table.items() if name not in _IDLE), reverse=True)
    return {"briefs": briefs, "wall_s_per_brief": wall / briefs, "parts": parts,
            "top_own_time": [{"function": f, "seconds_per_brief": s / briefs} for s, f in busy[:15]]}


def overhead(repeat: int, profile_briefs: int) -> dict[str, Any]:
    """Mode 1: the full graph on instant fakes against a bare graph of the same shape, interleaved."""
    _default_environment()
    machine = _machine()
    planned = plan_subtasks(OVERHEAD_BRIEF, _VARIANTS["copy_variants"], _VARIANTS["image_variants"])
    with tempfile.TemporaryDirectory(prefix="bench-graph-") as folder:
        root = Path(folder)
        full = _settings(root / "full", **_VARIANTS)
        no_watermark = _settings(root / "no-watermark", watermark=False, **_VARIANTS)
        savers = {"full": _TimedSaver(full.checkpoint_path),
                  "full, watermark off": _TimedSaver(no_watermark.checkpoint_path),
                  "bare": _TimedSaver(root / "bare" / "checkpoints.sqlite")}
        graphs = {
            "full": build_graph(full, checkpointer=savers["full"], chat_model=FastChat(),
                                image_generator=InstantRenderer(), memory=DefaultBrandMemory()),
            "full, watermark off": build_graph(no_watermark, checkpointer=savers["full, watermark off"],
                                               chat_model=FastChat(), image_generator=InstantRenderer(),
                                               memory=DefaultBrandMemory()),
            "bare": _bare_graph(savers["bare"], [s.id for s in planned]),
        }

        def first_input(name: str, thread: str) -> dict[str, Any]:
            brief = OVERHEAD_BRIEF.model_copy(update={"product": f"{OVERHEAD_BRIEF.product} {thread}"})
            if name == "bare":
                return {"request": brief.model_dump_json()}
            return runner.start_input(graphs[name], brief, thread_id=thread, max_brief_chars=full.max_brief_chars)

        warmup = {name: _drive(graph, savers[name], "warm-up", first_input(name, "warm-up"))["wall_s"]
                  for name, graph in graphs.items()}  # dev CA, imports, fonts, first SQLite pages
        samples: dict[str, list[dict[str, Any]]] = {name: [] for name in graphs}
        names = list(graphs)
        stamps = {"full": full.stamps_dir, "full, watermark off": no_watermark.stamps_dir}
        for n in range(repeat):
            for name in names[n % len(names):] + names[:n % len(names)]:  # rotated, so drift hits each alike
                thread = f"brief-{n:03d}"
                records = stamps.get(name)  # None for the bare graph, which stamps nothing
                before = _count(records) if records else 0
                brief = _drive(graphs[name], savers[name], thread, first_input(name, thread))
                if records:
                    brief["stamps_written"] = _count(records) - before
                    _check_shape(name, brief)
                samples[name].append(brief)
            print(f"repeat {n + 1}/{repeat}: " + ", ".join(f"{k} {v[-1]['wall_s'] * 1000:.0f} ms"
                                                          for k, v in samples.items()), file=sys.stderr, flush=True)
        figures: dict[str, Any] = {"mode": "overhead", "repeat": repeat, "brief": OVERHEAD_BRIEF.model_dump(),
                                   "settings": _VARIANTS, "warmup_s": warmup, "samples": samples,
                                   "machine": machine}
        ratio = (statistics.median(b["wall_s"] for b in samples["full"])
                 / statistics.median(b["wall_s"] for b in samples["bare"]))
        if ratio > TARGET_RATIO and profile_briefs:
            with _profiled() as profiles:
                started = time.perf_counter()
                for n in range(profile_briefs):
                    _drive(graphs["full"], savers["full"], f"profiled-{n}", first_input("full", f"profiled-{n}"))
                wall = time.perf_counter() - started
            figures["profile"] = _profile_report(profiles, wall, profile_briefs)
    print(_overhead_report(figures))
    print(f"\n{_machine_line(machine)}")
    return figures


def _overhead_report(figures: dict[str, Any]) -> str:
    samples: dict[str, list[dict[str, Any]]] = figures["samples"]
    med = statistics.median

    def per_brief(name: str, figure: Callable[[dict[str, Any]], float]) -> float:
        return med([figure(brief) for brief in samples[name]])

    bare_wall = per_brief("bare", operator.itemgetter("wall_s"))
    bare_cpu = per_brief("bare", operator.itemgetter("cpu_s"))
    rows = []
    for name, briefs in samples.items():
        walls = [b["wall_s"] for b in briefs]
        wall, cpu = med(walls), per_brief(name, operator.itemgetter("cpu_s"))
        rows.append([name, f"**{_ms(wall)}**", _ms(min(walls)), _ms(max(walls)), _ms(cpu),
                     f"**{wall / bare_wall:.2f}x**", f"{cpu / bare_cpu:.2f}x", _ms(wall - bare_wall)])
    for name in ("full", "full, watermark off"):
        walls = [b["wall_s"] - _node_time("finalize", b) for b in samples[name]]
        wall = med(walls)
        rows.append([f"{name}, less its finalize node", _ms(wall), _ms(min(walls)), _ms(max(walls)), "",
                     f"{wall / bare_wall:.2f}x", "", _ms(wall - bare_wall)])
    nodes = list(dict.fromkeys(t["node"] for b in samples["full"] for t in b["tasks"]))
    node_rows = [[node, str(sum(1 for t in samples["full"][0]["tasks"] if t["node"] == node)),
                  *(_ms(per_brief(name, partial(_node_time, node))) for name in samples)] for node in nodes]
    fan_out = ("write_copy", "make_visual")
    node_rows += [
        ["fan-out step, wall (first write_copy/make_visual start to last end)", "",
         *(_ms(per_brief(name, lambda b: _covered([t for t in b["tasks"] if t["node"] in fan_out])))
           for name in samples)],
        ["time with no node running (LangGraph between steps, get_state at review)", "",
         *(_ms(per_brief(name, lambda b: b["wall_s"] - _covered(b["tasks"]))) for name in samples)],
        ["checkpoint writes, SqliteSaver.put + put_writes (all threads; inside the rows above)", "",
         *(_ms(per_brief(name, operator.itemgetter("checkpoint_writes_s"))) for name in samples)],
        ["checkpoint reads, SqliteSaver.get_tuple (inside the rows above)", "",
         *(_ms(per_brief(name, operator.itemgetter("checkpoint_reads_s"))) for name in samples)],
    ]
    ratio = per_brief("full", operator.itemgetter("wall_s")) / bare_wall
    verdict = "met" if ratio <= TARGET_RATIO else f"**missed** ({ratio:.1f}x)"
    warmup = ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in figures["warmup_s"].items())
    parts = [
        f"## overhead: {figures['repeat']} briefs per graph, interleaved (6 copy + 4 visual subtasks, review, "
        "approve all, export)\n",
        f"warm-up brief (not counted): {warmup}",
        "",
        markdown_table(["graph", "per-brief wall, median (ms)", "min (ms)", "max (ms)", "CPU median (ms)",
                        "wall / bare", "CPU / bare", "overhead vs bare (ms)"], rows),
        "",
        f"target: full graph <= {TARGET_RATIO}x the bare graph: {verdict}",
        "",
        "Per node, median ms per brief (a node's parallel branches added up, so they overlap; review runs twice: to "
        "its interrupt, then on resume):",
        "",
        markdown_table(["node", "tasks per brief", *samples], node_rows),
    ]
    if "profile" in figures:
        profile = figures["profile"]
        parts += [
            "",
            f"cProfile of {profile['briefs']} more full-graph briefs, every thread ({profile['wall_s_per_brief']:.2f} "
            "s wall per brief under the profiler, which slows Python-heavy code most); cumulative seconds per brief, "
            "threads added up:",
            "",
            markdown_table(["part", "s per brief"],
                           [[p["part"], f"{p['seconds_per_brief']:.3f}"] for p in profile["parts"]]),
            "",
            "Top own time (threads waiting for work left out):",
            "",
            markdown_table(["function", "s per brief"], [[f"`{t['function']}`", f"{t['seconds_per_brief']:.3f}"]
                                                 for t in profile["top_own_time"]]),
        ]
    return "\n".join(parts)


# --- e2e -----------------------------------------------------------------------------------------------


def _streamed(graph: CompiledStateGraph[Any, Any, Any, Any], thread_id: str, value: Any, started: float,
              updates: list[dict[str, Any]]) -> None:
    """``runner.stream``, noting when each update arrived (seconds after ``started``)."""
    for update in runner.stream(graph, thread_id, value):
        updates.append({"at": time.perf_counter() - started, "node": update.node, "item": update.item,
                        "status": update.status, "seconds": update.seconds, "summary": update.summary})


def _loaded_backends(settings: Settings) -> tuple[Any, BrandMemory, dict[str, float]]:
    """The default chat model and brand memory, each loaded (and timed) before the first brief."""
    loads: dict[str, float] = {}
    started = time.perf_counter()
    chat = make_chat_model(settings)
    chat.invoke([HumanMessage("Hi")], max_tokens=1)  # the local model loads on its first call
    loads["chat model load + a 1-token call"] = time.perf_counter() - started
    memory = open_memory(settings)
    if isinstance(memory, ChromaBrandMemory):
        started = time.perf_counter()
        function = make_embedding_function(settings)
        function(["warm-up"])
        loads["embedding model load + 1 text"] = time.perf_counter() - started
        memory = ChromaBrandMemory(settings, embedding_function=function)  # as open_memory, with it loaded
    started = time.perf_counter()
    memory.recall(OVERHEAD_BRIEF)
    loads["brand memory open + first recall"] = time.perf_counter() - started
    return chat, memory, loads


def e2e(repeat: int) -> dict[str, Any]:
    """Mode 2: the default offline configuration and the local model, the sample brief to the exported pack."""
    _default_environment()
    machine = _machine()
    brief = SAMPLE.read_text(encoding="utf-8")
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-graph-") as folder:
        settings = _settings(Path(folder) / "data")
        chat, memory, loads = _loaded_backends(settings)
        started = time.perf_counter()
        graph = build_graph(settings, chat_model=chat, memory=memory)
        loads["build_graph (renderer, checkpointer)"] = time.perf_counter() - started
        for n in range(1, repeat + 1):
            thread = f"e2e-{n}"
            value = runner.start_input(graph, brief, thread_id=thread, max_brief_chars=settings.max_brief_chars)
            updates: list[dict[str, Any]] = []
            started = time.perf_counter()
            _streamed(graph, thread, value, started, updates)
            review = time.perf_counter() - started
            current = runner.status(graph, thread)
            if current.stage != "waiting_for_approval":
                raise RuntimeError(f"run {n} stopped {current.stage}: {current.error or current.question}")
            after: list[dict[str, Any]] = []
            resumed = time.perf_counter()
            _streamed(graph, thread, runner.resume_input(graph, thread, runner.approve_all(current)), resumed, after)
            end = time.perf_counter() - resumed
            audit = graph.get_state(_config(thread)).values["audit"]
            calls = [e for e in audit if e.kind == "model_call"]
            runs.append({
                "run": n, "first_update_s": updates[0]["at"],
                "first_done_s": next(u["at"] for u in updates if u["status"] == "done"),
                "previews_s": max(u["at"] for u in updates if u["node"] == "make_visual" and u["status"] == "done"),
                "review_s": review, "items": len(current.items),
                "export_s": next(u["at"] for u in after if u["node"] == "export" and u["status"] == "done"),
                "end_s": end, "model_calls": len(calls), "output_tokens": sum(e.output_tokens or 0 for e in calls),
                "updates": updates, "after_approval": after, "pack": runner.status(graph, thread).pack,
            })
            print(f"run {n}: review {review:.2f} s, pack {runs[-1]['export_s']:.2f} s after approval",
                  file=sys.stderr, flush=True)
    figures = {"mode": "e2e", "repeat": repeat, "loads_s": loads, "runs": runs, "machine": machine,
               "llm": settings.llm, "llm_threads": settings.llm_threads or os.cpu_count()}
    print(_e2e_report(figures))
    print(f"\n{_machine_line(machine)}")
    return figures


def _e2e_report(figures: dict[str, Any]) -> str:
    runs: list[dict[str, Any]] = figures["runs"]
    columns = [("first_update_s", "first streamed update (intake started)"),
               ("first_done_s", "first step done (intake)"), ("previews_s", "last preview (preview bundle)"),
               ("review_s", "review checkpoint"), ("export_s", "approve all -> exported pack"),
               ("end_s", "approve all -> end (memory, ledger)")]
    rows = [[str(r["run"]), *(f"{r[key]:.2f}" for key, _ in columns), str(r["model_calls"]), str(r["output_tokens"])]
            for r in runs]
    rows.append(["**median**", *(f"**{median([r[key] for r in runs]):.2f}**" for key, _ in columns), "", ""])
    steps: dict[str, list[float]] = {}
    for run in runs:
        for update in [*run["updates"], *run["after_approval"]]:
            if update["status"] in ("done", "waiting"):
                steps.setdefault(update["node"], []).append(update["seconds"])
    step_rows = [[node, str(len(v) // len(runs)), f"{median(v):.2f}", f"{max(v):.2f}"] for node, v in steps.items()]
    return "\n".join([
        f"## e2e: the sample brief, default offline settings ({figures['llm']} model, {figures['llm_threads']} "
        f"threads), {len(runs)} run(s)\n",
        "loaded once, before the first brief: " + ", ".join(f"{k} {v:.2f} s" for k, v in figures["loads_s"].items()),
        "",
        markdown_table(["run", *(f"{label} (s)" for _, label in columns), "model calls", "output tokens"], rows),
        "",
        "Steps (StepUpdate seconds; a node's parallel branches are separate tasks):",
        "",
        markdown_table(["node", "tasks per run", "median (s)", "max (s)"], step_rows),
    ])


# --- concurrency ---------------------------------------------------------------------------------------


def _plain(value: object) -> object:
    return value.model_dump(mode="json") if isinstance(value, BaseModel) else str(value)


def _leaks(graph: CompiledStateGraph[Any, Any, Any, Any], thread_id: str, product: str,
           others: dict[str, str]) -> list[str]:
    """What in the thread's state or pack belongs to another thread, or is not its own."""
    values = graph.get_state(_config(thread_id)).values
    manifest = values.get("manifest") or {}
    found: list[str] = []
    for where, pack in (("state manifest", manifest),
                        ("manifest.json", json.loads((Path(values["out_dir"]) / "manifest.json").read_text()))):
        if pack.get("thread_id") != thread_id or pack.get("product") != product:
            found.append(f"{thread_id}: {where} names {pack.get('thread_id')} / {pack.get('product')}")
        ids = [i["asset_id"] for key in ("copy", "images") for i in pack.get(key, [])]
        found += [f"{thread_id}: {where} lists {i}" for i in ids if not i.startswith(f"{thread_id}/")]
    dump = json.dumps(values, default=_plain)
    found += [f"{thread_id}: state mentions {other} or {theirs}" for other, theirs in others.items()
              if other != thread_id and (other in dump or theirs in dump)]
    return found


def _one_brief(graph: CompiledStateGraph[Any, Any, Any, Any], thread_id: str, brief: CreativeBrief,
               max_chars: int, gate: threading.Barrier) -> dict[str, Any]:
    """One thread's brief: start at the gate, to review, approve all, to the end; failed runs retried."""
    value = runner.start_input(graph, brief, thread_id=thread_id, max_brief_chars=max_chars)
    updates: list[dict[str, Any]] = []
    errors: list[str] = []
    gate.wait()
    started = time.perf_counter()

    def run(value: Any) -> None:
        while True:
            try:
                _streamed(graph, thread_id, value, started, updates)
                return
            except Exception as error:
                errors.append(f"{type(error).__name__}: {(str(error).splitlines() or [''])[0]}")
                if len(errors) > _RETRIES:
                    raise
                value = runner.resume_input(graph, thread_id, None)  # retry the failed step, as a user would

    run(value)
    review = time.perf_counter() - started
    current = runner.status(graph, thread_id)
    if current.stage != "waiting_for_approval":
        raise RuntimeError(f"{thread_id} stopped {current.stage}, not at review")
    run(runner.resume_input(graph, thread_id, runner.approve_all(current)))
    end = time.perf_counter()
    if runner.status(graph, thread_id).stage != "done":
        raise RuntimeError(f"{thread_id} did not finish")
    return {"thread": thread_id, "product": brief.product, "started": started, "ended": end, "review_s": review,
            "total_s": end - started, "errors": errors, "updates": updates}


def concurrency(briefs: int) -> dict[str, Any]:
    """Mode 3: ``briefs`` briefs at once from as many threads through one compiled graph on a fast fake model."""
    _default_environment()
    machine = _machine()
    products = {f"brief-{n:02d}": f"Oat-milk cold brew batch {n:02d}" for n in range(1, briefs + 1)}
    with tempfile.TemporaryDirectory(prefix="bench-graph-") as folder:
        settings = _settings(Path(folder) / "data", **_VARIANTS)
        graph = build_graph(settings, chat_model=FastChat(), memory=DefaultBrandMemory())
        warm = OVERHEAD_BRIEF.model_copy(update={"product": "Warm-up cold brew"})
        _one_brief(graph, "warm-up", warm, settings.max_brief_chars, threading.Barrier(1))  # dev CA, imports, fonts
        alone = _one_brief(graph, "alone", warm.model_copy(update={"product": "Alone cold brew"}),
                           settings.max_brief_chars, threading.Barrier(1))
        gate = threading.Barrier(briefs)
        cpu = time.process_time()
        with ThreadPoolExecutor(max_workers=briefs) as pool:
            futures = {thread: pool.submit(_one_brief, graph, thread,
                                           OVERHEAD_BRIEF.model_copy(update={"product": product}),
                                           settings.max_brief_chars, gate)
                       for thread, product in products.items()}
            outcomes: dict[str, dict[str, Any] | str] = {}
            for thread, future in futures.items():
                try:
                    outcomes[thread] = future.result()
                except Exception as error:
                    outcomes[thread] = f"{type(error).__name__}: {(str(error).splitlines() or [''])[0]}"
        cpu = time.process_time() - cpu
        done = [o for o in outcomes.values() if isinstance(o, dict)]
        leaks = [leak for o in done for leak in _leaks(graph, o["thread"], o["product"], products)]
    wall = max(o["ended"] for o in done) - min(o["started"] for o in done) if done else 0.0
    figures = {"mode": "concurrency", "briefs": briefs, "settings": _VARIANTS, "alone_s": alone["total_s"],
               "wall_s": wall, "cpu_s": cpu, "done": len(done),
               "failed": {t: o for t, o in outcomes.items() if isinstance(o, str)},
               "retried": {o["thread"]: o["errors"] for o in done if o["errors"]}, "leaks": leaks,
               "runs": done, "machine": machine}
    print(_concurrency_report(figures))
    print(f"\n{_machine_line(machine)}")
    return figures


def _concurrency_report(figures: dict[str, Any]) -> str:
    runs: list[dict[str, Any]] = figures["runs"]
    steps: dict[str, list[float]] = {}
    for run in runs:
        for update in run["updates"]:
            if update["status"] in ("done", "waiting"):
                steps.setdefault(update["node"], []).append(update["seconds"])
    step_rows = [[node, str(len(v)), _ms(median(v), 0), _ms(p95(v), 0), _ms(max(v), 0)]
                 for node, v in steps.items()]
    briefs = [("review_s", "start -> review checkpoint"), ("total_s", "start -> end (approval is instant)")]
    brief_rows = [[label, _ms(median([r[k] for r in runs]), 0), _ms(p95([r[k] for r in runs]), 0),
                   _ms(max((r[k] for r in runs), default=None), 0)] for k, label in briefs]
    wall = figures["wall_s"]
    retried = figures["retried"]
    return "\n".join([
        f"## concurrency: {figures['briefs']} briefs at once, one process, one compiled graph (6 copy + 4 visual "
        "subtasks each, FastChat, layout renderer)\n",
        f"{figures['done']} of {figures['briefs']} briefs done in **{wall:.1f} s** wall: "
        f"**{figures['done'] / wall * 60 if wall else 0:.1f} briefs/min**; one brief alone just before (after a "
        f"warm-up brief) took {figures['alone_s']:.2f} s = {60 / figures['alone_s']:.1f} briefs/min one at a time; "
        f"CPU {figures['cpu_s']:.1f} s = {figures['cpu_s'] / wall if wall else 0:.2f} of {os.cpu_count()} cores",
        "",
        markdown_table(["per brief", "p50 (ms)", "p95 (ms)", "max (ms)"], brief_rows),
        "",
        "Per step (StepUpdate seconds, 10 ms resolution; every task of every brief):",
        "",
        markdown_table(["node", "tasks", "p50 (ms)", "p95 (ms)", "max (ms)"], step_rows),
        "",
        "cross-thread leakage: " + ("; ".join(figures["leaks"]) if figures["leaks"] else
                                    "none (each pack's manifest, in state and on disk, names its own thread and "
                                    "product, every asset id is its own, and no other thread's id or product is in "
                                    "its state)"),
        "failed steps retried: " + ("; ".join(f"{t}: {', '.join(e)}" for t, e in retried.items()) if retried
                                    else "none"),
        *([f"failed briefs: {figures['failed']}"] if figures["failed"] else []),
    ])


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the chosen mode; print its markdown tables and return its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    modes = parser.add_subparsers(dest="mode", required=True)
    over = modes.add_parser("overhead", help="the full graph on instant fakes against a bare graph of its shape")
    over.add_argument("--repeat", type=int, default=20, help="briefs per graph, interleaved")
    over.add_argument("--profile-briefs", type=int, default=3,
                      help=f"briefs profiled when the ratio is over {TARGET_RATIO} (0: none)")
    end = modes.add_parser("e2e", help="the sample brief with the default offline settings and the local model")
    end.add_argument("--repeat", type=int, default=3, help="briefs, each on a fresh thread")
    many = modes.add_parser("concurrency", help="many briefs at once through one process")
    many.add_argument("--briefs", type=int, default=20, help="briefs (and threads) started at once")
    for mode in (over, end, many):
        mode.add_argument("--json", type=Path, help="write every sample here")
    args = parser.parse_args(argv)
    if args.mode == "concurrency":
        if args.briefs < 1:
            parser.error(f"--briefs {args.briefs}: allowed >= 1")
        figures = concurrency(args.briefs)
    else:
        if args.repeat < 1:
            parser.error(f"--repeat {args.repeat}: allowed >= 1")
        if args.mode == "overhead":
            if args.profile_briefs < 0:
                parser.error(f"--profile-briefs {args.profile_briefs}: allowed >= 0")
            figures = overhead(args.repeat, args.profile_briefs)
        else:
            figures = e2e(args.repeat)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2, default=_plain), encoding="utf-8")
    return figures


if __name__ == "__main__":
    main()
