"""What a graph step has paid for so far (model calls, renders), so that a step that fails can still bill it.

LangGraph drops a failed step's state update, and with it the audit events of the calls the step made before it
failed. The graph runs each step inside ``collecting()``; every paid call is ``noted`` the moment it returns, and when
the step fails the graph keeps what was collected (``tools.audit.FailedSpend``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from briefcraft.schemas import AuditEvent

__all__ = ["collecting", "noted"]

_SPENT: ContextVar[list[AuditEvent] | None] = ContextVar("briefcraft_spent", default=None)


@contextmanager
def collecting() -> Iterator[list[AuditEvent]]:
    """Within the block, the list of every paid call ``noted`` (in this context and in contexts copied from it)."""
    spent: list[AuditEvent] = []
    token = _SPENT.set(spent)
    try:
        yield spent
    finally:
        _SPENT.reset(token)


def noted(event: AuditEvent) -> AuditEvent:
    """``event`` (a paid call), added to the list being collected, if any."""
    if (spent := _SPENT.get()) is not None:
        spent.append(event)  # list.append is atomic: threads started with a copy of the context share the list
    return event
