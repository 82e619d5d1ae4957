"""What calls cost: a dated pricing table (``data/pricing.yaml``, data not code) and the cost of a thread's calls.

Model calls are priced from their tokens, Images API calls from theirs, diffusers renders on a GPU from their
GPU-seconds. A call whose provider or model has no row is *unpriced*: it is counted and shown as such, never as
free, so a total is a lower bound exactly when ``unpriced`` is not zero.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from briefcraft.errors import ConfigError
from briefcraft.schemas import AuditEvent, validation_message

__all__ = ["CostSummary", "ImagePrice", "PricingTable", "TokenPrice", "load_pricing", "summarize"]

_PER_MILLION = 1e-6
_P = TypeVar("_P", "TokenPrice", "ImagePrice")


class _Row(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class TokenPrice(_Row):
    """A chat model's price in USD per million tokens."""

    input: float = Field(ge=0)
    output: float = Field(ge=0)

    def cost(self, input_tokens: int, output_tokens: int) -> float:
        """USD for one call's tokens."""
        return (input_tokens * self.input + output_tokens * self.output) * _PER_MILLION


class ImagePrice(_Row):
    """An image model's price in USD per million tokens of text input, image input and image output."""

    text_input: float = Field(ge=0)
    image_input: float = Field(ge=0)
    image_output: float = Field(ge=0)

    def cost(self, input_tokens: int, input_image_tokens: int, output_tokens: int) -> float:
        """USD for one call's tokens (``input_image_tokens`` are part of ``input_tokens``)."""
        text = max(0, input_tokens - input_image_tokens)
        return (text * self.text_input + input_image_tokens * self.image_input
                + output_tokens * self.image_output) * _PER_MILLION


class _Section(_Row):
    as_of: date
    source: str


class _Chat(_Section):
    models: dict[str, dict[str, TokenPrice]]


class _Images(_Section):
    models: dict[str, dict[str, ImagePrice]]


class _Gpu(_Section):
    usd_per_hour: float = Field(ge=0)


class PricingTable(_Row):
    """The pricing table: chat and image models by provider, and the GPU rate, each section with its date."""

    chat: _Chat
    images: _Images
    gpu: _Gpu

    @property
    def as_of(self) -> str:
        """The sections' dates, for a report's footnote."""
        return f"chat {self.chat.as_of}, images {self.images.as_of}, GPU {self.gpu.as_of}"

    def chat_price(self, provider: str, model: str) -> TokenPrice | None:
        """The chat model's price, or None when the table has no row for it."""
        return _row(self.chat.models, provider, model)

    def image_price(self, provider: str, model: str) -> ImagePrice | None:
        """The image model's price, or None when the table has no row for it."""
        return _row(self.images.models, provider, model)

    def gpu_cost(self, seconds: float) -> float:
        """USD for ``seconds`` of one GPU."""
        return seconds * self.gpu.usd_per_hour / 3600


def _row(models: dict[str, dict[str, _P]], provider: str, model: str) -> _P | None:
    rows = models.get(provider, {})
    return rows.get(model, rows.get("*"))


@cache
def load_pricing(path: Path | None = None) -> PricingTable:
    """The pricing table at ``path`` (default: the one shipped in ``briefcraft/data``); ``ConfigError`` naming the
    file and the first problem."""
    where = str(path) if path else "briefcraft/data/pricing.yaml"
    try:
        text = path.read_text(encoding="utf-8") if path else (files("briefcraft") / "data" / "pricing.yaml").read_text(
            encoding="utf-8")
        return PricingTable.model_validate(yaml.safe_load(text))
    except OSError as error:
        raise ConfigError(f"BRIEFCRAFT_PRICING_FILE: cannot read {where} ({error.strerror})") from error
    except yaml.YAMLError as error:
        raise ConfigError(f"pricing table {where}: not valid YAML ({str(error).splitlines()[0]})") from error
    except ValidationError as error:
        raise ConfigError(f"pricing table {where}: {validation_message(error)}") from error


class CostSummary(BaseModel):
    """What a thread's calls cost: in total, per item and per node, with what could not be priced."""

    model_config = ConfigDict(allow_inf_nan=False)

    total_usd: float
    calls: int
    unpriced: int = Field(description="Calls without a price row: the total leaves them out.")
    input_tokens: int
    output_tokens: int
    gpu_seconds: float
    by_item: dict[str, float] = Field(description="USD per copy or image id (finals count for their preview).")
    by_node: dict[str, float]

    def line(self) -> str:
        """The summary in one line, e.g. for a chat message or the CLI."""
        unpriced = f", {self.unpriced} unpriced call(s) not counted" if self.unpriced else ""
        gpu = f", {self.gpu_seconds:.1f} GPU-s" if self.gpu_seconds else ""
        return (f"${self.total_usd:.4f} for {self.calls} call(s) ({self.input_tokens:,} tokens in, "
                f"{self.output_tokens:,} out{gpu}{unpriced})")


def _paid(event: AuditEvent) -> bool:
    """Whether the event is a call that may cost money: a model call or a picture render (not compositing)."""
    return event.kind == "model_call" or (event.kind == "render" and event.provider != "compositor")


def summarize(events: Iterable[AuditEvent]) -> CostSummary:
    """Sum the calls among ``events`` (their ``cost_usd`` as priced when they were made)."""
    calls = [e for e in events if _paid(e)]
    by_item: dict[str, float] = defaultdict(float)
    by_node: dict[str, float] = defaultdict(float)
    for event in calls:
        if event.cost_usd is not None:
            if event.item_id:
                by_item[event.item_id] += event.cost_usd
            by_node[event.node] += event.cost_usd
    return CostSummary(
        total_usd=round(sum(e.cost_usd or 0.0 for e in calls), 6), calls=len(calls),
        unpriced=sum(1 for e in calls if e.cost_usd is None),
        input_tokens=sum(e.input_tokens or 0 for e in calls), output_tokens=sum(e.output_tokens or 0 for e in calls),
        gpu_seconds=round(sum(e.gpu_seconds or 0.0 for e in calls), 3),
        by_item={k: round(v, 6) for k, v in by_item.items()}, by_node={k: round(v, 6) for k, v in by_node.items()},
    )
