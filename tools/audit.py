"""The audit ledger: append-only, hash-chained JSONL, one file per thread.

Each entry carries the hash of the one before it, so editing, reordering or deleting an entry breaks the chain;
the thread's checkpoint keeps the head (entry count and last hash), so cutting entries off the end is caught too.
The graph only ever writes events its checkpoint already holds, which makes the file a prefix of the thread's
``audit`` list: anything else in the file is tampering.

A step that fails commits nothing to the thread's state, so the calls it paid for before failing would go unbilled;
``FailedSpend`` keeps them in a file of their own until a later step records them in the audit.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from pydantic import BaseModel, ValidationError

from briefcraft.errors import AuditError
from briefcraft.schemas import AuditEvent, LedgerEntry, LedgerHead, validation_message

__all__ = [
    "GENESIS", "THREAD_ID", "FailedSpend", "Ledger", "LedgerCheck", "chain", "idempotency_key", "item_hash",
    "ledger_path",
]

#: The ``prev`` of the first entry.
GENESIS = "0" * 64
#: Thread ids that are safe as file and folder names (ledgers, packs): what new threads must use.
THREAD_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


def ledger_path(folder: Path, thread_id: str) -> Path:
    """The ledger file of ``thread_id`` in ``folder``; ids that are not safe file names are hashed."""
    safe = THREAD_ID.fullmatch(thread_id)
    return folder / f"{thread_id if safe else hashlib.sha256(thread_id.encode()).hexdigest()}.jsonl"


def _canonical(data: object) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def item_hash(item: BaseModel) -> str:
    """SHA-256 of an item's canonical JSON: what a human decision approved, byte for byte."""
    return hashlib.sha256(_canonical(item.model_dump(mode="json"))).hexdigest()


def idempotency_key(thread_id: str, task: str, index: int) -> str:
    """The key of the ``index``-th event a graph task records: the same each time the task re-runs (after a crash, a
    failure or a resume), different for every other call. ``task`` is LangGraph's ``checkpoint_ns`` of the task
    (``node:task_id``), which LangGraph derives from the checkpoint the step started from."""
    return hashlib.sha256(_canonical([thread_id, task, index])).hexdigest()[:32]


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """``path``'s writers one at a time, across threads and processes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with (path.parent / f".{path.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _append(path: Path, lines: Sequence[str]) -> None:
    """Append ``lines`` and make them durable before returning (the caller holds the lock)."""
    with path.open("a", encoding="utf-8") as out:
        out.writelines(line + "\n" for line in lines)
        out.flush()
        os.fsync(out.fileno())


def _entry_hash(seq: int, prev: str, event: AuditEvent) -> str:
    return hashlib.sha256(_canonical({"seq": seq, "prev": prev, "event": event.model_dump(mode="json")})).hexdigest()


def chain(events: Sequence[AuditEvent], *, after: LedgerHead | None = None) -> list[LedgerEntry]:
    """The ledger entries of ``events``, continuing the chain after ``after`` (from the start when None)."""
    seq, prev = (after.count, after.hash) if after else (0, GENESIS)
    entries: list[LedgerEntry] = []
    for event in events:
        digest = _entry_hash(seq, prev, event)
        entries.append(LedgerEntry(seq=seq, prev=prev, hash=digest, event=event))
        seq, prev = seq + 1, digest
    return entries


class LedgerCheck(BaseModel):
    """The result of verifying a ledger: valid or not, and the first problem found."""

    path: str
    valid: bool
    entries: int
    head: str
    problem: str | None = None


class Ledger:
    """One thread's ledger file."""

    def __init__(self, path: Path):
        self.path = path

    def _read(self) -> list[LedgerEntry]:
        """Every entry, chain-checked; ``AuditError`` naming the first broken line."""
        if not self.path.exists():
            return []
        entries: list[LedgerEntry] = []
        prev = GENESIS
        with self.path.open(encoding="utf-8") as lines:
            for number, line in enumerate(lines, 1):
                where = f"{self.path} line {number}"
                try:
                    entry = LedgerEntry.model_validate_json(line)
                except ValidationError as error:
                    raise AuditError(f"{where} is not a ledger entry: {validation_message(error)}") from error
                if entry.seq != number - 1:
                    raise AuditError(f"{where}: entry {entry.seq} is out of order (expected {number - 1}); "
                                     "entries were removed or moved")
                if entry.prev != prev:
                    raise AuditError(f"{where}: does not follow the entry before it; an entry was removed or moved")
                if _entry_hash(entry.seq, entry.prev, entry.event) != entry.hash:
                    raise AuditError(f"{where}: its content does not match its hash; the entry was edited")
                entries.append(entry)
                prev = entry.hash
        return entries

    def sync(self, events: Sequence[AuditEvent]) -> LedgerHead:
        """Append the events the file does not hold yet; the file must hold the others, unchanged, in order."""
        with _locked(self.path):
            held = self._read()
            if len(held) > len(events):
                raise AuditError(f"{self.path} holds {len(held)} entries but the thread has {len(events)} events; "
                                 "the ledger belongs to another thread or was written to by hand")
            expected = chain(events[: len(held)])
            for mine, theirs in zip(expected, held, strict=True):
                if mine.hash != theirs.hash:
                    raise AuditError(f"{self.path} entry {theirs.seq} differs from the thread's event "
                                     f"{theirs.seq}; the ledger was edited")
            head = LedgerHead(count=len(held), hash=held[-1].hash if held else GENESIS)
            new = chain(events[len(held):], after=head)
            if new:
                _append(self.path, [entry.model_dump_json() for entry in new])
                head = LedgerHead(count=new[-1].seq + 1, hash=new[-1].hash)
            return head

    def verify(self, *, head: LedgerHead | None = None, events: Sequence[AuditEvent] | None = None) -> LedgerCheck:
        """Check the chain, and against the thread's recorded ``head`` and ``events`` where they are given."""
        try:
            held = self._read()
        except AuditError as error:
            return LedgerCheck(path=str(self.path), valid=False, entries=0, head=GENESIS, problem=str(error))
        last = held[-1].hash if held else GENESIS
        result = LedgerCheck(path=str(self.path), valid=True, entries=len(held), head=last)
        if not self.path.exists() and (head is None or head.count == 0) and events is not None:
            return result  # a thread that has not reached a step that writes its ledger yet
        if not self.path.exists():
            return result.model_copy(update={"valid": False, "problem": f"{self.path} does not exist"})
        if head is not None and (head.count > len(held) or (head.count and held[head.count - 1].hash != head.hash)):
            return result.model_copy(update={
                "valid": False,
                "problem": f"the thread's checkpoint records {head.count} entries ending in {head.hash[:12]}; "
                f"the file has {len(held)} ending in {last[:12]}: entries were cut off or rewritten",
            })
        if events is not None:
            for mine, theirs in zip(chain(events), held, strict=False):
                if mine.hash != theirs.hash:
                    return result.model_copy(update={
                        "valid": False, "problem": f"entry {theirs.seq} differs from the thread's event {theirs.seq}",
                    })
        return result


class FailedSpend:
    """The paid calls (model calls, renders) of one thread's failed steps, one JSON event per line.

    A failed step's state update is dropped, its calls with it; ``add`` keeps them here, each with an idempotency key
    of its own, and the graph's next steps put the ones the thread's audit does not hold yet (``unrecorded``) into it.
    """

    def __init__(self, folder: Path, thread_id: str):
        self.thread_id = thread_id
        self.path = ledger_path(folder / "failed-steps", thread_id)

    def _read(self) -> list[AuditEvent]:
        if not self.path.exists():
            return []
        events: list[AuditEvent] = []
        for number, line in enumerate(self.path.read_text(encoding="utf-8").splitlines(keepends=True), 1):
            if not line.endswith("\n"):
                break  # the tail of a write a crash cut short: those calls are lost, as a killed step's are
            try:
                events.append(AuditEvent.model_validate_json(line))
            except ValidationError as error:
                raise AuditError(f"{self.path} line {number} is not an audit event: {validation_message(error)}"
                                 ) from error
        return events

    def add(self, task: str, events: Sequence[AuditEvent], error: str) -> None:
        """Keep the calls a failed run of ``task`` (LangGraph's ``checkpoint_ns``) paid for, noting its ``error``."""
        with _locked(self.path):
            _truncate_torn_tail(self.path)
            tried = f"{task}#failed-{len(self._read())}"  # a second failure of the same task gets keys of its own
            _append(self.path, [event.model_copy(update={
                "idempotency_key": idempotency_key(self.thread_id, tried, index),
                "comment": f"in a step that failed: {error}",
            }).model_dump_json() for index, event in enumerate(events)])

    def unrecorded(self, audit: Sequence[AuditEvent]) -> list[AuditEvent]:
        """The kept calls ``audit`` does not hold yet, oldest first."""
        recorded = {event.idempotency_key for event in audit if event.idempotency_key}
        return [event for event in self._read() if event.idempotency_key not in recorded]


def _truncate_torn_tail(path: Path) -> None:
    """Cut an unfinished last line (a crash in the middle of a write) so the next line starts on its own."""
    if not path.exists():
        return
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        with path.open("r+b") as out:
            out.truncate(data.rfind(b"\n") + 1)
