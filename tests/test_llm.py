"""Structured output: the real local model with constrained decoding, and the bounded repair path."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from langchain_core.language_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from langchain_core.outputs import ChatResult
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


class Unchecked(BaseModel):
    """Tagline's shape without its limits, as copy_schema(channel, limits=False) is to a channel's schema."""
    tagline: str
    words: list[str]


class _Recording(GenericFakeChatModel):
    """The fake chat model, keeping the messages of every call."""

    seen: list[list[BaseMessage]] = Field(default_factory=list)

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None, run_manager: Any = None,
                  **kwargs: Any) -> ChatResult:
        self.seen.append(messages)
        return super()._generate(messages, stop, run_manager, **kwargs)


def test_the_repair_names_the_invalid_field_and_why() -> None:
    model = _Recording(messages=iter([AIMessage('{"tagline": "x", "words": ["a", "b"]}'),
                                      AIMessage('{"tagline": "Smooth mornings", "words": ["a", "b"]}')]))
    result, _ = invoke_structured(model, Tagline, [HumanMessage("go")], who=WHO, node="t")
    assert result.tagline == "Smooth mornings"
    assert model.seen[1][-1].text == ("That reply was not valid: tagline: String should have at least 3 characters. "
                                      "Reply again with JSON that matches the schema exactly.")
    with pytest.raises(StructuredOutputError) as caught:  # the error says the same, without quoting the reply
        invoke_structured(_fake('{"tagline": "x", "words": []}', '{"words": ["a"]}'), Tagline, [HumanMessage("go")],
                          who=WHO, node="t")
    assert str(caught.value) == "fake:fake gave no valid Tagline after one repair (tagline: Field required (and 1 more))"


def test_a_reply_that_breaks_only_the_limits_is_read_leniently_and_noted() -> None:
    """With a lenient schema (the copywriter's: code fits lengths, the checks flag the rest), two replies that break
    only the limits are not a failed step: the repaired reply is read, else the first; the audit says so."""
    too_long = '{"tagline": "' + "cold brew " * 6 + '", "words": ["cold", "brew", "oat"]}'
    result, events = invoke_structured(_fake('{"tagline": "x"}', too_long), Tagline, [HumanMessage("go")], who=WHO,
                                       node="t", lenient=Unchecked)
    assert isinstance(result, Unchecked) and result.words == ["cold", "brew", "oat"]
    assert [e.comment for e in events] == [
        None, "read without the Tagline schema's limits (tagline: String should have at most 40 characters (and 1 "
              "more))"]
    result, events = invoke_structured(_fake('{"tagline": "x", "words": []}', "not json"), Tagline,
                                       [HumanMessage("go")], who=WHO, node="t", lenient=Unchecked)
    assert result.tagline == "x" and events[0].comment == (
        "read without the Tagline schema's limits (tagline: String should have at least 3 characters (and 1 more))")
    with pytest.raises(StructuredOutputError, match=r"after one repair \(Invalid json output"):  # no shape fits
        invoke_structured(_fake('{"words": []}', "not json"), Tagline, [HumanMessage("go")], who=WHO, node="t",
                          lenient=Unchecked)


@pytest.mark.llm
def test_a_reply_cut_off_at_the_token_limit_names_the_setting() -> None:
    """The real model with room for 12 tokens: its JSON ends unfinished twice. The repair asks for a shorter reply,
    and the error names the setting that gives more room, not a field the cut left out."""
    model = make_chat_model(Settings(_env_file=None, llm_max_tokens=16))  # type: ignore[call-arg]
    with pytest.raises(StructuredOutputError) as caught:
        invoke_structured(model, Tagline, [HumanMessage("Write a tagline for oat cold brew and two words.")],
                          who=ModelCall.of(model), node="t")
    assert str(caught.value).endswith("gave no valid Tagline after one repair (the reply was cut off at its limit of "
                                      "16 tokens; raise BRIEFCRAFT_LLM_MAX_TOKENS)")
    # a cut reply that still parses (LangChain closes the JSON) is used, and its audit event says it was cut
    cut = GenericFakeChatModel(messages=iter([AIMessage(
        '{"tagline": "Smooth mornings", "words": ["oat", "brew"', response_metadata={"finish_reason": "length"},
        usage_metadata={"input_tokens": 5, "output_tokens": 16, "total_tokens": 21})]))
    result, events = invoke_structured(cut, Tagline, [HumanMessage("go")], who=WHO, node="t")
    assert result.words == ["oat", "brew"]
    assert events[0].comment == "cut off at the limit of 16 tokens (BRIEFCRAFT_LLM_MAX_TOKENS); read as far as it went"


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
