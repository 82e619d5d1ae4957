"""The openai-compatible provider against a real server: llama-cpp-python's, on 127.0.0.1, same GGUF."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from builders import free_port

from briefcraft.errors import MemoryStoreError
from briefcraft.graphs import runner
from briefcraft.graphs.brief_graph import build_graph
from briefcraft.memory.embeddings import MiniLMEmbeddingFunction
from briefcraft.memory.store import ChromaBrandMemory
from briefcraft.settings import Settings

pytestmark = pytest.mark.llm


@pytest.fixture(scope="module")
def embedding_url() -> Iterator[str]:
    """An OpenAI-protocol /v1/embeddings endpoint on 127.0.0.1 serving real MiniLM vectors.

    llama_cpp.server cannot stand in here: for a chat GGUF it returns one vector per token, not per input.
    """
    function = MiniLMEmbeddingFunction()

    class Embeddings(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
            data = [{"object": "embedding", "index": i, "embedding": v.tolist()}
                    for i, v in enumerate(function(texts))]
            reply = json.dumps({"object": "list", "data": data, "model": body["model"],
                                "usage": {"prompt_tokens": 1, "total_tokens": 1}}).encode()
            self.send_response(200 if self.path == "/v1/embeddings" else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Embeddings)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()


def test_brief_runs_through_openai_compatible_server(llama_server_url: str, tmp_path: Path, sample_brief: str) -> None:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, data_dir=tmp_path / "data", llm="openai-compatible:smollm2", llm_base_url=llama_server_url
    )
    graph = build_graph(settings)
    current = runner.start(graph, sample_brief, thread_id="oc", max_brief_chars=4000, user="maya")
    assert current.stage == "waiting_for_approval"
    assert [a["args"]["id"] for a in current.items] == [
        "copy-instagram_feed-1", "copy-email-1", "img-instagram_feed-1", "img-email-1"
    ]
    done = runner.resume(graph, "oc", runner.approve_all(current), user="cd")
    assert done.stage == "done"
    audit = [json.loads(line)["event"] for line in (Path(done.pack or "") / "audit.jsonl").read_text().splitlines()]
    calls = [e for e in audit if e["kind"] == "model_call"]
    assert {(e["provider"], e["model"]) for e in calls} == {("openai-compatible", "smollm2")}
    assert all(e["input_tokens"] and e["output_tokens"] for e in calls)


def test_openai_embeddings_for_brand_memory_through_a_compatible_server(embedding_url: str, tmp_path: Path) -> None:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, data_dir=tmp_path / "data", embeddings="openai", embedding_model="all-minilm",
        embedding_base_url=embedding_url, openai_api_key="sk-local",
    )
    notes = tmp_path / "notes.md"
    notes.write_text("# Notes\n\n## Voice\nWarm and direct.\n\n## Colours\nNavy #1F3A5F.\n", encoding="utf-8")
    with ChromaBrandMemory(settings) as memory:
        assert memory.add(notes, brand="acme").chunks == 2
        [hit] = memory.search("Notes > Colours\nNavy #1F3A5F.", brand="acme", k=1)
    assert hit.source == "notes.md > Notes > Colours"
    assert hit.score > 0.99
    minilm = settings.model_copy(update={"embeddings": "minilm"})
    with ChromaBrandMemory(minilm) as memory, pytest.raises(MemoryStoreError, match="was built with openai embeddings, not briefcraft-minilm"):
        memory.search("colours", brand="acme")
