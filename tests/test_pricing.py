"""The pricing table (data with dates) and the cost of a thread's calls: priced, free and unpriced kept apart."""

from __future__ import annotations

from pathlib import Path

import pytest
from langchain_core.language_models import GenericFakeChatModel
from PIL import Image

from briefcraft.agents.art_director import render_cost
from briefcraft.agents.llm import ModelCall
from briefcraft.errors import ConfigError
from briefcraft.pricing import load_pricing, summarize
from briefcraft.schemas import AuditEvent
from briefcraft.tools.render import Rendered

PICTURE = Image.new("RGB", (8, 8))


def test_the_shipped_table_loads_with_its_dates() -> None:
    pricing = load_pricing()
    assert pricing.as_of == "chat 2025-11-30, images 2026-06-11, GPU 2026-11-01"
    mini, local = pricing.chat_price("openai", "gpt-4o-mini"), pricing.chat_price("local", "anything.gguf")
    assert mini is not None and mini.cost(1_000_000, 1_000_000) == pytest.approx(0.75)
    assert local is not None and local.cost(5000, 5000) == 0
    assert pricing.chat_price("openai", "gpt-9-unknown") is None
    assert pricing.chat_price("openai-compatible", "my-model") is None
    assert pricing.gpu_cost(3600) == pytest.approx(2.50)


def test_model_calls_are_priced_when_made_or_marked_unpriced() -> None:
    pricing = load_pricing()
    who = ModelCall.of(GenericFakeChatModel(messages=iter([])), provider="anthropic", pricing=pricing)
    assert who.price is None and who.cost(100, 100) is None  # the fake's model name has no row
    priced = ModelCall(provider="openai", model="gpt-4o-mini", price=pricing.chat_price("openai", "gpt-4o-mini"))
    assert priced.cost(2000, 500) == pytest.approx(0.0006)
    assert priced.cost(None, 500) is None  # a provider that reports no tokens cannot be priced


def test_pictures_cost_gpu_seconds_api_tokens_or_nothing_on_the_cpu() -> None:
    pricing = load_pricing()
    assert render_cost("layout", Rendered(PICTURE), pricing) == 0
    assert render_cost("diffusers", Rendered(PICTURE, model="sd-turbo"), pricing) == 0  # CPU: your own machine
    assert render_cost("diffusers", Rendered(PICTURE, model="sd-turbo", gpu_seconds=36.0), pricing) == pytest.approx(
        0.025)
    edit = Rendered(PICTURE, model="gpt-image-2", input_tokens=1100, input_image_tokens=1000, output_tokens=4160)
    assert render_cost("openai", edit, pricing) == pytest.approx((100 * 5 + 1000 * 8 + 4160 * 30) / 1e6)
    assert render_cost("openai", Rendered(PICTURE, model="gpt-image-2.5-flare", input_tokens=1, output_tokens=1),
                       pricing) is None  # no row yet for that model
    assert render_cost("openai", Rendered(PICTURE, model="gpt-image-2"), pricing) is None  # no usage reported


def test_a_summary_counts_unpriced_calls_apart_and_attributes_items() -> None:
    events = [
        AuditEvent(kind="model_call", node="intake", input_tokens=100, output_tokens=20, cost_usd=0.001),
        AuditEvent(kind="model_call", node="write_copy", item_id="copy-x_post-1", input_tokens=200, output_tokens=50,
                   cost_usd=0.002),
        AuditEvent(kind="model_call", node="write_copy", item_id="copy-x_post-1", input_tokens=10, output_tokens=5),
        AuditEvent(kind="render", node="make_visual", item_id="img-x_post-1", provider="diffusers", gpu_seconds=2.0,
                   cost_usd=0.0014),
        AuditEvent(kind="render", node="make_visual", item_id="img-x_post-1", provider="compositor"),
        AuditEvent(kind="human_decision", node="review", item_id="copy-x_post-1", decision="approve"),
    ]
    summary = summarize(events)
    assert (summary.total_usd, summary.calls, summary.unpriced) == (0.0044, 4, 1)
    assert (summary.input_tokens, summary.output_tokens, summary.gpu_seconds) == (310, 75, 2.0)
    assert summary.by_item == {"copy-x_post-1": 0.002, "img-x_post-1": 0.0014}
    assert summary.by_node == {"intake": 0.001, "write_copy": 0.002, "make_visual": 0.0014}
    assert summary.line() == "$0.0044 for 4 call(s) (310 tokens in, 75 out, 2.0 GPU-s, 1 unpriced call(s) not counted)"


def test_a_bad_pricing_file_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "pricing.yaml"
    bad.write_text("chat: {as_of: 2026-01-01, source: x, models: {openai: {m: {input: -1, output: 1}}}}\n")
    with pytest.raises(ConfigError, match=r"^pricing table .*pricing\.yaml: chat\.models\.openai\.m\.input: "):
        load_pricing(bad)
    with pytest.raises(ConfigError, match=r"^BRIEFCRAFT_PRICING_FILE: cannot read .*nope\.yaml"):
        load_pricing(tmp_path / "nope.yaml")
