"""Running brief threads: start, resume with decisions, and read a thread's status.

The CLI and the UI go through these functions. Resume values are checked against the pending
checkpoint *before* the graph sees them, so a malformed decision leaves the thread exactly as it was.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from langchain_core.runnables import RunnableConfig
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Command
from pydantic import BaseModel

from briefcraft.agents.intake import check_request
from briefcraft.errors import DecisionError, ThreadError
from briefcraft.graphs.review import read_clarification, read_review
from briefcraft.schemas import ASK_USER, AuditEvent, CreativeBrief, LedgerHead

__all__ = ["RunStatus", "approve_all", "audit_record", "check_response", "resume", "start", "status"]

Stage = Literal["waiting_for_clarification", "waiting_for_approval", "done", "failed", "interrupted"]


class RunStatus(BaseModel):
    """Where a thread stands, and what it waits for."""

    thread_id: str
    stage: Stage
    request: dict[str, Any] | None = None
    """The pending HITL request (clarifying question or items under review)."""
    pack: str | None = None
    """The exported pack's folder, once done."""
    compliance: dict[str, Any] | None = None
    """The exported pack's compliance summary (status, brand score, per item), once done."""
    error: str | None = None

    @property
    def waiting(self) -> bool:
        """Whether the thread waits for a human."""
        return self.stage in ("waiting_for_clarification", "waiting_for_approval")

    @property
    def question(self) -> str | None:
        """The clarifying question, while one is pending."""
        if self.stage != "waiting_for_clarification" or self.request is None:
            return None
        return str(self.request["action_requests"][0]["args"]["question"])

    @property
    def items(self) -> list[dict[str, Any]]:
        """The action requests under review (empty unless waiting for approval)."""
        return list(self.request["action_requests"]) if self.stage == "waiting_for_approval" and self.request else []


def _config(thread_id: str, user: str | None, role: str) -> RunnableConfig:
    configurable: dict[str, Any] = {"thread_id": thread_id, "user_role": role}
    if user:
        configurable["user_id"] = user
    return {"configurable": configurable}


def status(graph: CompiledStateGraph[Any, Any, Any, Any], thread_id: str) -> RunStatus:
    """The status of ``thread_id``; ``ThreadError`` when no such thread exists."""
    snapshot = graph.get_state({"configurable": {"thread_id": thread_id}})
    if snapshot.created_at is None:
        raise ThreadError(f"unknown thread {thread_id!r}; start one with 'briefcraft run'")
    if snapshot.interrupts:
        request = snapshot.interrupts[0].value
        asking = request["action_requests"][0]["name"] == ASK_USER
        return RunStatus(
            thread_id=thread_id, stage="waiting_for_clarification" if asking else "waiting_for_approval",
            request=request,
        )
    errors = [task.error for task in snapshot.tasks if task.error]
    if errors:
        return RunStatus(thread_id=thread_id, stage="failed", error=str(errors[0]))
    if snapshot.next:
        return RunStatus(thread_id=thread_id, stage="interrupted")
    manifest = snapshot.values.get("manifest")
    return RunStatus(thread_id=thread_id, stage="done", pack=snapshot.values["out_dir"] if manifest else None,
                     compliance=manifest.get("compliance") if manifest else None)


def audit_record(graph: CompiledStateGraph[Any, Any, Any, Any], thread_id: str
                 ) -> tuple[LedgerHead | None, list[AuditEvent]]:
    """What the thread's checkpoint says about its ledger: the head it reached and every audit event."""
    snapshot = graph.get_state({"configurable": {"thread_id": thread_id}})
    if snapshot.created_at is None:
        raise ThreadError(f"unknown thread {thread_id!r}; start one with 'briefcraft run'")
    return snapshot.values.get("ledger"), list(snapshot.values.get("audit", []))


def start(
    graph: CompiledStateGraph[Any, Any, Any, Any],
    brief: str | CreativeBrief,
    *,
    thread_id: str,
    max_brief_chars: int,
    out_dir: str | None = None,
    brand: str = "default",
    user: str | None = None,
    role: str = "approver",
) -> RunStatus:
    """Start a thread on chat text or a structured brief; runs until the first checkpoint or the end."""
    if graph.get_state({"configurable": {"thread_id": thread_id}}).created_at is not None:
        raise ThreadError(f"thread {thread_id!r} already exists; use 'briefcraft resume {thread_id}'")
    state: dict[str, Any] = {"brand_id": brand}
    if isinstance(brief, CreativeBrief):
        state |= {"brief": brief, "request": brief.model_dump_json(), "brand_id": brief.brand}
    else:
        state["request"] = check_request(brief, max_brief_chars)
    if out_dir:
        state["out_dir"] = out_dir
    graph.invoke(state, _config(thread_id, user, role), durability="sync")
    return status(graph, thread_id)


def check_response(current: RunStatus, response: object) -> None:
    """``DecisionError`` unless ``response`` answers the thread's pending checkpoint."""
    if current.request is None:
        raise ThreadError(f"thread {current.thread_id!r} is not waiting for a decision")
    if current.stage == "waiting_for_clarification":
        read_clarification(response)
    else:
        read_review(response, current.request, reviewer="check", role="check")  # type: ignore[arg-type]


def resume(
    graph: CompiledStateGraph[Any, Any, Any, Any],
    thread_id: str,
    response: Mapping[str, Any] | None,
    *,
    user: str | None = None,
    role: str = "approver",
    out_dir: str | None = None,
) -> RunStatus:
    """Resume a thread: with an HITL response when it waits for one, or with nothing to retry a failed
    or interrupted step; ``out_dir`` changes where the pack goes. ``ThreadError`` for finished threads,
    ``DecisionError`` for responses that do not fit the pending checkpoint (the thread is left untouched)."""
    current = status(graph, thread_id)
    if current.stage == "done":
        raise ThreadError(f"thread {thread_id!r} is done; nothing to resume (pack: {current.pack})")
    if current.waiting:
        if response is None:
            raise DecisionError(f"thread {thread_id!r} is {current.stage.replace('_', ' ')}; give decisions")
        check_response(current, response)
        update = {"out_dir": out_dir} if out_dir else None
        graph.invoke(Command(resume=dict(response), update=update), _config(thread_id, user, role), durability="sync")
    else:
        if response is not None:
            raise DecisionError(f"thread {thread_id!r} is {current.stage}, not waiting for decisions")
        if out_dir:
            raise DecisionError(f"thread {thread_id!r} is {current.stage}: --out is taken only at a checkpoint")
        graph.invoke(None, _config(thread_id, user, role), durability="sync")
    return status(graph, thread_id)


def approve_all(current: RunStatus) -> dict[str, Any]:
    """The HITL response approving every pending item."""
    return {"decisions": [{"type": "approve"} for _ in current.items]}
