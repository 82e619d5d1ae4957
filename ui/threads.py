"""The studio's thread registry: who started which thread, for which brand, and who may see it.

The graph's checkpoints hold everything about a thread's run; this small SQLite table in the data dir adds what
the studio needs to list and guard threads, so both survive a server restart.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from briefcraft.errors import ThreadError
from briefcraft.graphs.runner import ThreadInfo

__all__ = ["ThreadRecord", "ThreadRegistry", "Viewer"]

Role = Literal["marketer", "approver", "admin"]


@dataclass(frozen=True)
class Viewer:
    """The logged-in user and their role."""

    name: str
    role: Role

    @property
    def decides(self) -> bool:
        """Whether the user may submit review decisions."""
        return self.role in ("approver", "admin")

    @property
    def sees_all(self) -> bool:
        """Whether the user sees every thread (approvers and admins) or only their own (marketers)."""
        return self.role in ("approver", "admin")


class ThreadRecord(BaseModel):
    """A studio thread: its id, who started it, the brand, a title from the brief, and when."""

    thread_id: str
    owner: str
    brand: str
    title: str
    created: datetime


class ThreadRegistry:
    """The threads table in ``path`` (one short connection per call, so Gradio's worker threads can share it)."""

    def __init__(self, path: Path):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute("CREATE TABLE IF NOT EXISTS threads (thread_id TEXT PRIMARY KEY, owner TEXT NOT NULL, "
                       "brand TEXT NOT NULL, title TEXT NOT NULL, created TEXT NOT NULL)")

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        with closing(sqlite3.connect(self.path, timeout=10)) as db, db:
            yield db

    def add(self, thread_id: str, *, owner: str, brand: str, title: str) -> ThreadRecord:
        """Record a new thread, created now."""
        record = ThreadRecord(thread_id=thread_id, owner=owner, brand=brand, title=title, created=datetime.now(UTC))
        with self._connect() as db:
            db.execute("INSERT INTO threads VALUES (?, ?, ?, ?, ?)",
                       (thread_id, owner, brand, title, record.created.isoformat()))
        return record

    def adopt(self, found: Iterable[ThreadInfo], *, title: Callable[[str], str]) -> None:
        """Record the threads started outside the studio (the CLI, the library) that the table lacks: owned by
        whoever started them (``unknown`` where the run named nobody), titled ``title(first line of the brief)``."""
        with self._connect() as db:
            db.executemany("INSERT OR IGNORE INTO threads VALUES (?, ?, ?, ?, ?)", [
                (info.thread_id, info.user or "unknown", info.brand, title(info.title), info.started.isoformat())
                for info in found
            ])

    def visible_to(self, viewer: Viewer) -> list[ThreadRecord]:
        """The threads ``viewer`` may see, newest first."""
        query = "SELECT * FROM threads" + ("" if viewer.sees_all else " WHERE owner = ?")
        with self._connect() as db:
            rows = db.execute(query + " ORDER BY created DESC", () if viewer.sees_all else (viewer.name,))
            return [ThreadRecord(thread_id=r[0], owner=r[1], brand=r[2], title=r[3], created=r[4]) for r in rows]

    def open(self, viewer: Viewer, thread_id: str | None) -> ThreadRecord:
        """The thread, when ``viewer`` may see it; ``ThreadError`` otherwise (the same line whether it exists or
        belongs to someone else, so ids of other people's threads cannot be probed)."""
        if not thread_id:
            raise ThreadError("choose a thread first")
        with self._connect() as db:
            row = db.execute("SELECT * FROM threads WHERE thread_id = ?", (thread_id,)).fetchone()
        if row is None or not (viewer.sees_all or row[1] == viewer.name):
            raise ThreadError(f"no thread {thread_id!r} among {viewer.name}'s threads")
        return ThreadRecord(thread_id=row[0], owner=row[1], brand=row[2], title=row[3], created=row[4])
