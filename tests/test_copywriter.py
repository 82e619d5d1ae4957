"""Copywriter guarantees: limits enforced, hashtags capped, mandatory elements present verbatim."""

from __future__ import annotations

import pytest

from briefcraft.agents.copywriter import copy_schema, enforce_limits, fit
from briefcraft.channels import get_channel, load_catalog
from briefcraft.schemas import CopyVariant, CreativeBrief
from briefcraft.tools.checks import check_copy


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("short", 10, "short"),
        ("smooth energy for the ride", 15, "smooth energy"),
        ("smooth, energy for", 8, "smooth"),
        ("averyveryverylongword", 5, "avery"),
        ("  spaced   out  ", 20, "spaced out"),
    ],
)
def test_fit(text: str, limit: int, expected: str) -> None:
    assert fit(text, limit) == expected


def test_schema_carries_limits_and_counts() -> None:
    schema = copy_schema(get_channel("google_rsa")).model_json_schema()
    headlines = schema["properties"]["headlines"]
    assert (headlines["minItems"], headlines["maxItems"], headlines["items"]["maxLength"]) == (3, 3, 30)
    assert schema["properties"]["path1"]["maxLength"] == 15


@pytest.mark.parametrize("channel_id", list(load_catalog()))
def test_enforced_copy_passes_checks_for_every_channel(channel_id: str) -> None:
    channel = get_channel(channel_id)
    long = "Smooth oat energy for every commute ☕🔥 " * 100 + " ".join(f"#tag{i}" for i in range(40))
    raw = {spec.name: [long] * spec.count for spec in channel.fields}
    brief = CreativeBrief(product="Cold brew", channels=[channel_id], mandatory_elements=["Contains oats", "T&Cs apply"])
    fields = enforce_limits(channel, raw, brief.mandatory_elements)
    copy = CopyVariant(id="c", channel=channel_id, fields=fields)
    assert check_copy(copy, brief) == []
    body = fields[channel.body_field.name][0]
    assert "Contains oats" in body and "T&Cs apply" in body


def test_mandatory_element_already_present_is_not_repeated() -> None:
    channel = get_channel("x_post")
    fields = enforce_limits(channel, {"text": ["Now with contains oats inside"], "headline": ["Hi"]}, ["Contains oats"])
    assert fields["text"] == ["Now with contains oats inside"]
