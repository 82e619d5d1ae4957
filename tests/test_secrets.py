"""API keys never show: canary keys in BRIEFCRAFT_LLM_API_KEY, OPENAI_API_KEY and ANTHROPIC_API_KEY, then the
settings' repr and dumps, runs whose provider rejects the key with 401 (echoing part of it, as OpenAI does) through
the graph, the studio and the CLI, and a run that goes through to the pack. No key, nor its first or last eight
characters, nor the server's masked echo of it, appears in an error message, a log record (DEBUG, the SDKs' and
httpx's loggers included), the CLI's output, the audit ledger, the checkpoint database, brand memory or the pack.
"""

from __future__ import annotations

import logging
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import gradio as gr
import pytest
from fault_server import FaultServer

from briefcraft.errors import ProviderError
from briefcraft.graphs import runner
from briefcraft.graphs.brief_graph import build_graph
from briefcraft.memory.store import DefaultBrandMemory
from briefcraft.settings import Settings, load_settings
from briefcraft.tools.openai_images import OpenAIImagesRenderer
from briefcraft.tools.render import RenderSpec
from briefcraft.ui.studio import Studio

#: Each key's first eight characters differ from the others', so a partial leak names its variable.
KEYS = {"BRIEFCRAFT_LLM_API_KEY": "sk-LLMcanary-4f7Qz2Xw9Rb3Tn8Kp6Vd",
        "OPENAI_API_KEY": "sk-OAIcanary-7h2Jc5Lm1Ws8Gy4Nq0Ue",
        "ANTHROPIC_API_KEY": "sk-ANTcanary-3b9Pd6Fk2Zr7Mx1Hs5Oa"}
BRIEF = "Launch our oat-milk cold brew on Instagram. Must say 'Contains oats'."
REJECTED = ("openai-compatible:smollm2 rejected the API key (HTTP 401); not retried: check BRIEFCRAFT_LLM_API_KEY")
LOGGERS = ("", "openai", "httpx", "httpcore", "httpx2", "httpcore2", "langchain", "langgraph", "briefcraft", "chromadb")


def _needles() -> list[str]:
    """What must not show: each key, its first and last 8 characters, and the 401 body's masked echo of it."""
    return [part for key in KEYS.values() for part in (key, key[:8], key[-8:], f"{key[:6]}***{key[-4:]}")]


def _leaks(text: str | bytes, where: str) -> list[str]:
    data = text.encode() if isinstance(text, str) else text
    return [f"{where}: {needle}" for needle in _needles() if needle.encode() in data]


def _files_leaks(folder: Path) -> list[str]:
    """Every file under ``folder`` (databases, their WAL files, the audit, brand memory, the pack), byte for byte."""
    return [leak for path in sorted(folder.rglob("*")) if path.is_file() for leak in _leaks(path.read_bytes(), str(path))]


@pytest.fixture
def keyed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> Iterator[Path]:
    """The canary keys in the environment, a working dir without a .env, and every logger captured at DEBUG."""
    for name in [n for n in os.environ if n.startswith("BRIEFCRAFT_")]:
        monkeypatch.delenv(name)
    for name, key in KEYS.items():
        monkeypatch.setenv(name, key)
    monkeypatch.setenv("BRIEFCRAFT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    yield tmp_path


def _log_text(caplog: pytest.LogCaptureFixture) -> str:
    """Every record as formatted (tracebacks included), and its raw message and arguments."""
    return caplog.text + "\n".join(f"{r.msg!r} {r.args!r}" for r in caplog.records)


def test_settings_show_no_key(keyed: Path) -> None:
    settings = load_settings(llm="openai-compatible:smollm2", llm_base_url="http://127.0.0.1:9/v1")
    assert settings.llm_api_key is not None and settings.llm_api_key.get_secret_value() == KEYS[
        "BRIEFCRAFT_LLM_API_KEY"]
    assert settings.openai_api_key is not None and settings.anthropic_api_key is not None
    shown = [repr(settings), str(settings), settings.model_dump_json(), str(settings.model_dump()),
             str(settings.model_dump(mode="json")), f"{settings}", repr(settings.llm_api_key)]
    assert [leak for text in shown for leak in _leaks(text, "settings")] == []
    assert '"llm_api_key":"**********"' in settings.model_dump_json()


def test_a_rejected_key_is_named_and_never_shown(keyed: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Through the studio: the chat, the thread's error, the logs and the data dir hold the variable's name only."""
    with FaultServer(upstream=None) as server:
        server.plan("401")
        settings = load_settings(llm="openai-compatible:smollm2", llm_base_url=server.url)
        studio = Studio(settings, build_graph(settings, memory=DefaultBrandMemory()))
        chat = list(studio.send(BRIEF, "default", [], None, gr.Request()))[-1][0]
        assert server.seen == [("/v1/chat/completions", "401")]  # not retried
    (record,) = studio.threads.visible_to(studio.viewer(None))
    current = runner.status(studio.graph, record.thread_id)
    assert current.stage == "failed" and REJECTED in (current.error or "")
    assert chat[-2]["content"] == f"⚠ {REJECTED}"
    leaks = [*(leak for m in chat for leak in _leaks(str(m), "chat")), *_leaks(current.model_dump_json(), "status"),
             *_leaks(_log_text(caplog), "log"), *_files_leaks(keyed / "data")]
    assert leaks == []
    assert (keyed / "data" / "checkpoints.sqlite").stat().st_size > 0  # the failed step's error is in it


def test_the_cli_prints_one_line_without_the_key(keyed: Path, briefcraft_exe: str) -> None:
    """A 401 through ``briefcraft --debug run``, then ``status``: stdout and stderr (Python's warnings included)."""
    with FaultServer(upstream=None) as server:
        server.plan("401")
        env = {**os.environ, "BRIEFCRAFT_LLM": "openai-compatible:smollm2", "BRIEFCRAFT_LLM_BASE_URL": server.url,
               "PYTHONWARNINGS": "always"}
        ran = subprocess.run([briefcraft_exe, "--debug", "run", BRIEF, "--thread", "t401"], env=env, cwd=keyed,
                             capture_output=True, text=True, timeout=300, check=False)
        status = subprocess.run([briefcraft_exe, "status", "t401", "--json"], env=env, cwd=keyed,
                                capture_output=True, text=True, timeout=300, check=False)
    assert (ran.returncode, ran.stdout, ran.stderr.splitlines()[-1]) == (1, "", f"briefcraft: error: {REJECTED}")
    assert REJECTED in status.stdout
    leaks = [*_leaks(ran.stdout + ran.stderr, "run"), *_leaks(status.stdout + status.stderr, "status"),
             *_files_leaks(keyed / "data")]
    assert leaks == []


def test_a_rejected_key_for_images_is_named_and_never_shown(keyed: Path, caplog: pytest.LogCaptureFixture) -> None:
    """OPENAI_API_KEY rejected by the Images API (the openai image backend)."""
    with FaultServer(upstream=None) as server:
        server.plan("401")
        settings = load_settings(image_backend="openai", image_openai_base_url=server.url)
        with pytest.raises(ProviderError) as images:
            OpenAIImagesRenderer.from_settings(settings).render(RenderSpec(64, 64, ("#112233",), 7, prompt="cup"))
        assert server.seen == [("/v1/images/generations", "401")]
    assert str(images.value) == ("OpenAI Images rejected the API key (HTTP 401); not retried: check OPENAI_API_KEY "
                                 "or BRIEFCRAFT_OPENAI_API_KEY")
    assert [*_leaks(str(images.value), "images"), *_leaks(_log_text(caplog), "log")] == []


def test_a_rejected_key_for_embeddings_is_named_and_never_shown(keyed: Path, briefcraft_exe: str) -> None:
    """OPENAI_API_KEY rejected by the embeddings endpoint brand memory calls (``briefcraft memory add``)."""
    guide = keyed / "guide.md"
    guide.write_text("# House style\nWe write in plain words.\n")
    with FaultServer(upstream=None) as server:
        server.plan("401")
        env = {**os.environ, "BRIEFCRAFT_EMBEDDINGS": "openai", "BRIEFCRAFT_EMBEDDING_BASE_URL": server.url}
        added = subprocess.run([briefcraft_exe, "memory", "add", str(guide)], env=env, cwd=keyed,
                               capture_output=True, text=True, timeout=300, check=False)
    (line,) = added.stderr.splitlines()
    assert added.returncode != 0 and line.startswith("briefcraft: error: ") and "OPENAI_API_KEY" in line
    assert [*_leaks(added.stdout + added.stderr, "memory add"), *_files_leaks(keyed / "data")] == []


@pytest.mark.llm
def test_a_run_to_the_pack_keeps_every_key_out(keyed: Path, llama_server_url: str,
                                               caplog: pytest.LogCaptureFixture) -> None:
    """The openai-compatible provider, through the fault server (no faults) to llama.cpp's server: review, approval,
    the pack; the keys are in none of the pack, the audit, the checkpoints, brand memory or the logs."""
    with FaultServer(upstream=llama_server_url) as server:
        settings = load_settings(llm="openai-compatible:smollm2", llm_base_url=server.url)
        assert isinstance(settings, Settings)
        graph = build_graph(settings, memory=DefaultBrandMemory())
        current = runner.start(graph, BRIEF, thread_id="ok", max_brief_chars=4000, user="maya")
        assert current.stage == "waiting_for_approval", current.error
        done = runner.resume(graph, "ok", runner.approve_all(current), user="cd")
        assert server.seen and {fault for _, fault in server.seen} == {"ok"}
    assert done.stage == "done" and done.pack is not None
    assert (Path(done.pack) / "audit.jsonl").is_file()
    leaks = [*_leaks(done.model_dump_json(), "status"), *_leaks(_log_text(caplog), "log"),
             *_files_leaks(keyed / "data"), *_files_leaks(Path(done.pack))]
    assert leaks == []
