"""Slips of the keyboard: a name written with one letter left out, replaced, added inside or swapped with the next
("Northbund", "facebok", "Instagarm"). The copy checks read brand product names through it, and intake the
channels a brief names."""

from __future__ import annotations

import re

__all__ = ["slips"]


def slips(word: str) -> str:
    """A regex for ``word`` or ``word`` with one slip after its first letter: a letter left out, replaced, added or
    swapped with the next ("Northbund", "Northbownd", "Northbiound", "Nortbhound"). The first letter stays: without
    it "Pinterest" is "interest". Nor is a letter added at the end a slip: it makes a plural ("Brews")."""
    forms = [re.escape(word[:i]) + r"\w?" + re.escape(word[i + 1:]) for i in range(1, len(word))]
    forms += [re.escape(word[:i]) + r"\w" + re.escape(word[i:]) for i in range(1, len(word))]
    forms += [re.escape(word[:i] + word[i + 1] + word[i] + word[i + 2:]) for i in range(1, len(word) - 1)]
    return "(?:" + "|".join(forms) + ")"
