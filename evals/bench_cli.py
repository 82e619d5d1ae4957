"""Benchmark: wall time of `briefcraft run <sample brief> --approve all`, split into model time and the rest.

    .venv/bin/python evals/bench_cli.py [--runs 5]

Each run is a fresh process (as a user runs it) on a fresh data dir. Model time is the wall time during
which at least one model call was in flight, from the calls' end times and ``latency_ms`` in the pack's
audit ledger (parallel copy branches overlap, and wait on the one llama.cpp context); everything else
(interpreter and import start-up, graph, checkpoints, rendering, export) is the rest. Prints medians.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

SAMPLE = Path(__file__).resolve().parents[1] / "briefcraft" / "data" / "sample_brief.txt"


def _one_run(exe: str) -> tuple[float, float, int, int]:
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "BRIEFCRAFT_DATA_DIR": str(Path(tmp) / "data")}
        out = Path(tmp) / "pack"
        started = time.perf_counter()
        subprocess.run([exe, "run", f"@{SAMPLE}", "--approve", "all", "--out", str(out)], env=env, check=True,
                       capture_output=True)
        wall = time.perf_counter() - started
        events = [json.loads(line)["event"] for line in (out / "audit.jsonl").read_text().splitlines()]
        calls = [e for e in events if e["kind"] == "model_call"]
        return wall, _busy_seconds(calls), len(calls), sum(e["output_tokens"] or 0 for e in calls)


def _busy_seconds(calls: list[dict[str, Any]]) -> float:
    """Length of the union of the calls' [start, end] intervals."""
    intervals = sorted(
        (end - call["latency_ms"] / 1000, end)
        for call in calls
        for end in [datetime.fromisoformat(call["at"]).timestamp()]
    )
    busy, reach = 0.0, float("-inf")
    for start, end in intervals:
        busy += max(0.0, end - max(start, reach))
        reach = max(reach, end)
    return busy


def main(argv: list[str] | None = None) -> list[tuple[float, float, int, int]]:
    """Run the benchmark and print its medians; returns each run's (wall s, model s, calls, output tokens)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error(f"--runs {args.runs}: allowed >= 1")
    exe = str(Path(sys.executable).with_name("briefcraft"))
    runs = [_one_run(exe) for _ in range(args.runs)]
    walls, models = [r[0] for r in runs], [r[1] for r in runs]
    rest = [w - m for w, m in zip(walls, models, strict=True)]
    print(f"runs: {args.runs}; model calls per run: {runs[0][2]}; output tokens per run: {runs[0][3]}")
    print(f"wall  median {statistics.median(walls):.2f} s  (min {min(walls):.2f}, max {max(walls):.2f})")
    share = statistics.median(models) / statistics.median(walls)
    print(f"model median {statistics.median(models):.2f} s  ({share:.0%} of the wall median)")
    print(f"rest  median {statistics.median(rest):.2f} s")
    return runs


if __name__ == "__main__":
    main()
