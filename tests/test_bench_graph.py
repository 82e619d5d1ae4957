"""The graph benchmark (evals/bench_graph.py) still runs, and its overhead mode measures a brief's whole work.

Its figures are timings, so nothing here asserts a time: only that one tiny run goes through every graph, that each
full-graph brief stamped its 6 finals afresh (a brief reusing an earlier brief's stamps would make ``finalize``
look almost free), and that the report has its rows.
"""

from __future__ import annotations

from types import ModuleType

import pytest
from builders import load_script


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return load_script("bench_graph")


def test_overhead_runs_each_graph_and_stamps_every_brief_afresh(bench: ModuleType,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    figures = bench.main(["overhead", "--repeat", "2", "--profile-briefs", "0"])
    samples = figures["samples"]
    assert {name: len(runs) for name, runs in samples.items()} == {"full": 2, "full, watermark off": 2, "bare": 2}
    assert [run["stamps_written"] for run in samples["full"] + samples["full, watermark off"]] == [6, 6, 6, 6]
    assert {run["items"] for runs in samples.values() for run in runs} == {10}  # 6 copy + 4 previews at review
    out = capsys.readouterr().out
    rows = [line.split("|")[1].strip() for line in out.splitlines() if line.startswith("| full") or
            line.startswith("| bare")]
    assert rows[:5] == ["full", "full, watermark off", "bare", "full, less its finalize node",
                        "full, watermark off, less its finalize node"]
    assert "target: full graph <= 1.5x the bare graph: **" in out


def test_overhead_rejects_bad_arguments(bench: ModuleType, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        bench.main(["overhead", "--repeat", "0"])
    assert exit_.value.code == 2
    assert "error: --repeat 0: allowed >= 1" in capsys.readouterr().err
