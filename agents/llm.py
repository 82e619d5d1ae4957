"""Calling a chat model for structured output: one bounded repair, a typed error, an audit event per call."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

from langchain_core.exceptions import OutputParserException
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langchain_core.output_parsers import PydanticOutputParser
from langchain_core.runnables import Runnable, RunnableConfig
from langgraph.constants import TAG_NOSTREAM
from pydantic import BaseModel, ValidationError

from briefcraft.agents.models import describe_model
from briefcraft.agents.prompts import REPAIR, REPAIR_CUT
from briefcraft.agents.spend import noted
from briefcraft.errors import StructuredOutputError
from briefcraft.pricing import PricingTable, TokenPrice
from briefcraft.remote import RemotePolicy
from briefcraft.schemas import AuditEvent, validation_message

__all__ = ["ModelCall", "invoke_structured"]

T = TypeVar("T", bound=BaseModel)
R = TypeVar("R")
#: Longest parser error shown to the model or the user (a JSON error's first line may quote the whole reply).
_ERROR_CHARS = 200


class ModelCall(BaseModel):
    """Who answers model calls (as the audit ledger names them) and how structured output is asked for."""

    provider: str
    model: str
    seed: int | None = None
    method: str | None = None
    """``with_structured_output`` method; None for the model's default."""
    price: TokenPrice | None = None
    """What its tokens cost; None: no row in the pricing table (its calls are 'unpriced')."""
    remote: RemotePolicy | None = None
    """How calls are retried (the one retry layer); None for an in-process model."""

    @classmethod
    def of(
        cls, model: BaseChatModel, *, provider: str | None = None, seed: int | None = None, method: str | None = None,
        pricing: PricingTable | None = None, remote: RemotePolicy | None = None,
    ) -> ModelCall:
        """Describe ``model``; ``provider`` overrides the provider read from its type (e.g. 'openai-compatible')."""
        kind, name = describe_model(model)
        provider = provider or kind
        price = pricing.chat_price(provider, name) if pricing is not None else None
        return cls(provider=provider, model=name, seed=seed, method=method, price=price, remote=remote)

    def send(self, call: Callable[[], R]) -> tuple[R, int | None]:
        """``call()`` through the retry layer: its result and the attempts it took (None: in-process, not retried)."""
        if self.remote is None:
            return call(), None
        return self.remote.call(call)

    def cost(self, input_tokens: int | None, output_tokens: int | None) -> float | None:
        """USD for one call, or None when it cannot be priced (no price row, or the provider gave no token counts)."""
        if self.price is None or input_tokens is None or output_tokens is None:
            return None
        return round(self.price.cost(input_tokens, output_tokens), 8)


def _prompt_hash(messages: list[BaseMessage]) -> str:
    text = json.dumps([[m.type, m.text] for m in messages], ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def _raw_text(raw: BaseMessage) -> str:
    if isinstance(raw, AIMessage) and raw.tool_calls and not raw.text:
        return json.dumps(raw.tool_calls[0]["args"], ensure_ascii=False)
    return raw.text


def _structured_runnable(
    model: BaseChatModel, schema: type[BaseModel], method: str | None
) -> Runnable[Any, Any] | None:
    try:
        return model.with_structured_output(schema, include_raw=True, **({"method": method} if method else {}))
    except NotImplementedError:  # a model without tool calling or JSON mode: parse its text instead
        return None


def _error_text(error: BaseException | None) -> str:
    """What was wrong with a reply, on one line: the first invalid field and why (``caption: Field required``), or
    the parser's first line (cut: it may quote the whole reply)."""
    cause = error
    while cause is not None and not isinstance(cause, ValidationError):
        cause = cause.__cause__ or cause.__context__
    if isinstance(cause, ValidationError):
        more = cause.error_count() - 1
        return validation_message(cause) + (f" (and {more} more)" if more else "")
    return str(error).splitlines()[0][:_ERROR_CHARS] if error else "no output"


def _cut_off(raw: BaseMessage) -> bool:
    """Whether the reply ended at the call's token limit (OpenAI's and llama.cpp's 'length', Anthropic's
    'max_tokens')."""
    meta = raw.response_metadata
    return meta.get("finish_reason") == "length" or meta.get("stop_reason") == "max_tokens"


def _limit(tokens_out: int | None) -> str:
    """The token limit a reply was cut off at, in words: 'limit of 200 tokens', or 'token limit' without a count."""
    return f"limit of {tokens_out} tokens" if tokens_out else "token limit"


def _read_lenient(schema: type[T], raw_text: str) -> T | None:
    """``raw_text`` read with ``schema`` by the same parser as the replies that fit, or None where even that fails."""
    try:
        parsed: T = PydanticOutputParser(pydantic_object=schema).parse(raw_text)
    except OutputParserException:
        return None
    return parsed


#: Model calls are the graph's own work, not its chat: a client streaming a run's messages (Agent Chat UI) gets the
#: graph's replies, not each call's JSON.
_UNSTREAMED: RunnableConfig = {"tags": [TAG_NOSTREAM]}


def invoke_structured(
    model: BaseChatModel,
    schema: type[T],
    messages: list[BaseMessage],
    *,
    who: ModelCall,
    node: str,
    item_id: str | None = None,
    revision: int | None = None,
    lenient: type[T] | None = None,
) -> tuple[T, list[AuditEvent]]:
    """Ask ``model`` for a ``schema`` instance; returns it with one audit event per model call (about ``item_id``'s
    ``revision``, when given).

    Output that does not parse gets one repair attempt (the error, the first invalid field and why, is shown to the
    model). A second failure raises ``StructuredOutputError`` carrying the raw text, unless a reply (the repaired
    one, else the first) fits ``lenient``: a schema of the same shape without ``schema``'s limits, for a caller whose
    own checks judge what those limits would have refused. That reply is returned, its audit event noting what
    ``schema`` refused.
    Nothing is ever filled in silently.
    """
    runnable = _structured_runnable(model, schema, who.method)
    parser: PydanticOutputParser[Any] = PydanticOutputParser(pydantic_object=schema)
    events: list[AuditEvent] = []
    attempt = list(messages)
    replies: list[str] = []
    errors: list[str] = []
    for _ in range(2):
        started = time.perf_counter()
        parsed: Any = None
        if runnable is not None:
            result, tries = who.send(partial(runnable.invoke, attempt, _UNSTREAMED))
            raw, parsed, error = result["raw"], result["parsed"], result["parsing_error"]
        else:
            raw, tries = who.send(partial(model.invoke, attempt, _UNSTREAMED))
            try:
                parsed, error = parser.invoke(raw), None
            except OutputParserException as exc:
                error = exc
        usage = getattr(raw, "usage_metadata", None) or {}
        tokens_in, tokens_out = usage.get("input_tokens"), usage.get("output_tokens")
        events.append(noted(AuditEvent(
            kind="model_call", node=node, item_id=item_id, revision=revision, provider=who.provider, model=who.model,
            prompt_hash=_prompt_hash(attempt), seed=who.seed, input_tokens=tokens_in, output_tokens=tokens_out,
            latency_ms=round((time.perf_counter() - started) * 1000, 1), cost_usd=who.cost(tokens_in, tokens_out),
            attempts=tries,
        )))
        if parsed is not None:
            if _cut_off(raw):  # LangChain's JSON parsing closes a cut reply: say that it was read as far as it went
                events[-1] = events[-1].model_copy(update={
                    "comment": f"cut off at the {_limit(tokens_out)} (BRIEFCRAFT_LLM_MAX_TOKENS); "
                               "read as far as it went"})
            return parsed, events
        replies.append(_raw_text(raw))
        if _cut_off(raw):  # no repair prompt fixes a reply the token limit ends: ask for a shorter one
            errors.append(f"the reply was cut off at its {_limit(tokens_out)}; raise BRIEFCRAFT_LLM_MAX_TOKENS")
            repair = REPAIR_CUT
        else:
            errors.append(_error_text(error))
            repair = REPAIR.format(error=errors[-1])
        attempt = [*messages, AIMessage(replies[-1]), HumanMessage(repair)]
    if lenient is not None:
        for index in (1, 0):  # the repaired reply first; it may be cut short (out of tokens), though
            if (read := _read_lenient(lenient, replies[index])) is not None:
                events[index] = events[index].model_copy(update={
                    "comment": f"read without the {schema.__name__} schema's limits ({errors[index]})"})
                return read, events
    raise StructuredOutputError(
        f"{who.provider}:{who.model} gave no valid {schema.__name__} after one repair ({errors[-1]})", raw=replies[-1]
    )
