"""The brand kit: rules read from guidelines by pattern, merged with people's edits, kept as YAML.

Patterns find what guidelines state outright: labelled lists ("Never say: cheap, 'guilt-free'"), the bullets
under a labelled heading ("## Always include"), and hex colours. The LLM adds voice descriptors in
``briefcraft.agents.brand_kit``. Every item records where it came from; a person's edits win over both, and
values a person removed stay removed when the kit is distilled again.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterable
from pathlib import Path

import yaml
from pydantic import ValidationError

from briefcraft.contacts import contact_details
from briefcraft.errors import ConfigError
from briefcraft.schemas import KIT_FIELDS, BrandKit, KitItem, StyleLora, validation_message

__all__ = ["apply_edit", "distill", "kit_rules", "kit_yaml", "load_kit", "parse_kit", "save_kit", "with_style_lora"]

#: Kit field -> what a label or heading says to introduce it. Checked in order: the first match wins,
#: so "never say" is forbidden before "say" is a do-word.
_LABELS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, re.compile(rf"^(?:{pattern})$", re.IGNORECASE))
    for name, pattern in (
        ("forbidden_terms", r"never (?:say|use|write)|forbidden(?: words| terms)?|banned(?: words| terms)?"),
        ("dont_words", r"avoid|words to avoid|don'?t say|do not say"),
        ("required_disclaimers", r"always (?:include|say|add)|required (?:disclaimers?|text)|disclaimers?"),
        ("product_names", r"product names?|names and spelling|trademarks?"),
        ("competitors", r"competitors?|competing brands?|rivals?"),
        ("contacts", r"contacts?|contact details|websites?|web address(?:es)?|urls?|e-?mail address|phone(?: number)?|"
                     r"telephone"),
        ("style_rules", r"(?:house |writing )?style(?: rules)?|punctuation|mechanics"),
        ("do_words", r"(?:do )?say|words we (?:love|use)|preferred words|use words like"),
        ("fonts", r"fonts?|typefaces?|typography"),
        ("logo_rules", r"logo(?: rules| usage)?"),
        ("voice", r"(?:brand |tone of )?voice|tone|personality|we are"),
    )
)
_HEX = re.compile(r"(?<![\w#])#([0-9A-Fa-f]{6})\b")
_BULLET = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+(.+?)\s*$")
_INLINE = re.compile(r"^\s*(?:[-*•]\s+)?\**([A-Za-z' ]{2,40}?)\**\s*:\s*(.+?)\s*$")
_QUOTED = re.compile(r"[\"“]([^\"”]{1,80})[\"”]")
_CONNECTOR = re.compile(r"^\s*(?:and|or|&)\b|\b(?:and|or)\s*$", re.IGNORECASE)


def _field_for(label: str) -> str | None:
    label = label.strip().strip("*_ ").rstrip(":")
    return next((name for name, pattern in _LABELS if pattern.match(label)), None)


def _items(name: str, text: str) -> list[str]:
    """The values a labelled list holds: its quoted strings and its comma/semicolon-separated parts."""
    quoted = [q.strip() for q in _QUOTED.findall(text) if q.strip()]
    rest = _QUOTED.sub(",", text)
    if name in {"logo_rules", "required_disclaimers", "style_rules"} and not quoted:
        return [text.strip().rstrip(".")]  # one rule per line: commas belong to the sentence
    if name == "contacts":  # "Website: northbound.coffee, or mail hello@northbound.coffee" -> the two of them
        return [found for _, found, _ in contact_details(text)]
    if name == "voice":  # "Warm — we talk like a friend" and "Warm, calm. We speak like a friend" -> "Warm" ...
        rest = re.split(r"\s[—–-]\s|:|[.!?](?:\s|$)", rest)[0]
    parts = (_CONNECTOR.sub("", part).strip().rstrip(".").strip() for part in re.split(r"[,;]", rest))
    return quoted + [part for part in parts if part]


def kit_rules(sections: Iterable[tuple[str, tuple[str, ...], str]]) -> dict[str, list[KitItem]]:
    """Kit items read by pattern from ``(citation, heading, text)`` sections; each cites its section."""
    found: dict[str, list[KitItem]] = {name: [] for name in KIT_FIELDS}
    for source, heading, text in sections:
        under = _field_for(heading[-1]) if heading else None
        lines = text.splitlines()
        bullets = [m.group(1) for m in map(_BULLET.match, lines) if m]
        if under is not None:
            plain = [line for line in lines if 0 < len(line.strip()) <= 80 and not _INLINE.match(line)]
            for line in bullets or plain:
                found[under] += [KitItem(value=v, source=source, origin="rule") for v in _items(under, line)]
        for line in lines:
            match = _INLINE.match(line)
            name = _field_for(match.group(1)) if match else None
            if match and name is not None:
                found[name] += [KitItem(value=v, source=source, origin="rule") for v in _items(name, match.group(2))]
        found["palette"] += [
            KitItem(value=f"#{hex_.upper()}", source=source, origin="rule") for hex_ in _HEX.findall(text)
        ]
    return {name: _unique(items) for name, items in found.items()}


def _unique(items: Iterable[KitItem]) -> list[KitItem]:
    seen: set[str] = set()
    kept: list[KitItem] = []
    for item in items:
        key = item.value.casefold()
        if key not in seen:
            seen.add(key)
            kept.append(item)
    return kept


def distill(brand: str, found: dict[str, list[KitItem]], previous: BrandKit | None) -> BrandKit:
    """A fresh kit from ``found`` items, keeping a person's items, removals and style LoRAs from ``previous``."""
    suppressed = {value.casefold() for value in (previous.suppressed if previous else [])}
    fields: dict[str, list[KitItem]] = {}
    for name in KIT_FIELDS:
        kept = [item for item in getattr(previous, name, []) if item.origin == "person"]
        fresh = [item for item in found.get(name, []) if item.value.casefold() not in suppressed]
        fields[name] = _unique([*kept, *fresh])
    return BrandKit(brand=brand, suppressed=previous.suppressed if previous else [],
                    style_loras=previous.style_loras if previous else [], **fields)


def apply_edit(old: BrandKit, new: BrandKit, *, user: str) -> BrandKit:
    """The kit after a person's edit: new or changed values become the person's, removed ones suppressed.

    Style LoRAs are taken as edited: guidelines never propose them, so there is nothing to suppress.
    """
    fields: dict[str, list[KitItem]] = {}
    suppressed = list(new.suppressed)
    for name in KIT_FIELDS:
        before = {item.value: item for item in getattr(old, name)}
        after = getattr(new, name)
        fields[name] = [
            before[item.value] if item.value in before
            else KitItem(value=item.value, source=f"edited by {user}", origin="person")
            for item in after
        ]
        kept = {item.value for item in after}
        suppressed += [value for value in before if value not in kept and value not in suppressed]
    return BrandKit(brand=old.brand, suppressed=suppressed, style_loras=new.style_loras, **fields)


def with_style_lora(kit: BrandKit, lora: StyleLora) -> BrandKit:
    """The kit with ``lora`` among its style LoRAs, in place of one of the same name (else last)."""
    loras = [lora if old.name == lora.name else old for old in kit.style_loras]
    if all(old.name != lora.name for old in kit.style_loras):
        loras.append(lora)
    return kit.model_copy(update={"style_loras": loras})


def load_kit(path: Path) -> BrandKit | None:
    """The kit stored at ``path``, or None when there is none; ``ConfigError`` when the file is invalid."""
    if not path.is_file():
        return None
    return parse_kit(path.read_text(encoding="utf-8"), where=str(path))


def parse_kit(text: str, *, where: str) -> BrandKit:
    """A kit from its YAML text; ``ConfigError`` naming ``where`` and the first problem."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ConfigError(f"brand kit {where}: not valid YAML ({str(error).splitlines()[0]})") from error
    try:
        return BrandKit.model_validate(data)
    except ValidationError as error:
        raise ConfigError(f"brand kit {where}: {validation_message(error)}") from error


def kit_yaml(kit: BrandKit) -> str:
    """The kit as the YAML people read and edit."""
    header = (
        f"# Brand kit for {kit.brand}. Edit values freely: edited and added items become yours (origin: person),\n"
        "# removed ones go to `suppressed` and are not brought back when guidelines are ingested again.\n"
    )
    return header + yaml.safe_dump(kit.model_dump(mode="json"), sort_keys=False, allow_unicode=True, width=110)


def save_kit(path: Path, kit: BrandKit) -> None:
    """Write the kit atomically (a reader never sees half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=".kit-", suffix=".yaml")
    with os.fdopen(handle, "w", encoding="utf-8") as file:
        file.write(kit_yaml(kit))
    os.replace(temp, path)
