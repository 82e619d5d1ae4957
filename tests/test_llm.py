"""Structured output: the real local model with constrained decoding, and the bounded repair path."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from langchain_core.language_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from pydantic import BaseModel, Field

from briefcraft.agents.llm import ModelCall, invoke_structured
from briefcraft.agents.models import LocalLlamaChat, drop_lone_surrogates, make_chat_model
from briefcraft.errors import ConfigError, StructuredOutputError
from briefcraft.settings import Settings


class Tagline(BaseModel):
    tagline: str = Field(min_length=3, max_length=40)
    words: list[str] = Field(min_length=2, max_length=2)


WHO = ModelCall(provider="fake", model="fake", seed=None)


def _fake(*replies: str) -> GenericFakeChatModel:
    messages: Iterator[AIMessage] = iter([AIMessage(r) for r in replies])
    return GenericFakeChatModel(messages=messages)


@pytest.mark.llm
def test_local_model_output_always_parses(local_model: LocalLlamaChat) -> None:
    messages = [SystemMessage("Reply with JSON."), HumanMessage("Write a tagline for oat cold brew.")]
    result, events = invoke_structured(local_model, Tagline, messages, who=ModelCall.of(local_model), node="t")
    assert isinstance(result, Tagline) and len(result.words) == 2
    (event,) = events
    assert (event.kind, event.provider, event.model) == ("model_call", "local", "SmolLM2-135M-Instruct.Q4_1.gguf")
    assert event.input_tokens and event.output_tokens and len(event.prompt_hash or "") == 64


@pytest.mark.llm
def test_local_model_is_deterministic(local_model: LocalLlamaChat) -> None:
    messages = [HumanMessage("Name one colour.")]
    assert local_model.invoke(messages).text == local_model.invoke(messages).text


def test_one_repair_then_success() -> None:
    model = _fake("not json", '{"tagline": "Smooth mornings", "words": ["smooth", "oat"]}')
    result, events = invoke_structured(model, Tagline, [HumanMessage("go")], who=WHO, node="t")
    assert result.tagline == "Smooth mornings"
    assert len(events) == 2 and events[0].prompt_hash != events[1].prompt_hash


def test_second_failure_raises_with_raw_text() -> None:
    model = _fake('{"tagline": "x"}', '{"tagline": "still wrong"}')
    with pytest.raises(StructuredOutputError, match="gave no valid Tagline after one repair") as caught:
        invoke_structured(model, Tagline, [HumanMessage("go")], who=WHO, node="t")
    assert caught.value.raw == '{"tagline": "still wrong"}'


def test_factory_errors_name_the_setting(tmp_path: object) -> None:
    with pytest.raises(ConfigError, match="OPENAI_API_KEY"):
        make_chat_model(Settings(_env_file=None, llm="openai:gpt-4o-mini", openai_api_key=None))  # type: ignore[call-arg]
    with pytest.raises(ConfigError, match="BRIEFCRAFT_LLM_BASE_URL"):
        make_chat_model(Settings(_env_file=None, llm="openai-compatible"))  # type: ignore[call-arg]
    missing = make_chat_model(Settings(_env_file=None, llm_model_path="/nope/model.gguf"))  # type: ignore[call-arg]
    with pytest.raises(ConfigError, match=r"no GGUF file at /nope/model\.gguf"):
        missing.invoke("hi")


def test_factory_builds_cloud_models_without_calling_them() -> None:
    openai = make_chat_model(Settings(_env_file=None, llm="openai:gpt-4o-mini", openai_api_key="sk-test"))  # type: ignore[call-arg]
    anthropic = make_chat_model(
        Settings(_env_file=None, llm="anthropic:claude-sonnet-4-5", anthropic_api_key="sk-ant-test")  # type: ignore[call-arg]
    )
    assert (type(openai).__name__, openai.model_name) == ("ChatOpenAI", "gpt-4o-mini")  # type: ignore[attr-defined]
    assert (type(anthropic).__name__, anthropic.model) == ("ChatAnthropic", "claude-sonnet-4-5")  # type: ignore[attr-defined]


def test_lone_surrogate_escapes_from_constrained_decoding_are_dropped() -> None:
    """A reply cut between the two halves of an emoji's JSON escape still decodes to encodable text."""
    raw = '{"caption": "Hi \\ud83c there \\ud83c\\udf70 cake \\udf70"}'
    caption = json.loads(drop_lone_surrogates(raw))["caption"]
    assert caption == "Hi  there \U0001f370 cake "
    caption.encode("utf-8")
