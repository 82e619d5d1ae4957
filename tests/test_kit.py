"""The brand kit: rules read by pattern, people's edits, YAML round trips, and distillation with the local model."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from builders import GUIDELINES
from langchain_core.language_models import GenericFakeChatModel
from langchain_core.messages import AIMessage

from briefcraft.agents.brand_kit import distill_kit
from briefcraft.agents.llm import ModelCall
from briefcraft.agents.models import LocalLlamaChat
from briefcraft.errors import ConfigError
from briefcraft.memory.kit import apply_edit, distill, kit_rules, kit_yaml, load_kit, parse_kit, save_kit
from briefcraft.memory.store import ChromaBrandMemory
from briefcraft.schemas import BrandKit, KitItem
from briefcraft.settings import Settings


def _values(found: dict[str, list[KitItem]], name: str) -> list[str]:
    return [item.value for item in found[name]]


def test_rules_read_labelled_lists_headings_and_colours() -> None:
    found = kit_rules([
        ("g.md > Words", ("Words",), 'Never say: cheap, "guilt-free", “best, ever”\nAvoid: hack; fuel\nSay: smooth'),
        ("g.md > Always include", ("Always include",), '- "T&Cs apply"\n- Contains oats'),
        ("g.md > Voice", ("Voice",), "- Bold — we say it straight\n- Kind\nA long paragraph about our voice that "
                                     "goes on well past eighty characters and is not a list item."),
        ("g.md > Typography", ("Typography",), "Fonts: Canela for headlines, Inter for body"),
        ("g.md > Colours", ("Colours",), "Primary #112233, accent #abcdef; not a colour: #12345."),
        ("g.md > Logo", ("Logo",), "- Keep clear space, always\n- Never over a face"),
        ("g.md > Competitors", ("Competitors",), "Competitors: Oatly, Starbucks, and Nespresso"),
        ("g.md > Style", ("Style",), "- No all-caps words, ever\n- At most one exclamation mark per piece"),
        ("g.md > Contact", ("Contact",), "Website: northbound.coffee; email hello@northbound.coffee"),
    ])
    assert _values(found, "forbidden_terms") == ["guilt-free", "best, ever", "cheap"]
    assert _values(found, "dont_words") == ["hack", "fuel"]
    assert _values(found, "do_words") == ["smooth"]
    assert _values(found, "required_disclaimers") == ["T&Cs apply", "Contains oats"]
    assert _values(found, "voice") == ["Bold", "Kind"]
    assert _values(found, "fonts") == ["Canela for headlines", "Inter for body"]
    assert _values(found, "palette") == ["#112233", "#ABCDEF"]
    assert _values(found, "logo_rules") == ["Keep clear space, always", "Never over a face"]
    assert _values(found, "competitors") == ["Oatly", "Starbucks", "Nespresso"]
    assert _values(found, "style_rules") == ["No all-caps words, ever", "At most one exclamation mark per piece"]
    assert found["palette"][0] == KitItem(value="#112233", source="g.md > Colours", origin="rule")
    assert _values(found, "contacts") == ["northbound.coffee", "hello@northbound.coffee"]


def test_a_voice_line_gives_its_words_not_the_sentence_after_them() -> None:
    found = kit_rules([("g.md > Voice", ("Voice",),
                        "Warm, calm, a little poetic. We speak like a friend lighting a candle for you.")])
    assert _values(found, "voice") == ["Warm", "calm", "a little poetic"]


def test_a_model_voice_word_must_be_in_the_passages_words_not_their_headings(settings: Settings,
                                                                              tmp_path: Path) -> None:
    # The bundled model proposed the brand's name as a voice word: the heading path that leads each stored passage
    # ("Lumen Candles brand guidelines > Voice") has it, the guidelines' words do not.
    guidelines = tmp_path / "guide.md"
    guidelines.write_text("# Lumen Candles brand guidelines\n\n## Voice\nWarm, calm, a little poetic. We speak like "
                          "a friend lighting a candle for you.\n", encoding="utf-8")
    model = GenericFakeChatModel(messages=iter([AIMessage(json.dumps({"voice": ["Lumen Candles", "friend", "bold"]}))]))
    with ChromaBrandMemory(settings) as memory:
        memory.add(guidelines, brand="lumen")
        kit, _ = distill_kit(memory, "lumen", model, who=ModelCall.of(model))
    assert [(i.value, i.origin) for i in kit.voice] == [
        ("Warm", "rule"), ("calm", "rule"), ("a little poetic", "rule"), ("friend", "model")]


def test_people_win_over_rules_and_removals_stay_removed() -> None:
    rule = KitItem(value="cheap", source="g.md > Words", origin="rule")
    old = BrandKit(brand="acme", forbidden_terms=[rule, KitItem(value="diet", source="g.md", origin="rule")])
    edited = BrandKit(brand="acme", forbidden_terms=[rule, KitItem(value="budget", source="x", origin="rule")])
    kit = apply_edit(old, edited, user="dana")
    assert kit.forbidden_terms == [rule, KitItem(value="budget", source="edited by dana", origin="person")]
    assert kit.suppressed == ["diet"]
    again = distill("acme", {"forbidden_terms": [KitItem(value="diet", source="g.md", origin="rule"), rule]}, kit)
    assert [i.value for i in again.forbidden_terms] == ["budget", "cheap"]
    assert again.suppressed == ["diet"]


def test_kit_yaml_round_trips_and_bad_files_name_the_problem(tmp_path: Path) -> None:
    kit = BrandKit(brand="acme", palette=[KitItem(value="#112233", source="g.md", origin="rule")])
    path = tmp_path / "kits" / "acme.yaml"
    save_kit(path, kit)
    assert load_kit(path) == kit
    assert load_kit(tmp_path / "none.yaml") is None
    assert parse_kit(kit_yaml(kit), where="x") == kit
    with pytest.raises(ConfigError, match=r"^brand kit k.yaml: palette: palette colour '#12' is not '#RRGGBB'"):
        parse_kit(kit_yaml(kit).replace("'#112233'", "'#12'"), where="k.yaml")
    with pytest.raises(ConfigError, match=r"^brand kit k.yaml: not valid YAML"):
        parse_kit("brand: [unclosed", where="k.yaml")


@pytest.mark.llm
def test_distill_kit_combines_rules_and_grounded_model_words(settings: Settings, local_model: LocalLlamaChat,
                                                             tmp_path: Path) -> None:
    guidelines = tmp_path / "guidelines.md"
    guidelines.write_text(GUIDELINES, encoding="utf-8")
    with ChromaBrandMemory(settings) as memory:
        memory.add(guidelines, brand="acme")
        kit, audit = distill_kit(memory, "acme", local_model, who=ModelCall.of(local_model))
        assert memory.kit("acme") == kit
    assert [a.kind for a in audit] == ["model_call"]
    assert [i.value for i in kit.forbidden_terms] == ["guilt-free", "cheap"]
    assert kit.forbidden_terms[0].source == "guidelines.md > Acme guidelines > Words"
    assert [i.value for i in kit.required_disclaimers] == ["T&Cs apply"]
    assert [i.value for i in kit.palette] == ["#112233", "#ABCDEF"]
    rule_voice = [i.value for i in kit.voice if i.origin == "rule"]
    assert rule_voice == ["Bold", "Kind"]
    for item in kit.voice:  # the model's words must be in the guidelines it cites
        assert item.origin == "rule" or re.search(rf"(?i)\b{re.escape(item.value)}\b", GUIDELINES)
