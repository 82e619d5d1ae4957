"""Settings: one class, BRIEFCRAFT_ prefix, clear errors naming the variable."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from briefcraft.errors import ConfigError
from briefcraft.settings import Settings, load_settings, unknown_variables


def test_defaults_are_offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings()
    assert (settings.llm_provider, settings.llm_model, settings.image_backend) == ("local", "", "layout")
    assert settings.checkpoint_path == Path(".briefcraft/checkpoints.sqlite")


def test_env_prefix_and_dotenv(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("BRIEFCRAFT_LLM=openai:gpt-4o-mini\nBRIEFCRAFT_MAX_BRIEF_CHARS=500\n")
    monkeypatch.setenv("BRIEFCRAFT_DATA_DIR", str(tmp_path / "d"))
    settings = load_settings()
    assert (settings.llm_provider, settings.llm_model) == ("openai", "gpt-4o-mini")
    assert settings.max_brief_chars == 500
    assert settings.checkpoint_path == tmp_path / "d" / "checkpoints.sqlite"


def test_unknown_provider_names_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BRIEFCRAFT_LLM", "gemini:pro")
    with pytest.raises(ConfigError, match=r"^BRIEFCRAFT_LLM: unknown provider 'gemini'; allowed: local, openai"):
        load_settings(_env_file=None)


def test_cloud_provider_needs_model() -> None:
    with pytest.raises(ConfigError, match="BRIEFCRAFT_LLM: provider 'openai' needs a model"):
        load_settings(_env_file=None, llm="openai")


def test_a_check_across_settings_is_its_own_line() -> None:
    with pytest.raises(ConfigError, match=r"^BRIEFCRAFT_UI_HOST=0.0.0.0 exposes the studio beyond this machine; set "
                       r"BRIEFCRAFT_UI_USERS \(logins with roles\) first$"):
        load_settings(_env_file=None, ui_host="0.0.0.0")


@pytest.mark.parametrize(
    ("url", "path"), [("sqlite:///tmp/x.sqlite", Path("tmp/x.sqlite")), ("/var/bc.db", Path("/var/bc.db"))]
)
def test_checkpointer_url(url: str, path: Path) -> None:
    assert Settings(_env_file=None, checkpointer_url=url).checkpoint_path == path  # type: ignore[call-arg]


def test_checkpointer_url_unsupported_scheme() -> None:
    settings = Settings(_env_file=None, checkpointer_url="postgres://db/x")  # type: ignore[call-arg]
    with pytest.raises(ConfigError, match="unsupported scheme 'postgres'"):
        _ = settings.checkpoint_path


def test_a_variable_that_is_no_setting_is_named_with_the_settings_meant() -> None:
    assert unknown_variables(["BRIEFCRAFT_LLM_PROVIDER", "BRIEFCRAFT_DATADIR", "briefcraft_image_variant",
                              "BRIEFCRAFT_OPENAI_KEY", "BRIEFCRAFT_ZZZ", "BRIEFCRAFT_LLM", "OPENAI_API_KEY",
                              "BRIEFCRAFT_ANTHROPIC_API_KEY", "PATH"]) == [
        "BRIEFCRAFT_DATADIR is not a briefcraft setting and is ignored; did you mean BRIEFCRAFT_DATA_DIR?",
        "BRIEFCRAFT_IMAGE_VARIANT is not a briefcraft setting and is ignored; did you mean BRIEFCRAFT_IMAGE_VARIANTS?",
        "BRIEFCRAFT_LLM_PROVIDER is not a briefcraft setting and is ignored; did you mean BRIEFCRAFT_LLM?",
        "BRIEFCRAFT_OPENAI_KEY is not a briefcraft setting and is ignored; did you mean BRIEFCRAFT_OPENAI_API_KEY?",
        "BRIEFCRAFT_ZZZ is not a briefcraft setting and is ignored; see the README's Settings table",
    ]


def test_settings_warn_once_of_a_variable_that_is_no_setting(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                            caplog: pytest.LogCaptureFixture) -> None:
    """In the environment or in .env: pydantic-settings ignores it, so the setting meant would keep its default."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("BRIEFCRAFT_IMAGE_BAKEND=diffusers\n")
    monkeypatch.setenv("BRIEFCRAFT_MAX_BRIEF_CHAR", "500")
    with caplog.at_level("WARNING", logger="briefcraft.settings"):
        settings = load_settings()
        load_settings()
    assert (settings.image_backend, settings.max_brief_chars) == ("layout", 4000)
    assert caplog.messages == [
        "BRIEFCRAFT_IMAGE_BAKEND is not a briefcraft setting and is ignored; did you mean BRIEFCRAFT_IMAGE_BACKEND?",
        "BRIEFCRAFT_MAX_BRIEF_CHAR is not a briefcraft setting and is ignored; did you mean "
        "BRIEFCRAFT_MAX_BRIEF_CHARS?",
    ]


def test_the_cli_says_which_variable_is_no_setting(briefcraft_exe: str, cli_env: dict[str, str]) -> None:
    done = subprocess.run([briefcraft_exe, "threads"], env={**cli_env, "BRIEFCRAFT_LLM_PROVIDER": "openai"},
                          capture_output=True, text=True, timeout=120, check=False)
    assert (done.returncode, done.stdout) == (0, "no threads yet; start one with 'briefcraft run'\n")
    assert done.stderr == ("BRIEFCRAFT_LLM_PROVIDER is not a briefcraft setting and is ignored; did you mean "
                           "BRIEFCRAFT_LLM?\n")
