"""Shared fixtures: settings in a temp data dir, the real local model (loaded once), the sample brief, the local
model behind llama-cpp-python's OpenAI-compatible server."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from builders import free_port, make_tiny_sd, wait_for_server

from briefcraft.agents.models import LocalLlamaChat, bundled_gguf
from briefcraft.settings import Settings

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def sample_brief() -> str:
    """The sample brief `make run` uses."""
    return (REPO / "briefcraft" / "data" / "sample_brief.txt").read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def briefcraft_exe() -> str:
    """The installed ``briefcraft`` console script of this virtualenv."""
    return str(Path(sys.executable).with_name("briefcraft"))


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings with a fresh data dir, ignoring any .env in the working directory."""
    return Settings(_env_file=None, data_dir=tmp_path / "data")  # type: ignore[call-arg]


@pytest.fixture(scope="session")
def local_model() -> LocalLlamaChat:
    """The bundled SmolLM2 GGUF through llama-cpp-python, shared by the whole session."""
    return LocalLlamaChat(model_path=str(bundled_gguf()), n_ctx=2048, temperature=0.2, max_tokens=400, seed=7)


@pytest.fixture(scope="session")
def tiny_sd(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A tiny Stable Diffusion pipeline folder and tiny VAE folder (random weights), built once per session."""
    return make_tiny_sd(tmp_path_factory.mktemp("models"))


@pytest.fixture
def cli_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    """Environment for running the CLI in a subprocess against a temp data dir."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRIEFCRAFT_")}
    env["BRIEFCRAFT_DATA_DIR"] = str(tmp_path / "data")
    yield env


@pytest.fixture(scope="session")
def llama_server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """llama-cpp-python's OpenAI-compatible server on 127.0.0.1, serving the bundled GGUF as 'smollm2' (one for the
    session: the provider tests and the eval's provider flag share it)."""
    port = free_port()
    log = tmp_path_factory.mktemp("server") / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "llama_cpp.server", "--model", str(bundled_gguf()), "--model_alias", "smollm2",
             "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048"],
            stdout=out, stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}/v1"
        try:
            wait_for_server(f"{url}/models", process, log, "llama_cpp.server")
            yield url
        finally:
            process.terminate()
            process.wait(timeout=30)
