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
from langchain_core.runnables import Runnable
from pydantic import BaseModel

from briefcraft.agents.models import describe_model
from briefcraft.agents.prompts import REPAIR
from briefcraft.agents.spend import noted
from briefcraft.errors import StructuredOutputError
from briefcraft.pricing import PricingTable, TokenPrice
from briefcraft.remote import RemotePolicy
from briefcraft.schemas import AuditEvent

__all__ = ["ModelCall", "invoke_structured"]

T = TypeVar("T", bound=BaseModel)
R = TypeVar("R")


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


def invoke_structured(
    model: BaseChatModel,
    schema: type[T],
    messages: list[BaseMessage],
    *,
    who: ModelCall,
    node: str,
    item_id: str | None = None,
) -> tuple[T, list[AuditEvent]]:
    """Ask ``model`` for a ``schema`` instance; returns it with one audit event per model call.

    Output that does not parse gets one repair attempt (the error is shown to the model); a second
    failure raises ``StructuredOutputError`` carrying the raw text. Nothing is ever filled in silently.
    """
    runnable = _structured_runnable(model, schema, who.method)
    parser: PydanticOutputParser[Any] = PydanticOutputParser(pydantic_object=schema)
    events: list[AuditEvent] = []
    attempt = list(messages)
    raw_text, error_text = "", ""
    for _ in range(2):
        started = time.perf_counter()
        parsed: Any = None
        if runnable is not None:
            result, tries = who.send(partial(runnable.invoke, attempt))
            raw, parsed, error = result["raw"], result["parsed"], result["parsing_error"]
        else:
            raw, tries = who.send(partial(model.invoke, attempt))
            try:
                parsed, error = parser.invoke(raw), None
            except OutputParserException as exc:
                error = exc
        usage = getattr(raw, "usage_metadata", None) or {}
        tokens_in, tokens_out = usage.get("input_tokens"), usage.get("output_tokens")
        events.append(noted(AuditEvent(
            kind="model_call", node=node, item_id=item_id, provider=who.provider, model=who.model,
            prompt_hash=_prompt_hash(attempt), seed=who.seed, input_tokens=tokens_in, output_tokens=tokens_out,
            latency_ms=round((time.perf_counter() - started) * 1000, 1), cost_usd=who.cost(tokens_in, tokens_out),
            attempts=tries,
        )))
        raw_text = _raw_text(raw)
        if parsed is not None:
            return parsed, events
        error_text = str(error).splitlines()[0] if error else "no output"
        attempt = [*messages, AIMessage(raw_text), HumanMessage(REPAIR.format(error=error_text))]
    raise StructuredOutputError(
        f"{who.provider}:{who.model} gave no valid {schema.__name__} after one repair ({error_text})", raw=raw_text
    )
