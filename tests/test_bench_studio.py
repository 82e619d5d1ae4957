"""The studio benchmark (evals/bench_studio.py) still runs: its concurrent mode with two browser users for one round
each, in Debian's chromium, on the fast fake chat model. Nothing here asserts a time, only that every interaction
was measured in the page and that no user's chat named another's thread."""

from __future__ import annotations

import pytest
from builders import load_script, require_chromium

KINDS = ["send", "review tab", "load", "submit", "runs tab", "refresh"]


def test_two_users_one_round_measures_every_interaction(capsys: pytest.CaptureFixture[str]) -> None:
    require_chromium()
    figures = load_script("bench_studio").main(["concurrent", "--users", "2", "--rounds", "1"])
    assert (figures["failures"], figures["leaks"]) == ([], [])
    interactions = figures["interactions"]
    assert sorted((i["user"], i["kind"]) for i in interactions) == sorted((u, k) for u in (1, 2) for k in KINDS)
    for interaction in interactions:  # each click's change seen in the page, after the click
        assert interaction["marks"] and all(seconds > 0 for seconds in interaction["marks"].values()), interaction
    sends = [i for i in interactions if i["kind"] == "send"]
    assert all(i["events"][0]["completed"] > i["events"][0]["starts"] for i in sends)  # the queue's events were read
    out = capsys.readouterr().out
    assert "## concurrent: 2 browser users, 1 round(s) each\n" in out  # after Gradio's "Closing server" line
    assert "cross-thread leakage: none" in out


def test_bad_arguments_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    require_chromium()  # the benchmark refuses to start without it, before reading its numbers
    with pytest.raises(SystemExit) as exit_:
        load_script("bench_studio").main(["concurrent", "--users", "0"])
    assert exit_.value.code == 2
    assert "error: --users 0 --rounds 3: allowed >= 1 each" in capsys.readouterr().err
