"""Copywriter guarantees: limits enforced, hashtags capped, mandatory elements present verbatim."""

from __future__ import annotations

import json
from typing import Any

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.language_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, BaseMessage

from briefcraft.agents.copywriter import copy_schema, enforce_limits, fill_product, fit, write_channel_copy
from briefcraft.agents.llm import ModelCall
from briefcraft.channels import get_channel, load_catalog
from briefcraft.schemas import BrandContext, CopyVariant, CreativeBrief, Subtask
from briefcraft.tools.checks import check_copy


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("short", 10, "short"),
        ("smooth energy for the ride", 15, "smooth energy"),
        ("smooth, energy for", 8, "smooth"),
        ("averyveryverylongword", 5, "avery"),
        ("  spaced   out  ", 20, "spaced out"),
        # a cut phrase does not end on an article, conjunction or preposition
        ("Enjoy the holiday season with a warm and cosy mug", 40, "Enjoy the holiday season with a warm"),
        ("Cosy, warm, and made to last", 16, "Cosy, warm"),
        ("the and of it", 6, "the"),
        # a whole sentence that keeps half the limit is kept whole
        ("Smooth oat cold brew. Made for commuters who want more", 40, "Smooth oat cold brew."),
        ("Hi. Smooth oat cold brew for commuters", 30, "Hi. Smooth oat cold brew"),
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
    raw = {spec.name: [f"Take {i + 1}: {long}" for i in range(spec.count)] for spec in channel.fields}
    brief = CreativeBrief(product="Cold brew", channels=[channel_id], mandatory_elements=["Contains oats", "T&Cs apply"])
    fields = enforce_limits(channel, raw, brief.mandatory_elements)
    copy = CopyVariant(id="c", channel=channel_id, fields=fields)
    assert check_copy(copy, brief) == []
    body = fields[channel.body_field.name][0]
    assert "Contains oats" in body and "T&Cs apply" in body


def test_a_value_the_decoding_limit_stopped_loses_its_dangling_end() -> None:
    """Constrained decoding closes a string at the schema's length: the model's headline stops mid-phrase. A value
    that reaches that length loses the words a cut leaves dangling; a shorter one is the model's own choice."""
    feed = get_channel("instagram_feed")
    stopped = "Northbound Coffee is a premium brand of"  # 39 of 40 characters, as the bundled model wrote it
    fields = enforce_limits(feed, {"headline": [stopped], "caption": ["Made for commuters and"]}, [])
    assert fields["headline"] == ["Northbound Coffee is a premium brand"]
    assert fields["caption"] == ["Made for commuters and"]  # short of the limit: left to the checks
    email = get_channel("email")
    subject = "Meet Northbound: the cold brew for the dedicated coffee conn"  # stopped mid-word, as the model did
    assert len(subject) == email.field("subject").max_chars == 60  # the schema's length (a limit under 180)
    assert enforce_limits(email, {"subject": [subject], "body": ["Contains oats."]}, [])["subject"] == [
        "Meet Northbound: the cold brew for the dedicated coffee"]
    ended = "Meet Northbound: the cold brew for dedicated coffee lovers."  # 59 characters, a whole sentence
    assert enforce_limits(email, {"subject": [ended], "body": ["Contains oats."]}, [])["subject"] == [ended]


def test_mandatory_element_already_present_is_not_repeated() -> None:
    channel = get_channel("x_post")
    fields = enforce_limits(channel, {"text": ["Now with contains oats inside"], "headline": ["Hi"]}, ["Contains oats"])
    assert fields["text"] == ["Now with contains oats inside"]


def test_a_mandatory_element_written_in_another_case_is_written_as_given() -> None:
    fields = enforce_limits(get_channel("x_post"), {"text": ["Jetzt bestellen. Nur für neukunden."]},
                            ["Nur für Neukunden"])
    assert fields["text"] == ["Jetzt bestellen. Nur für Neukunden."]


def test_a_mandatory_element_in_etsy_tags_alone_is_added_to_the_description() -> None:
    # Tags are search keywords: buyers do not read a disclaimer there
    fields = enforce_limits(get_channel("etsy_listing"), {
        "title": ["Soy candle, fig and cedar"], "tags": ["soy candle", "Hand poured"],
        "description": ["Poured by hand in Leeds."]}, ["Hand poured", "Burn within sight"])
    assert fields["tags"] == ["soy candle", "Hand poured"]
    assert fields["description"] == ["Poured by hand in Leeds. Hand poured. Burn within sight."]


def test_an_added_mandatory_element_is_a_sentence_of_its_own() -> None:
    """An element the model left out goes after the body's text, which ends a sentence first: run on from it, the
    element read as part of the model's sentence ("... on our website now Free returns within 30 days")."""
    linkedin = get_channel("linkedin_post")

    def body(text: str) -> str:
        return enforce_limits(linkedin, {"headline": ["Spring sale"], "text": [text]},
                              ["Free returns within 30 days", "T&Cs apply"])["text"][0]

    assert body("Handmade wallets, on our website now") == (
        "Handmade wallets, on our website now. Free returns within 30 days. T&Cs apply.")
    assert body("Made for small-business owners and") == "Made for small-business owners. Free returns within 30 days. " \
        "T&Cs apply."  # the dangling "and" goes before the stop
    assert body("Ready when you are!") == "Ready when you are! Free returns within 30 days. T&Cs apply."
    assert body("Free returns within 30 days. Handmade wallets") == (  # moved to the end with the missing one
        "Handmade wallets. Free returns within 30 days. T&Cs apply.")
    assert body("Carry it daily #leather") == "Carry it daily #leather Free returns within 30 days. T&Cs apply."
    long = body("Stitched by hand in our studio " * 200)
    assert len(long) <= linkedin.body_field.max_chars and long.endswith(". Free returns within 30 days. T&Cs apply.")


def test_enforcing_removes_what_a_field_does_not_take_and_repeats() -> None:
    etsy = get_channel("etsy_listing")
    raw = {"title": ["🍘️❤Cooking with Love & Joy & more"],
           "tags": ["#gift mug", "Gift  mug", "}{}; const_", "🎁🎁", "stoneware!!", "it\u2019s hand\u2011made"],
           "description": ["Hand-thrown mugs."]}
    fields = enforce_limits(etsy, raw, ["Dishwasher safe"])
    assert fields["title"] == ["Cooking with Love & Joy more"]
    assert fields["tags"] == ["gift mug", "const", "stoneware", "it's hand-made"]
    assert check_copy(CopyVariant(id="e", channel="etsy_listing", fields=fields), CreativeBrief(
        product="mugs", channels=["etsy_listing"], mandatory_elements=["Dishwasher safe"])) == []


def test_repeats_below_a_fields_fewest_values_are_left_for_the_checks() -> None:
    rsa = get_channel("google_rsa")
    fields = enforce_limits(rsa, {"headlines": ["Cold brew", "COLD brew", "Oats"], "descriptions": ["A.", "B."],
                                  "path1": ["a"], "path2": ["b"]}, [])
    assert fields["headlines"] == ["Cold brew", "Oats"]
    brief = CreativeBrief(product="Cold brew", channels=["google_rsa"])
    assert [(f.rule_id, f.message) for f in check_copy(CopyVariant(id="r", channel="google_rsa", fields=fields),
                                                       brief)] == [
        ("channel-limit.missing_field", "headlines needs 3 non-empty value(s), has 2")
    ]


def test_doubled_punctuation_is_written_once_where_the_channel_refuses_it() -> None:
    raw = {"headlines": ["Cold brew!!", "Oat power?!", "Smooth..."], "descriptions": ["Try it now!!!", "See https://nb.example"],
           "path1": ["brew"], "path2": ["oat"]}
    fields = enforce_limits(get_channel("google_rsa"), raw, [])
    assert fields["headlines"] == ["Cold brew!", "Oat power?!", "Smooth."]
    assert fields["descriptions"] == ["Try it now!", "See https://nb.example"]
    assert enforce_limits(get_channel("x_post"), {"text": ["Wow!!"], "headline": ["Hi"]}, [])["text"] == ["Wow!!"]


def test_the_model_is_told_a_fields_characters_and_that_values_differ() -> None:
    tags = copy_schema(get_channel("etsy_listing")).model_json_schema()["properties"]["tags"]
    assert tags["description"] == ("13 values, each at most 20 characters, all different, only letters, digits, "
                                   "spaces and - ' ™ © ®")


def _scripted(reply: dict[str, object]) -> GenericFakeChatModel:
    """A chat model whose one answer is ``reply``: the exact output a test needs from the copywriter's model."""
    return GenericFakeChatModel(messages=iter([AIMessage(json.dumps(reply))]))


def test_a_slot_for_the_product_is_filled_and_other_template_text_is_flagged() -> None:
    model = _scripted({"headline": "Meet [Product Name]", "caption": "By [Brand Name]: {product} for <your product> fans"})
    brief = CreativeBrief(product="oat cold brew", channels=["instagram_feed"])
    copy, _ = write_channel_copy(model, Subtask(id="c", kind="copy", channel="instagram_feed"), brief,
                                 BrandContext(brand="b", palette=["#112233"]), who=ModelCall.of(model))
    assert copy.fields == {"headline": ["Meet oat cold brew"],
                           "caption": ["By [Brand Name]: oat cold brew for oat cold brew fans"]}
    assert [(f.rule_id, f.message) for f in check_copy(copy, brief)] == [
        ("unfinished-copy.placeholder", "'[Brand Name]' is template text left unfilled"),
    ]
    assert fill_product({"tags": ["[product]", "the product"]}, "mugs") == {"tags": ["mugs", "the product"]}


class _Prompts(BaseCallbackHandler):
    """Keeps the text of every chat prompt a model is sent."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    def on_chat_model_start(self, serialized: dict[str, Any], messages: list[list[BaseMessage]], **_: Any) -> None:
        self.sent += [str(message.content) for batch in messages for message in batch]


def test_the_model_is_given_the_briefs_contact_details_and_told_to_write_no_others() -> None:
    prompts = _Prompts()
    task = Subtask(id="c", kind="copy", channel="x_post")
    brand = BrandContext(brand="b", palette=["#112233"])
    for contacts in (["northbound.coffee", "+44 20 7946 0958"], []):
        model = GenericFakeChatModel(messages=iter([AIMessage(json.dumps({"text": "Oat cold brew", "headline": "Oat"}))]),
                                     callbacks=[prompts])
        brief = CreativeBrief(product="oat cold brew", channels=["x_post"], contacts=contacts)
        write_channel_copy(model, task, brief, brand, who=ModelCall.of(model))
    with_contacts, without = prompts.sent[1], prompts.sent[3]
    assert ("Web addresses, emails and phone numbers to use (write no others): northbound.coffee, +44 20 7946 0958\n"
            in with_contacts)
    assert "Web addresses" not in without


def test_the_model_is_told_the_language_the_brief_asks_for() -> None:
    prompts = _Prompts()
    task = Subtask(id="c", kind="copy", channel="x_post")
    for locale in ("de", "en"):
        model = GenericFakeChatModel(messages=iter([AIMessage(json.dumps({"text": "Hafer-Cold-Brew", "headline": "Neu"}))]),
                                     callbacks=[prompts])
        brief = CreativeBrief(product="Hafer-Cold-Brew", channels=["x_post"], locale=locale)
        write_channel_copy(model, task, brief, BrandContext(brand="b", palette=["#112233"]), who=ModelCall.of(model))
    german, english = prompts.sent[1], prompts.sent[3]
    assert "\nWrite every field in German.\n" in german
    assert "Write every field" not in english
