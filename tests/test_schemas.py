"""Domain models: brief validation and ReviewDecision <-> LangChain HITL decisions."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from briefcraft.errors import DecisionError
from briefcraft.schemas import CreativeBrief, ReviewDecision, validation_message

ITEM = {"name": "publish_copy", "args": {"id": "copy-email-1", "revision": 2, "fields": {}}}


def test_brief_rejects_unknown_channel_naming_allowed() -> None:
    with pytest.raises(ValidationError) as caught:
        CreativeBrief(product="Cold brew", channels=["tiktok"])
    assert validation_message(caught.value).startswith("channels: unknown channel 'tiktok'; allowed: instagram_feed")


def test_brief_rejects_repeated_channels_and_empty_product() -> None:
    with pytest.raises(ValidationError, match="channels repeat"):
        CreativeBrief(product="x", channels=["email", "email"])
    with pytest.raises(ValidationError, match="product"):
        CreativeBrief(product="  ", channels=["email"])


@pytest.mark.parametrize(
    ("decision", "expected"),
    [
        ({"type": "approve"}, ("approve", None, None)),
        ({"type": "reject", "message": "too loud"}, ("reject", "too loud", None)),
        ({"type": "reject"}, ("reject", None, None)),
        ({"type": "edit", "edited_action": {"name": "publish_copy", "args": {"fields": {"subject": ["Hi"]}}}},
         ("edit", None, {"fields": {"subject": ["Hi"]}})),
    ],
)
def test_review_decision_from_and_to_hitl(decision: dict[str, object], expected: tuple[object, ...]) -> None:
    parsed = ReviewDecision.from_hitl(decision, ITEM, reviewer="ana", role="approver")
    assert (parsed.action, parsed.comment, parsed.edited) == expected
    assert (parsed.item_id, parsed.revision, parsed.reviewer) == ("copy-email-1", 2, "ana")
    assert parsed.to_hitl("publish_copy") == decision


@pytest.mark.parametrize(
    ("decision", "message"),
    [
        ("approve", "must be an object, got str"),
        ({"type": "accept"}, "has type 'accept'; allowed: approve, edit, reject"),
        ({"type": "edit"}, "needs 'edited_action' with 'args'"),
        ({"type": "edit", "edited_action": {"name": "x", "args": {"id": "other"}}}, "ids cannot be edited"),
        ({"type": "reject", "message": 3}, "'message' must be text"),
    ],
)
def test_malformed_decisions_are_named(decision: object, message: str) -> None:
    with pytest.raises(DecisionError, match=message):
        ReviewDecision.from_hitl(decision, ITEM)
