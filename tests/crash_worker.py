"""The crash test's harness: runs briefs through the graph in forked workers and SIGKILLs them at seeded points.

``python tests/crash_worker.py DIR --runs N --seed S`` imports the graph once, then for each run forks a worker that
drives one thread (start, approve everything at review, finalize, export) and kills it: after a seeded delay, while
it waits at review, just after it submitted the decisions, or inside a render. A fresh worker then resumes the
thread from its checkpoint, and is killed again or left to finish. Each finished thread's summary (its final
state, ledger check, idempotency keys, pack and asset files) goes to ``DIR/report.json`` beside an uninterrupted
reference run's; ``tests/test_crash.py`` compares them. Workers are forked from this process before it has run
anything that starts a thread, so a worker costs milliseconds, not a Python start-up.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing
import os
import random
import signal
import sys
import threading
import time
from collections import Counter
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from langgraph.types import StateSnapshot

from briefcraft.errors import ThreadError
from briefcraft.evals.fakes import FastChat
from briefcraft.graphs import runner
from briefcraft.graphs.brief_graph import build_graph
from briefcraft.memory.store import DefaultBrandMemory
from briefcraft.schemas import ImageAsset
from briefcraft.settings import Settings
from briefcraft.tools.audit import idempotency_key, item_hash
from briefcraft.tools.render import LayoutRenderer, Rendered, RenderSpec

__all__ = ["MODES", "THREAD", "main"]

THREAD = "crash"
#: One channel, so a run is quick: a copy and a visual branch in parallel, one final to render, stamp and export.
BRIEF = ("Launch our oat-milk cold brew to Berlin commuters by email. Playful but premium.\n"
         "Key message: smooth energy for the morning U-Bahn ride. Must say 'Contains oats'. Never say 'cheap'.")
#: Where a kill is aimed: a seeded delay after the worker starts; while the thread waits at review; just after the
#: worker submitted the review decisions; inside the n-th render call (in make_visual or finalize).
MODES = ("timer", "paused", "submitted", "render")
_KEYED = ("model_call", "render", "provenance", "export")


def _settings(root: Path) -> Settings:
    # the invisible watermark costs seconds per final and no side effect of its own: off, to keep 100 runs bounded
    return Settings(_env_file=None, data_dir=root / "data", watermark=False)  # type: ignore[call-arg]


class _GatedRenderer:
    """The layout renderer, telling the harness before each render and waiting for its go (so a kill lands inside
    the node, before the picture is stored)."""

    def __init__(self, conn: Connection | None):
        self._inner = LayoutRenderer()
        self.renderer, self.label = self._inner.renderer, self._inner.label
        self._conn = conn
        self._calls = 0
        self._lock = threading.Lock()  # parallel make_visual branches share the one pipe to the harness

    def render(self, spec: RenderSpec) -> Rendered:
        """Ask the harness, then render."""
        with self._lock:
            self._calls += 1
            _ask(self._conn, "render", self._calls)
        return self._inner.render(spec)


def _ask(conn: Connection | None, what: str, count: int = 0) -> None:
    """Tell the harness where the worker is and wait until it says go (or kills the worker)."""
    if conn is not None:
        conn.send((what, count))
        conn.recv()


def _landing(snapshot: StateSnapshot) -> str:
    """Where the thread stands at the checkpoint a worker finds: the step's nodes, and whether the thread waits at
    it or how many of the step's tasks had finished (their writes saved, the step's checkpoint not yet)."""
    if snapshot.created_at is None:
        return "not started"
    nodes = "+".join(sorted({task.name for task in snapshot.tasks})) or "done"
    if snapshot.interrupts:
        return f"{nodes} (paused)"
    finished = sum(1 for task in snapshot.tasks if task.result is not None)
    return f"{nodes} ({finished}/{len(snapshot.tasks)} finished)" if finished else nodes


def drive(root: Path, conn: Connection | None = None) -> None:
    """Run (or resume) the thread in ``root`` to the end, approving every item at review."""
    settings = _settings(root)
    graph = build_graph(settings, chat_model=FastChat(), image_generator=_GatedRenderer(conn),
                        memory=DefaultBrandMemory())
    snapshot = graph.get_state({"configurable": {"thread_id": THREAD}})
    with (root / "landings.jsonl").open("a") as log:  # the step's tasks: a re-run must record their keys
        log.write(json.dumps([_landing(snapshot), [[task.name, task.id] for task in snapshot.tasks]]) + "\n")
    while True:
        try:
            current = runner.status(graph, THREAD)
        except ThreadError:
            current = runner.start(graph, BRIEF, thread_id=THREAD, max_brief_chars=settings.max_brief_chars,
                                   user="maya")
            continue
        if current.stage == "waiting_for_approval":
            _ask(conn, "paused")
            response = runner.approve_all(current)
            if conn is not None:
                conn.send(("submitted", 0))
            runner.resume(graph, THREAD, response, user="maya")
        elif current.stage in ("interrupted", "failed"):
            runner.resume(graph, THREAD, None, user="maya")
        elif current.stage == "done" and current.pack is None:
            at = _landing(graph.get_state({"configurable": {"thread_id": THREAD}}))
            raise RuntimeError(f"the thread reads as done at {at} but exported no pack")
        elif current.stage == "done":
            (root / "summary.json").write_text(json.dumps(summarize(graph, settings), indent=1, sort_keys=True))
            return
        else:
            raise RuntimeError(f"the crash test's thread stopped at {current.stage}: {current.error}")


def _files(folder: Path) -> list[str]:
    """Every file and folder under ``folder``, relative, hidden ones included."""
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*")) if folder.exists() else []


def _relative(image: ImageAsset) -> ImageAsset:
    """The image with its file names in place of paths, which name each run's own data dir."""
    return image.model_copy(update={"path": Path(image.path).name, "picture": Path(image.picture or "").name})


def summarize(graph: Any, settings: Settings) -> dict[str, Any]:
    """A finished thread, in two parts: ``state``, what must equal an uninterrupted run's (without timestamps,
    signatures and keys, which differ from run to run), and the facts each run is checked for on its own."""
    values = graph.get_state({"configurable": {"thread_id": THREAD}}).values
    audit = values["audit"]
    manifest = values["manifest"]
    varying = {"audit.jsonl"} | {image["path"] for image in manifest["images"]}  # timestamps; C2PA signatures
    state = {
        "copy": [[c.id, c.revision, c.author, c.fields, item_hash(c)] for c in values["copy"]],
        "images": [[i.id, i.revision, i.sha256, item_hash(_relative(i))] for i in values["images"]],
        "finals": [[f.id, f.source_id, f.width, f.height, f.headline, f.cta, Path(f.picture or "").name,
                    f.provenance.model_dump(mode="json") if f.provenance else None] for f in values["finals"]],
        "decisions": [[d.item_id, d.revision, d.action, d.reviewer] for d in values["decisions"]],
        "audit": [[e.kind, e.node, e.item_id, e.revision, e.provider, e.decision] for e in audit],
        "compliance": values["compliance"].model_dump(mode="json"),
        "manifest": {k: v for k, v in manifest.items() if k not in ("files", "audit", "idempotency_key", "images")}
        | {"files": [[f["path"], None if f["path"] in varying else f["sha256"]] for f in manifest["files"]],
           "images": [{k: v for k, v in i.items() if k != "provenance"} for i in manifest["images"]]},
    }
    check, events = runner.verify_ledger(graph, THREAD, settings.audit_dir)
    referenced = {Path(p).resolve() for e in audit if e.path and e.kind != "export" for p in [e.path]}
    referenced |= {Path(i.path).resolve() for i in [*values["images"], *values["finals"]]}
    stored = [p for p in settings.assets_dir.rglob("*")] if settings.assets_dir.exists() else []
    pack = Path(values["out_dir"])
    keys = {e.idempotency_key for e in audit}
    resumed = [json.loads(line)[1] for line in (settings.data_dir.parent / "landings.jsonl").read_text().splitlines()]
    return {
        # each task a worker found at its checkpoint (killed or about to run), with how many of the thread's events
        # carry a key made from that very task: its re-run kept the keys the killed run would have recorded
        "resumed_tasks": [[name, sum(idempotency_key(THREAD, f"{name}:{task_id}", index) in keys
                                     for index in range(len(audit)))] for tasks in resumed for name, task_id in tasks],
        "state": state,
        "ledger": {"valid": check.valid, "problem": check.problem, "entries": check.entries, "events": len(events)},
        "keys": [e.idempotency_key for e in audit if e.kind in _KEYED],
        "export_key": manifest["idempotency_key"],
        "export_event_key": next(e.idempotency_key for e in audit if e.kind == "export"),
        "approvals": Counter(d.item_id for d in values["decisions"]),
        "approval_events": Counter(e.item_id for e in audit if e.kind == "human_decision"),
        "pack_files": _files(pack),
        "manifest_files": sorted(f["path"] for f in manifest["files"]),
        "packs_dir": sorted(p.name for p in pack.parent.iterdir()),
        # the store holds only two-letter folders of files named by their content's sha256
        "misnamed_assets": sorted(str(p) for p in stored if (p.is_dir() and len(p.name) != 2) or (
            p.is_file() and p.stem != hashlib.sha256(p.read_bytes()).hexdigest())),
        "orphan_assets": sorted(str(p) for p in stored if p.is_file() and p.resolve() not in referenced),
    }


def _worker(root: str, conn: Connection) -> None:
    try:
        drive(Path(root), conn)
    except Exception as error:
        (Path(root) / "error.txt").write_text(f"{type(error).__name__}: {error}")
        raise


def _run_worker(ctx: Any, root: Path, mode: str | None, rng: random.Random, budget: float) -> tuple[bool, str]:
    """Fork a worker on ``root`` and aim one kill at ``mode`` (None: let it finish); whether it was killed, and
    what was aimed at."""
    here, there = ctx.Pipe()
    process = ctx.Process(target=_worker, args=(str(root), there))
    delay = rng.uniform(0.0, budget)
    nth = rng.randint(1, 2)  # the preview's picture, then the final's
    aim = {"timer": f"timer {delay:.2f}s", "render": f"render #{nth}"}.get(str(mode), str(mode))
    process.start()
    there.close()
    started = time.monotonic()
    killed = False
    while not killed:
        left = started + delay - time.monotonic() if mode == "timer" else 60.0
        try:
            if not here.poll(max(left, 0.0)):
                if mode == "timer":
                    os.kill(process.pid, signal.SIGKILL)
                    break
                raise RuntimeError(f"crash worker in {root} gave no sign for 60 s")
            what, count = here.recv()
        except EOFError:
            break  # the worker finished
        if what == mode == "paused" or (what == mode == "render" and count == nth) or what == mode == "submitted":
            time.sleep(rng.uniform(0.0, 0.1 if mode == "submitted" else 0.005))
            os.kill(process.pid, signal.SIGKILL)
            killed = True
        elif what != "submitted":
            here.send("go")
    process.join()
    here.close()
    return process.exitcode == -signal.SIGKILL, aim


def _summary(root: Path) -> dict[str, Any] | None:
    path = root / "summary.json"
    return json.loads(path.read_text()) if path.exists() else None


def main(argv: list[str] | None = None) -> int:
    """Reference run, then ``--runs`` killed runs; the report goes to ``DIR/report.json``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dir", type=Path)
    parser.add_argument("--runs", type=int, default=100, help="runs with at least one kill")
    parser.add_argument("--seed", type=int, default=8)
    args = parser.parse_args(argv)
    ctx = multiprocessing.get_context("fork")
    began = time.monotonic()
    reference = args.dir / "reference"
    reference.mkdir(parents=True)
    _run_worker(ctx, reference, None, random.Random(0), 0.0)
    budget = time.monotonic() - began  # an uninterrupted run's wall time: timer kills fall within it
    runs: list[dict[str, Any]] = []
    rng = random.Random(args.seed)
    while sum(1 for run in runs if run["kills"]) < args.runs:
        root = args.dir / f"run{len(runs):03d}"
        root.mkdir()
        kills: list[str] = []
        workers = 0
        for mode in [rng.choice(MODES) for _ in range(rng.randint(1, 3))] + [None]:
            workers += 1
            killed, aim = _run_worker(ctx, root, mode, rng, budget)
            if killed:
                kills.append(aim)
            elif (root / "summary.json").exists() or (root / "error.txt").exists():
                break
        landings = [json.loads(line)[0] for line in (root / "landings.jsonl").read_text().splitlines()]
        error = root / "error.txt"
        runs.append({"dir": root.name, "kills": kills, "workers": workers, "landings": landings[1:],
                     "error": error.read_text() if error.exists() else None})
    report = {
        "seconds": round(time.monotonic() - began, 1), "reference_seconds": round(budget, 2),
        "reference": json.loads((reference / "summary.json").read_text()),
        "runs": [run | {"summary": _summary(args.dir / run["dir"])} for run in runs],
    }
    (args.dir / "report.json").write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
