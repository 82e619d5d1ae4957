"""The channel catalog: channels, their copy fields with character limits, and their image sizes.

The catalog is data (``briefcraft/data/channels.yaml``); this module only loads and queries it. So is the list of
platforms a brief may name that the catalog has no channel for (``briefcraft/data/other_platforms.yaml``): intake
tells the marketer nothing is made for them.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache
from importlib import resources
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from briefcraft.spelling import slips

__all__ = [
    "PLAIN", "REPEATED_PUNCTUATION", "Channel", "Characters", "CopyField", "Platform", "channel_ids", "detect_channels",
    "detect_other_platforms", "get_channel", "load_catalog", "not_covered", "other_platforms",
]

#: Typographic quotes, hyphens and spaces to their plain forms, one character for one (a ``str.translate`` table), so
#: spans in the plain text are spans in the original: the checks match lexicons written with ' " - only, and a field
#: that takes ' but not U+2019 gets ' for it.
PLAIN = str.maketrans({
    "\u2018": "'", "\u2019": "'", "\u02bc": "'", "\u201c": '"', "\u201d": '"', "\u201e": '"',
    "\u2010": "-", "\u2011": "-", "\u00a0": " ", "\u202f": " ",
})

#: A punctuation mark or symbol repeated back to back ("flowers!!", "**"): group 1 is the character. Not a slash: a
#: web address has two.
REPEATED_PUNCTUATION = re.compile(r"([^\w\s/])\1+")

#: Unicode general categories a field's character set may name, and their words in messages and prompts (a
#: one-letter class takes every category in it). Marks (M) are taken only on a letter: the vowel signs of
#: Devanagari or Thai, a decomposed accent; not an emoji's variation selector. They go unnamed in messages.
_CATEGORY_WORDS = {
    "L": "letters", "M": "", "N": "numbers", "Nd": "digits", "P": "punctuation", "Sm": "math symbols",
    "Zs": "spaces",
}


class Characters(BaseModel):
    """The characters a copy field takes, as the platform states them: Unicode general categories plus single
    characters; the ``once`` characters at most once each in a value (Etsy titles: % : & + once each)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    categories: tuple[str, ...] = Field(min_length=1)
    extra: str = ""
    once: str = ""

    @model_validator(mode="after")
    def _known_categories(self) -> Characters:
        unknown = [c for c in self.categories if c not in _CATEGORY_WORDS]
        if unknown:
            raise ValueError(f"unknown character categories {unknown}; allowed: {', '.join(_CATEGORY_WORDS)}")
        return self

    def refused(self, text: str) -> list[int]:
        """Positions in ``text`` of the characters the field does not take: outside the set, a mark not on a
        letter, or a ``once`` character after its first use."""
        seen: set[str] = set()
        bad = []
        on_letter = False
        for position, char in enumerate(text):
            category = unicodedata.category(char)
            taken = char in self.extra or char in self.once or category in self.categories or (
                category[0] in self.categories and (category[0] != "M" or on_letter))
            if not taken or (char in self.once and char in seen):
                bad.append(position)
            on_letter = taken and category[0] in "LM"
            seen.add(char)
        return bad

    def clean(self, text: str) -> str:
        """``text`` (composed, NFC) with each refused character made plain where its plain form is taken (U+2019 ->
        '), else replaced by a space; spaces collapsed."""
        text = unicodedata.normalize("NFC", text)
        refused = set(self.refused(text))
        text = "".join(c.translate(PLAIN) if i in refused else c for i, c in enumerate(text))
        refused = set(self.refused(text))
        return " ".join("".join(" " if i in refused else c for i, c in enumerate(text)).split())

    def describe(self) -> str:
        """What the field takes, in words: "letters, digits, spaces and - ' ™ © ®"."""
        words = [word for c in self.categories if (word := _CATEGORY_WORDS[c])]
        words += [" ".join(self.extra)] if self.extra else []
        text = words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"
        return f"{text}, each of {' '.join(self.once)} at most once" if self.once else text


class CopyField(BaseModel):
    """One copy field of a channel, e.g. a Google RSA headline (30 characters, 3 to 15 of them)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    max_chars: int = Field(gt=0)
    count: int = Field(default=1, ge=0, description="Values the model writes (0: optional, filled by code).")
    max_count: int = Field(default=1, ge=1, description="Most values the channel accepts.")
    min_count: int | None = Field(default=None, ge=0, description="Fewest values the channel takes (None: count).")
    role: Literal["overlay", "body"] | None = None
    unique: bool = Field(default=False, description="No value may repeat another (case and spacing aside).")
    search_only: bool = Field(
        default=False, description="Search keywords people do not read as copy (Etsy tags): no mandatory element "
                                   "counts as said there.")
    chars: Characters | None = Field(default=None, description="The characters the field takes (None: any).")

    @model_validator(mode="after")
    def _count_fits(self) -> CopyField:
        if self.max_count < self.count:
            raise ValueError(f"field {self.name!r}: max_count {self.max_count} is below count {self.count}")
        if self.min_count is not None and self.min_count > self.count:
            raise ValueError(f"field {self.name!r}: min_count {self.min_count} is above count {self.count}")
        return self

    @property
    def least(self) -> int:
        """The fewest values the field takes."""
        return self.count if self.min_count is None else self.min_count

    def repeats(self, values: list[str]) -> list[tuple[int, int]]:
        """For a field of distinct values, each value that repeats an earlier one as (its index, the earlier's);
        case and spacing do not make a value distinct. Empty for other fields."""
        if not self.unique:
            return []
        first: dict[str, int] = {}
        found = []
        for index, value in enumerate(values):
            key = " ".join(value.casefold().split())
            if key in first:
                found.append((index, first[key]))
            elif key:
                first[key] = index
        return found


class Channel(BaseModel):
    """A channel: where the copy runs and what sizes its images take."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    name: str
    aliases: tuple[str, ...] = ()
    fields: tuple[CopyField, ...]
    max_hashtags: int | None = None
    max_emoji: int | None = Field(default=None, ge=0, description="Most emoji across the copy (None: no limit).")
    repeated_punctuation: bool = Field(
        default=True, description="Whether a punctuation mark or symbol may repeat back to back ('flowers!!')."
    )
    images: tuple[tuple[int, int], ...] = ()
    safe_zone: tuple[float, float, float, float] = Field(
        default=(0.0, 0.0, 0.0, 0.0),
        description="Fractions of the image (top, right, bottom, left) the platform's UI covers: no text or logo.",
    )

    def field(self, name: str) -> CopyField:
        """The copy field called ``name``."""
        for copy_field in self.fields:
            if copy_field.name == name:
                return copy_field
        raise KeyError(f"channel {self.id!r} has no field {name!r}")

    @property
    def overlay_field(self) -> CopyField | None:
        """The field whose first value is set on the channel's images."""
        return next((f for f in self.fields if f.role == "overlay"), None)

    @property
    def search_only_fields(self) -> frozenset[str]:
        """The fields people do not read as copy, where a mandatory element does not count (Etsy tags)."""
        return frozenset(f.name for f in self.fields if f.search_only)

    @property
    def body_field(self) -> CopyField:
        """The field that carries mandatory elements (disclaimers); the longest one when none is marked."""
        marked = [f for f in self.fields if f.role == "body"]
        return marked[0] if marked else max(self.fields, key=lambda f: f.max_chars)


#: Characters of a word written in Latin script (a hyphen joins two such words). Aliases are Latin words, and
#: other scripts set them right beside their own letters: "在Instagram和email上" (no spaces), "ב-Instagram".
_LATIN = r"0-9A-Za-z\u00C0-\u024F\u1E00-\u1EFF_"
#: The shortest one-word channel name read with a slip ("facebok", "instagarm", "newslettter"): words of 8 letters
#: or more have no everyday word one slip away ("twitter" has "twister", "email" has "gmail").
_SLIP_LETTERS = 8


def _data(name: str) -> dict[str, Any]:
    """A packaged YAML mapping from ``briefcraft/data``."""
    loaded: dict[str, Any] = yaml.safe_load(resources.files("briefcraft").joinpath(f"data/{name}").read_text("utf-8"))
    return loaded


@cache
def load_catalog() -> dict[str, Channel]:
    """Load the packaged channel catalog, keyed by channel id (cached after the first call)."""
    raw = _data("channels.yaml")
    catalog: dict[str, Channel] = {}
    for channel_id, spec in raw.items():
        fields = tuple(CopyField(name=name, **field) for name, field in spec.pop("fields").items())
        images = tuple(tuple(size) for size in spec.pop("images", []))
        catalog[channel_id] = Channel(id=channel_id, fields=fields, images=images, **spec)
    return catalog


class Platform(BaseModel):
    """A platform or format a brief may name that the catalog has no channel for, such as TikTok."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    name: str = Field(min_length=1, description="As a sentence reads it: 'TikTok', 'print ads'.")
    aliases: tuple[str, ...] = Field(min_length=1)


@cache
def other_platforms() -> dict[str, Platform]:
    """The platforms of ``briefcraft/data/other_platforms.yaml``, keyed by id; ``ValueError`` when one shares an id or
    an alias with a catalog channel (a word in a brief names one thing)."""
    platforms = {key: Platform(id=key, **spec) for key, spec in _data("other_platforms.yaml").items()}
    catalog = load_catalog()
    taken = {alias for channel in catalog.values() for alias in _names(channel)}
    for platform in platforms.values():
        if platform.id in catalog:
            raise ValueError(f"other_platforms.yaml: {platform.id!r} is a catalog channel id")
        if clash := taken.intersection(platform.aliases):
            raise ValueError(
                f"other_platforms.yaml: {platform.id!r} alias {sorted(clash)[0]!r} names a catalog channel"
            )
    return platforms


def channel_ids() -> tuple[str, ...]:
    """Every channel id in the catalog, in catalog order."""
    return tuple(load_catalog())


def get_channel(channel_id: str) -> Channel:
    """The channel with this id; ``KeyError`` naming the allowed ids otherwise."""
    catalog = load_catalog()
    if channel_id not in catalog:
        raise KeyError(f"unknown channel {channel_id!r}; allowed: {', '.join(catalog)}")
    return catalog[channel_id]


def _names(entry: Channel | Platform) -> tuple[str, ...]:
    """The words that name a channel in a brief: its id (also with spaces for underscores) and aliases; a platform
    only by its aliases (its id may be an everyday word: 'print', 'push')."""
    if isinstance(entry, Platform):
        return entry.aliases
    return entry.id.replace("_", " "), entry.id, *entry.aliases


def _alias_regex(alias: str) -> str:
    """A name as written, or, for one word of ``_SLIP_LETTERS`` letters or more, with one slip ("facebok")."""
    return slips(alias) if len(alias) >= _SLIP_LETTERS and alias.isalpha() else re.escape(alias)


@cache
def _alias_patterns() -> tuple[tuple[str, str, re.Pattern[str]], ...]:
    """(channel or platform id, name, whole-word pattern) for every name of every catalog channel and other
    platform."""
    entries: list[Channel | Platform] = [*load_catalog().values(), *other_platforms().values()]
    return tuple(
        (entry.id, alias,
         re.compile(rf"(?<![{_LATIN}])(?<![{_LATIN}]-){_alias_regex(alias)}(?![{_LATIN}])(?!-[{_LATIN}])"))
        for entry in entries for alias in dict.fromkeys(_names(entry))
    )


@cache
def _shared_aliases() -> dict[str, frozenset[str]]:
    """Each name that several entries share ("banner", "display ads"), with the ids of those entries."""
    owners: dict[str, set[str]] = {}
    for key, alias, _ in _alias_patterns():
        owners.setdefault(alias, set()).add(key)
    return {alias: frozenset(keys) for alias, keys in owners.items() if len(keys) > 1}


#: What, right before a channel's name, says the brief does not want it: "No Facebook this time", "not on X",
#: "skip the newsletter", "except TikTok".
_DECLINED = re.compile(r"(?:^|[^\w-])(?:no|not|without|skip|skipping|except|excluding)\s+(?:on\s+|in\s+|via\s+)?"
                       r"(?:the\s+|a\s+|an\s+|any\s+)?$")


def _named(text: str) -> dict[str, int]:
    """The ids of the catalog channels and other platforms whose id or an alias occurs in ``text`` as whole words,
    each with where it is first named.

    Aliases match as whole Latin-script words, also right beside another script's letters ("在Instagram和email上").
    An alias that only occurs inside a longer matched alias of another entry does not count: "Instagram stories"
    means the story channel, not also the feed. Nor does one right after a refusal ("No Facebook this time").
    An alias several entries share ("banner") names them all only when the text names none of them by an alias of
    its own: "a 300x250 banner" is the 300x250, "banners" are both sizes.
    """
    lowered = " ".join(text.lower().split())
    spans = [(match.start(), match.end(), key, alias)
             for key, alias, pattern in _alias_patterns() for match in pattern.finditer(lowered)
             if not _DECLINED.search(lowered, max(0, match.start() - 40), match.start())]
    spans = [(start, end, key, alias) for start, end, key, alias in spans
             if not any(s <= start and end <= e and (e - s) > (end - start) and k != key for s, e, k, _ in spans)]
    sharing = _shared_aliases()
    own = {key for _, _, key, alias in spans if alias not in sharing}
    named: dict[str, int] = {}
    for start, _, key, alias in sorted(spans):
        if alias not in sharing or not own & sharing[alias]:
            named.setdefault(key, start)
    return named


def _in_text_order(found: dict[str, int], ids: list[str]) -> list[str]:
    """The ``ids`` in ``found``, in the order the text names them (ids named at one place in ``ids``' order)."""
    return sorted((key for key in ids if key in found), key=lambda key: found[key])


def detect_channels(text: str) -> list[str]:
    """Catalog channel ids that ``text`` names (by id or alias, as whole words), in the order it names them:
    "email first, then Instagram" is ``["email", "instagram_feed"]``."""
    return _in_text_order(_named(text), list(load_catalog()))


def detect_other_platforms(text: str) -> list[str]:
    """The names of the platforms ``text`` names that the catalog has no channel for ("TikTok"), in the order it
    names them."""
    platforms = other_platforms()
    return [platforms[key].name for key in _in_text_order(_named(text), list(platforms))]


def not_covered(platforms: list[str]) -> str:
    """The line that tells the marketer nothing is made for ``platforms`` (named in the brief, not in the
    catalog); '' for none."""
    if not platforms:
        return ""
    names = platforms[0] if len(platforms) == 1 else f"{', '.join(platforms[:-1])} and {platforms[-1]}"
    return f"nothing is made for {names}: the channel catalog has no such channel"
