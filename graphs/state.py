"""The graph state: one TypedDict, a line per field, explicit reducers where branches write in parallel."""

from __future__ import annotations

import operator
from typing import Annotated, Any, NotRequired, TypeVar, cast

from langchain_core.messages import AnyMessage
from langgraph.graph.message import Messages, add_messages
from typing_extensions import TypedDict  # pydantic reads the graph's JSON schemas from it on Python < 3.12

from briefcraft.errors import BriefError
from briefcraft.schemas import (
    AuditEvent,
    BrandContext,
    BrandSnippet,
    Budget,
    Cited,
    ComplianceReport,
    CopyVariant,
    CreativeBrief,
    Finding,
    ImageAsset,
    LedgerHead,
    ReviewDecision,
    Subtask,
)

__all__ = ["CHECKPOINTED_TYPES", "BriefInput", "BriefState", "CopyTask", "VisualTask", "chat_messages", "upsert"]

_Item = TypeVar("_Item", CopyVariant, ImageAsset)


def upsert(left: list[_Item], right: list[_Item]) -> list[_Item]:
    """Merge by id: a new revision replaces the old one in place; new ids are appended."""
    merged = {item.id: item for item in left}
    merged.update((item.id, item) for item in right)
    return list(merged.values())


def chat_messages(left: Messages, right: Messages) -> list[AnyMessage]:
    """LangGraph's ``add_messages``, with what cannot be read as a chat message refused in one line (``BriefError``)
    instead of langchain's coercion error. LangGraph keeps a thread's input and replays it on every read of the
    thread, so the runner reports such a thread as failed with this line (``runner.status``)."""
    try:
        return cast("list[AnyMessage]", add_messages(left, right))  # a list of messages, given a list on the left
    except (ValueError, NotImplementedError) as error:
        raise BriefError(f"messages: {str(error).splitlines()[0]}; allowed: chat messages, e.g. "
                         "{'type': 'human', 'content': 'the brief'}") from error


class BriefState(TypedDict, total=False):
    """Everything a brief's thread knows, from the chat text to the exported pack."""

    request: str
    """The marketer's brief as typed, with each clarification answer appended."""
    messages: Annotated[list[AnyMessage], chat_messages]
    """The brief as a chat client (Agent Chat UI) shows it: a human message may start it in place of ``request``,
    and the graph replies with what it read and where the pack went."""
    brand_id: str
    """Brand memory scope of the brief (the settings' ``brand`` when none is given)."""
    brief: CreativeBrief
    """The structured brief, from intake or given directly by a library user."""
    limits: Budget
    """What generating the brief may spend (from the start, a structured brief's ``limits``, or a raise)."""
    missing: list[str]
    """Essentials intake could not find ('product', 'channels'); empty once the brief is complete."""
    brand: BrandContext
    """What brand memory recalled for the brief."""
    subtasks: list[Subtask]
    """The planner's copy and visual subtasks."""
    copy: Annotated[list[CopyVariant], upsert]
    """Latest revision of every copy variant."""
    images: Annotated[list[ImageAsset], upsert]
    """Latest revision of every preview image."""
    finals: Annotated[list[ImageAsset], upsert]
    """Final renders of approved previews, one per channel size."""
    compliance: ComplianceReport
    """Findings on the latest revisions."""
    autofix: list[str]
    """Copy ids the last compliance check sent back to the copywriter to fix its errors."""
    autofixed: Annotated[list[str], operator.add]
    """Copy ids that have had their one automatic fixing round."""
    decisions: Annotated[list[ReviewDecision], operator.add]
    """Every human decision, in order; approval is read from these, never stored beside them."""
    audit: Annotated[list[AuditEvent], operator.add]
    """The audit events: model calls, renders, human decisions, the export (the ledger file chains them)."""
    ledger: LedgerHead
    """How far the thread's ledger file goes (entries and last hash): a shorter or rewritten file is caught."""
    out_dir: str
    """Folder the pack goes to: given at start or resume, or set by export to DATA_DIR/packs/THREAD_ID."""
    manifest: dict[str, Any]
    """The exported pack's manifest, once exported."""


class BriefInput(TypedDict, total=False):
    """What starts a brief (the graph's input schema: the form LangGraph Studio shows, the schema the LangGraph API
    publishes): the brief as text, a chat client's messages or a structured brief, and where it goes. The graph
    ignores any other key; the rest of ``BriefState`` is the graph's own work."""

    request: str
    """The brief as text."""
    messages: Annotated[list[AnyMessage], chat_messages]
    """A chat client's messages: the last human one is the brief, when ``request`` is not given."""
    brief: CreativeBrief
    """A structured brief, read as it is (no intake model call)."""
    brand_id: str
    """The brand (default: the settings' ``brand``)."""
    limits: Budget
    """What generating may spend (default: a structured brief's own ``limits``)."""
    out_dir: str
    """Where the pack goes (default: DATA_DIR/packs/THREAD_ID)."""


class CopyTask(TypedDict):
    """What one ``write_copy`` branch receives through ``Send``."""

    subtask: Subtask
    brief: CreativeBrief
    brand: BrandContext
    previous: CopyVariant | None
    autofix: NotRequired[bool]
    """Whether the rewrite answers the checks' errors (not a reviewer): one that leaves no fewer rule errors than
    ``previous`` is discarded and ``previous`` goes to review."""


class VisualTask(TypedDict):
    """What one ``make_visual`` branch receives through ``Send``."""

    subtask: Subtask
    brief: CreativeBrief
    brand: BrandContext


#: The classes checkpoints hold; LangGraph deserializes only registered classes (``with_allowlist``).
CHECKPOINTED_TYPES = (
    AuditEvent, BrandContext, BrandSnippet, Budget, Cited, ComplianceReport, CopyVariant, CreativeBrief, Finding,
    ImageAsset, LedgerHead, ReviewDecision, Subtask,
)
