"""The openai-compatible provider against a real server: llama-cpp-python's, on 127.0.0.1, same GGUF."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from briefcraft.agents.models import bundled_gguf
from briefcraft.graphs import runner
from briefcraft.graphs.brief_graph import build_graph
from briefcraft.settings import Settings

pytestmark = pytest.mark.llm


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = _free_port()
    log = tmp_path_factory.mktemp("server") / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "llama_cpp.server", "--model", str(bundled_gguf()), "--model_alias", "smollm2",
             "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048"],
            stdout=out, stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}/v1"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    with urllib.request.urlopen(f"{url}/models", timeout=2) as reply:
                        json.load(reply)
                    break
                except OSError:
                    if process.poll() is not None or time.monotonic() > deadline:
                        pytest.fail(f"llama_cpp.server did not start: {log.read_text()[-2000:]}")
                    time.sleep(0.3)
            yield url
        finally:
            process.terminate()
            process.wait(timeout=30)


def test_brief_runs_through_openai_compatible_server(server_url: str, tmp_path: Path, sample_brief: str) -> None:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, data_dir=tmp_path / "data", llm="openai-compatible:smollm2", llm_base_url=server_url
    )
    graph = build_graph(settings)
    current = runner.start(graph, sample_brief, thread_id="oc", max_brief_chars=4000, user="maya")
    assert current.stage == "waiting_for_approval"
    assert [a["args"]["id"] for a in current.items] == [
        "copy-instagram_feed-1", "copy-email-1", "img-instagram_feed-1", "img-email-1"
    ]
    done = runner.resume(graph, "oc", runner.approve_all(current), user="cd")
    assert done.stage == "done"
    audit = [json.loads(line) for line in (Path(done.pack or "") / "audit.jsonl").read_text().splitlines()]
    calls = [e for e in audit if e["kind"] == "model_call"]
    assert {(e["provider"], e["model"]) for e in calls} == {("openai-compatible", "smollm2")}
    assert all(e["input_tokens"] and e["output_tokens"] for e in calls)
