"""One slip of the keyboard, after the first letter: what ``slips`` matches and what it leaves alone."""

from __future__ import annotations

import re

import pytest

from briefcraft.spelling import slips


@pytest.mark.parametrize(("written", "slipped"), [
    ("northbound", True),  # the word itself
    ("northbund", True), ("northboun", True),  # a letter left out, also the last
    ("northbownd", True), ("northbounf", True),  # one replaced
    ("northbiound", True),  # one added inside
    ("nortbhound", True), ("northbonud", True),  # two swapped
    ("sorthbound", False), ("orthbound", False), ("onrthbound", False),  # the first letter changed, gone or moved
    ("northbounds", False),  # one added at the end: a plural
    ("nrthbond", False), ("northboundss", False), ("nortbhuond", False),  # two slips
])
def test_one_slip_after_the_first_letter(written: str, slipped: bool) -> None:
    assert bool(re.fullmatch(slips("northbound"), written)) is slipped
