"""The channel catalog: channels, their copy fields with character limits, and their image sizes.

The catalog is data (``briefcraft/data/channels.yaml``); this module only loads and queries it.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["Channel", "CopyField", "channel_ids", "detect_channels", "get_channel", "load_catalog"]


class CopyField(BaseModel):
    """One copy field of a channel, e.g. a Google RSA headline (30 characters, 3 to 15 of them)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    max_chars: int = Field(gt=0)
    count: int = Field(default=1, ge=0, description="Values the model writes (0: optional, filled by code).")
    max_count: int = Field(default=1, ge=1, description="Most values the channel accepts.")
    role: Literal["overlay", "body"] | None = None

    @model_validator(mode="after")
    def _count_fits(self) -> CopyField:
        if self.max_count < self.count:
            raise ValueError(f"field {self.name!r}: max_count {self.max_count} is below count {self.count}")
        return self


class Channel(BaseModel):
    """A channel: where the copy runs and what sizes its images take."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    name: str
    aliases: tuple[str, ...] = ()
    fields: tuple[CopyField, ...]
    max_hashtags: int | None = None
    max_emoji: int | None = Field(default=None, ge=0, description="Most emoji across the copy (None: no limit).")
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
    def body_field(self) -> CopyField:
        """The field that carries mandatory elements (disclaimers); the longest one when none is marked."""
        marked = [f for f in self.fields if f.role == "body"]
        return marked[0] if marked else max(self.fields, key=lambda f: f.max_chars)


#: Characters of a word written in Latin script (a hyphen joins two such words). Aliases are Latin words, and
#: other scripts set them right beside their own letters: "在Instagram和email上" (no spaces), "ב-Instagram".
_LATIN = r"0-9A-Za-z\u00C0-\u024F\u1E00-\u1EFF_"


@cache
def load_catalog() -> dict[str, Channel]:
    """Load the packaged channel catalog, keyed by channel id (cached after the first call)."""
    text = resources.files("briefcraft").joinpath("data/channels.yaml").read_text(encoding="utf-8")
    raw = yaml.safe_load(text)
    catalog: dict[str, Channel] = {}
    for channel_id, spec in raw.items():
        fields = tuple(CopyField(name=name, **field) for name, field in spec.pop("fields").items())
        images = tuple(tuple(size) for size in spec.pop("images", []))
        catalog[channel_id] = Channel(id=channel_id, fields=fields, images=images, **spec)
    return catalog


def channel_ids() -> tuple[str, ...]:
    """Every channel id in the catalog, in catalog order."""
    return tuple(load_catalog())


def get_channel(channel_id: str) -> Channel:
    """The channel with this id; ``KeyError`` naming the allowed ids otherwise."""
    catalog = load_catalog()
    if channel_id not in catalog:
        raise KeyError(f"unknown channel {channel_id!r}; allowed: {', '.join(catalog)}")
    return catalog[channel_id]


def detect_channels(text: str) -> list[str]:
    """Channel ids whose id or an alias occurs in ``text`` as whole words, in catalog order.

    Aliases match as whole Latin-script words, also right beside another script's letters ("在Instagram和email上").
    A brief that says "Instagram stories" means the story channel, not also the feed: an alias that
    only occurs inside a longer matched alias does not count.
    """
    lowered = " ".join(text.lower().split())
    spans: list[tuple[int, int, str]] = []
    for channel in load_catalog().values():
        for alias in (channel.id.replace("_", " "), channel.id, *channel.aliases):
            pattern = rf"(?<![{_LATIN}])(?<![{_LATIN}]-){re.escape(alias)}(?![{_LATIN}])(?!-[{_LATIN}])"
            for match in re.finditer(pattern, lowered):
                spans.append((match.start(), match.end(), channel.id))
    found: set[str] = set()
    for start, end, channel_id in spans:
        inside_longer = any(
            s <= start and end <= e and (e - s) > (end - start) and cid != channel_id for s, e, cid in spans
        )
        if not inside_longer:
            found.add(channel_id)
    return [channel_id for channel_id in load_catalog() if channel_id in found]
