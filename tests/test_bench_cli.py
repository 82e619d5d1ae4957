"""The CLI benchmark (evals/bench_cli.py) still runs: one real run of the sample brief, its model calls read from the
pack's audit ledger. Nothing here asserts a time, only that the figures come from real calls."""

from __future__ import annotations

import pytest
from builders import load_script

pytestmark = pytest.mark.llm


def test_one_run_splits_the_wall_time_into_model_calls_and_the_rest(capsys: pytest.CaptureFixture[str]) -> None:
    bench = load_script("bench_cli")
    [(wall, model, calls, tokens)] = bench.main(["--runs", "1"])
    assert calls >= 3 and tokens > 0  # intake and one copy call per channel, at least
    assert 0 < model < wall
    out = capsys.readouterr().out
    assert out.startswith(f"runs: 1; model calls per run: {calls}; output tokens per run: {tokens}\n")
    assert "model median " in out and "rest  median " in out


def test_runs_must_be_one_or_more(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        load_script("bench_cli").main(["--runs", "0"])
    assert exit_.value.code == 2
    assert "error: --runs 0: allowed >= 1" in capsys.readouterr().err
