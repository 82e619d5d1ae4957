"""The brand-memory benchmark (evals/bench_memory.py) still runs, on a tiny corpus: real MiniLM, real Chroma.

Nothing here asserts a time, only that every figure the benchmark reports comes from the work it names.
"""

from __future__ import annotations

import pytest
from builders import load_script


def test_a_tiny_run_reports_ingest_and_query_figures(capsys: pytest.CaptureFixture[str]) -> None:
    result = load_script("bench_memory").main(["--docs", "2", "--sections", "4", "--queries", "5", "--rounds", "1",
                                               "--sizes", "60"])
    ingest = result["ingest"]
    assert isinstance(ingest, dict)
    assert ingest["chunks"] == 8  # one chunk per section: the same chunks the embedding rows embed
    assert ingest["cosine_to_fp32_min"] > 0.99  # our embedding step agrees with the model in fp32
    for figure in ("with_embedding_chunks_per_s", "embedding_alone_chunks_per_s", "fp32_embedding_alone_chunks_per_s",
                   "without_embedding_chunks_per_s"):
        assert ingest[figure] > 0
    query = result["query_60"]
    assert isinstance(query, dict)
    for timing in ("with_embedding", "precomputed_vector"):
        assert 0 < query[timing]["p50_ms"] <= query[timing]["p99_ms"]
    assert result["embedding_dtype"] in ("bf16", "fp32")
    assert '"query_60"' in capsys.readouterr().out


@pytest.mark.parametrize(("args", "message"), [(["--rounds", "0"], "--rounds 0: allowed >= 1"),
                                               (["--sizes", "100", "0"], "--sizes 0: allowed >= 1 chunks")])
def test_bad_arguments_are_refused(capsys: pytest.CaptureFixture[str], args: list[str], message: str) -> None:
    with pytest.raises(SystemExit) as exit_:
        load_script("bench_memory").main(args)
    assert exit_.value.code == 2
    assert f"error: {message}" in capsys.readouterr().err
