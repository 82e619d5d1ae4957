"""The languages a brief can ask its copy in: a BCP 47 tag, the English name, and how a brief asks for it.

A brief that says which language it wants ("copy in German please", "French copy", "auf Deutsch", "en español")
sets the brief's ``locale``; the copywriter then writes every field in that language. A brief that says none gets
English (``DEFAULT_LOCALE``): the language a brief is written in is not read as a request, since a marketer may write
in one language for an audience that reads another.
"""

from __future__ import annotations

import re
from functools import cache

__all__ = ["DEFAULT_LOCALE", "LANGUAGES", "detect_language", "language_name"]

DEFAULT_LOCALE = "en"

#: Tag -> (English name, the phrases a brief in that language uses to ask for it).
LANGUAGES: dict[str, tuple[str, tuple[str, ...]]] = {
    "en": ("English", ()),
    "de": ("German", ("auf Deutsch", "in deutscher Sprache")),
    "fr": ("French", ("en français", "en francais")),
    "es": ("Spanish", ("en español", "en espanol", "en castellano")),
    "it": ("Italian", ("in italiano", "in lingua italiana")),
    "pt": ("Portuguese", ("em português", "em portugues")),
    "nl": ("Dutch", ("in het Nederlands",)),
    "pl": ("Polish", ("po polsku",)),
    "sv": ("Swedish", ("på svenska",)),
    "da": ("Danish", ("på dansk",)),
    "nb": ("Norwegian", ("på norsk",)),
    "fi": ("Finnish", ("suomeksi",)),
}

# What may follow "in <language>" when it names the copy's language ("copy in German please", "in French, and ...")
# and not a place or a thing ("launching in German cities", "in French oak").
_AFTER_IN = r"(?=\s*(?:$|[^\w\s'-]|\b(?:please|pls|only|too|as\s+well|and|or|copy|language|with|for|on|by)\b))"
# Words that name the copy right after the language: "German copy", "a French version".
_COPY_WORDS = r"(?:copy|text|texts|version|versions|language|translation|translations|captions?|wording)"


@cache
def _asks() -> list[tuple[re.Pattern[str], str]]:
    """One pattern per language, with its tag."""
    asks = []
    for tag, (name, native) in LANGUAGES.items():
        forms = [rf"\b(?:in|into)\s+{name}{_AFTER_IN}", rf"\b{name}[ -]{_COPY_WORDS}\b",
                 *(rf"(?<!\w){re.escape(phrase)}(?!\w)" for phrase in native)]
        asks.append((re.compile("|".join(forms), re.IGNORECASE), tag))
    return asks


def detect_language(text: str) -> str | None:
    """The tag of the language ``text`` asks its copy in, the first it names; None when it names none."""
    found = [(match.start(), tag) for pattern, tag in _asks() if (match := pattern.search(text))]
    return min(found)[1] if found else None


def language_name(tag: str) -> str:
    """The English name of the language a tag names ("de-AT" -> "German"); the tag itself for one not listed."""
    entry = LANGUAGES.get(tag.split("-", maxsplit=1)[0].lower())
    return entry[0] if entry else tag
