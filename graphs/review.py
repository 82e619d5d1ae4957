"""Review checkpoints in LangChain's human-in-the-loop protocol, and approval read from decisions.

The interrupt value is an ``HITLRequest``: one ``action_request`` per item (``publish_copy`` /
``publish_image``, ``args`` = the item, ``description`` = its findings). The resume value is an
``HITLResponse``: ``{"decisions": [...]}`` in the same order. Clients we did not write (Agent Chat UI,
LangGraph Studio) can therefore act on our checkpoints. One extension beyond the protocol's approve / edit /
reject: ``{"type": "drop"}`` leaves an item out without reworking it (the image variants a reviewer did not
pick); ``review_configs`` lists only the protocol's three, so those clients never offer what they cannot send.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal, TypeVar, cast

from langchain.agents.middleware.human_in_the_loop import HITLRequest
from langchain.agents.middleware.human_in_the_loop import HITLResponse as ProtocolResponse
from langgraph.types import interrupt
from pydantic import RootModel, ValidationError, ValidatorFunctionWrapHandler, model_validator
from pydantic_core import PydanticCustomError

from briefcraft.errors import DecisionError
from briefcraft.pricing import CostSummary, summarize
from briefcraft.schemas import (
    ASK_USER,
    PUBLISH_COPY,
    PUBLISH_IMAGE,
    RAISE_BUDGET,
    AuditEvent,
    Budget,
    ComplianceReport,
    CopyVariant,
    ImageAsset,
    ReviewDecision,
    validation_message,
)

__all__ = [
    "BUDGET_GATES",
    "Item",
    "ask",
    "budget_request",
    "clarification_request",
    "edit_decision",
    "edit_text",
    "item_state",
    "read_budget",
    "read_clarification",
    "read_edit",
    "read_review",
    "refused",
    "review_request",
]

Item = CopyVariant | ImageAsset
T = TypeVar("T")
#: The graph's budget gates: before the first work, before automatic fixes, after each review.
BUDGET_GATES = ("budget_work", "budget_fix", "budget_review")
ItemState = Literal["pending", "approved", "rejected", "dropped"]


def item_state(item: Item, decisions: Sequence[ReviewDecision], max_rounds: int) -> ItemState:
    """Where an item stands: its latest revision's decision, and whether rewrite rounds remain (a dropped item
    is out of play, as is one rejected more often than ``max_rounds``)."""
    latest = next(
        (d for d in reversed(decisions) if d.item_id == item.id and d.revision == item.revision), None
    )
    if latest is None:
        return "pending"
    if latest.action in ("approve", "edit"):
        return "approved"
    if latest.action == "drop":
        return "dropped"
    rejections = sum(1 for d in decisions if d.item_id == item.id and d.action == "reject")
    return "rejected" if rejections <= max_rounds else "dropped"


def _action_name(item: Item) -> str:
    return PUBLISH_COPY if isinstance(item, CopyVariant) else PUBLISH_IMAGE


def _model_notes(item: Item, audit: Sequence[AuditEvent]) -> list[str]:
    """What the model calls that wrote this revision of ``item`` noted about their replies (cut off at the token
    limit, read without the schema's limits), and an automatic fix discarded as no better than it: the reviewer
    should know before approving."""
    return [f"{'Model reply' if e.kind == 'model_call' else 'Automatic fix'}: {e.comment}" for e in audit
            if (e.kind == "model_call" or (e.kind, e.node) == ("autofix", "write_copy")) and e.comment
            and e.item_id == item.id and e.revision == item.revision]


def _describe(item: Item, report: ComplianceReport, cost: CostSummary, audit: Sequence[AuditEvent]) -> str:
    lines: list[str] = []
    if isinstance(item, ImageAsset):
        text = f"{item.label}. Alt text: {item.alt_text}"
        if item.composition:
            text += (f". Text in {item.composition.font}, {item.composition.ink}"
                     f"{' on ' + item.composition.panel if item.composition.panel else ''}, "
                     f"contrast {item.composition.contrast}:1")
            text += "".join(f". {note}" for note in item.composition.notes)
        lines.append(text)
    if item.id in report.checked:
        lines.append(f"Compliance: {report.item_status(item.id)}, brand score {report.item_score(item.id)}% "
                     f"({len(report.tested.get(item.id, []))} guidelines tested)")
    lines += [
        f"{f.severity.upper()} {f.rule_id}: {f.message}" + (f" Fix: {f.suggestion}." if f.suggestion else "")
        + f" (source: {f.source})"
        for f in report.for_item(item.id) if not f.rule_id.endswith(".not-checked")  # the NOT CHECKED lines say it
    ]
    lines += [f"NOT CHECKED {what}" for what in report.not_checked.get(item.id, [])]
    lines += _model_notes(item, audit)
    if item.id in cost.by_item:
        lines.append(f"Cost so far: ${cost.by_item[item.id]:.4f}")
    return "\n".join(lines)


def review_request(items: Sequence[Item], report: ComplianceReport, audit: Sequence[AuditEvent]) -> HITLRequest:
    """The HITL request that puts ``items`` in front of a reviewer, each with its findings, what it has cost and
    what ``audit`` noted about the model replies that wrote it."""
    cost = summarize(audit)
    return {
        "action_requests": [
            {"name": _action_name(item), "args": item.model_dump(mode="json"),
             "description": _describe(item, report, cost, audit)}
            for item in items
        ],
        "review_configs": [
            {"action_name": name, "allowed_decisions": ["approve", "edit", "reject"]}
            for name in (PUBLISH_COPY, PUBLISH_IMAGE)
        ],
    }


def _edit_names(action: dict[str, Any]) -> list[str]:
    """The fields a reviewer may edit: a copy item's catalog fields, an image's alt text."""
    return list(action["args"]["fields"]) if action["name"] == PUBLISH_COPY else ["alt_text"]


def edit_text(action: dict[str, Any]) -> str:
    """An item's editable fields as 'name: value' lines (a list field gives one line per value)."""
    args = action["args"]
    if action["name"] != PUBLISH_COPY:
        return f"alt_text: {args['alt_text']}"
    return "\n".join(f"{name}: {value}" for name, values in args["fields"].items() for value in values)


def read_edit(action: dict[str, Any], text: str) -> dict[str, Any]:
    """The edited action's args from 'name: value' lines; a line without a field name continues the value above.
    ``DecisionError`` for text before the first field, unknown fields, or an image without one alt_text line."""
    item_id, names = action["args"]["id"], _edit_names(action)
    fields: dict[str, list[str]] = {}
    current: str | None = None
    for number, line in enumerate(text.splitlines(), 1):
        name, colon, value = line.partition(":")
        if colon and name.strip() in names:
            current = name.strip()
            fields.setdefault(current, []).append(value.strip())
        elif current is not None:
            fields[current][-1] += "\n" + line
        elif line.strip():
            raise DecisionError(f"edit of {item_id!r} line {number}: start with a field name and a colon "
                                f"({', '.join(names)})")
    fields = {name: [value.rstrip() for value in values] for name, values in fields.items()}  # trailing blank lines
    if not fields:
        raise DecisionError(f"edit of {item_id!r} names no field; give 'name: value' lines ({', '.join(names)})")
    if action["name"] == PUBLISH_COPY:
        return {"fields": fields}
    if len(fields.get("alt_text", [])) != 1:
        raise DecisionError(f"edit of {item_id!r}: give the alt text on one 'alt_text:' line")
    return {"alt_text": fields["alt_text"][0]}


def edit_decision(action: dict[str, Any], text: str, *, partial: bool = False) -> dict[str, Any]:
    """The HITL ``edit`` decision that 'name: value' ``text`` (see ``read_edit``) makes of ``action``. With
    ``partial``, copy fields the text does not name keep their values (``briefcraft resume --edit``); without,
    the text is the item's whole set of fields (the studio's editor, which shows them all)."""
    args = read_edit(action, text)
    if partial and "fields" in args:
        args = {"fields": {**action["args"]["fields"], **args["fields"]}}
    return {"type": "edit", "edited_action": {"name": action["name"], "args": args}}


def ask(request: HITLRequest, read: Callable[[object], T]) -> T:
    """Pause with ``request``; what ``read`` makes of the resume value. LangGraph checks the value with ``read``
    (``interrupt``'s ``response_schema``) before it keeps it: one that ``read`` refuses with a ``DecisionError``
    fails the run with a ``ValidationError`` carrying that line, and nothing of it is kept, so the same checkpoint
    can be answered again by any client, ours or a LangGraph API client's. Clients see the protocol's JSON schema
    (``HITLResponse``) as the interrupt's ``response_schema``."""

    class HITLResponse(RootModel[ProtocolResponse]):
        @model_validator(mode="wrap")
        @classmethod
        def _read(cls, value: object, handler: ValidatorFunctionWrapHandler) -> Any:
            try:
                return read(value)
            except DecisionError as error:
                raise PydanticCustomError("decision", str(error)) from error

    return cast(T, interrupt(request, response_schema=HITLResponse))


def refused(error: object) -> bool:
    """Whether a task's error (the exception, or its text read back from a checkpoint) is a resume value that
    ``ask`` refused: LangGraph kept nothing of it, so the checkpoint still waits for an answer."""
    return re.match(r"\d+ validation errors? for HITLResponse\n", str(error)) is not None


def _decisions(response: object, expected: int) -> list[Any]:
    if not isinstance(response, Mapping) or not isinstance(response.get("decisions"), list):
        raise DecisionError('a resume value must be an HITLResponse: {"decisions": [...]}')
    decisions: list[Any] = response["decisions"]
    if len(decisions) != expected:
        raise DecisionError(f"got {len(decisions)} decisions for {expected} pending items; give one per item, in order")
    return decisions


def read_review(
    response: object, request: HITLRequest, *, reviewer: str, role: str
) -> list[ReviewDecision]:
    """The ``ReviewDecision`` for each pending item; ``DecisionError`` when the response does not fit."""
    actions = request["action_requests"]
    return [
        ReviewDecision.from_hitl(decision, action, reviewer=reviewer, role=role)
        for decision, action in zip(_decisions(response, len(actions)), actions, strict=True)
    ]


def clarification_request(question: str, missing: list[str]) -> HITLRequest:
    """The HITL request that asks the marketer a clarifying question (an ``ask_user`` action)."""
    return {
        "action_requests": [
            {"name": ASK_USER, "args": {"question": question, "missing": missing}, "description": question}
        ],
        "review_configs": [{"action_name": ASK_USER, "allowed_decisions": ["respond"]}],
    }


def read_clarification(response: object) -> str:
    """The marketer's answer from an HITL ``respond`` decision; ``DecisionError`` otherwise."""
    (decision,) = _decisions(response, 1)
    if not isinstance(decision, Mapping) or decision.get("type") != "respond":
        raise DecisionError("answer a clarifying question with a 'respond' decision carrying a 'message'")
    message = decision.get("message")
    if not isinstance(message, str) or not message.strip():
        raise DecisionError("the answer to the clarifying question is empty")
    return message.strip()


def budget_request(reason: str, limits: Budget) -> HITLRequest:
    """The HITL request that stops a brief before it goes over its budget (a ``raise_budget`` action whose args
    are the limits in force; an ``edit`` decision gives the new ones)."""
    return {
        "action_requests": [
            {"name": RAISE_BUDGET, "args": {"reason": reason, **limits.model_dump()}, "description": reason}
        ],
        "review_configs": [{"action_name": RAISE_BUDGET, "allowed_decisions": ["edit"]}],
    }


def read_budget(response: object, limits: Budget) -> Budget:
    """The raised budget from an HITL ``edit`` decision (limits it does not name stay); ``DecisionError``
    otherwise."""
    (decision,) = _decisions(response, 1)
    edited = decision.get("edited_action") if isinstance(decision, Mapping) else None
    if not isinstance(decision, Mapping) or decision.get("type") != "edit" or not isinstance(edited, Mapping) \
            or not isinstance(edited.get("args"), Mapping):
        raise DecisionError("raise the budget with an 'edit' decision whose edited_action.args set max_cost_usd, "
                            "max_gpu_seconds or max_revision_rounds")
    args = {name: value for name, value in edited["args"].items() if name != "reason"}
    try:
        return Budget.model_validate({**limits.model_dump(), **args})
    except ValidationError as error:
        raise DecisionError(f"budget: {validation_message(error)}") from error
