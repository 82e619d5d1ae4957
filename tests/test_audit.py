"""The hash-chained audit ledger: appends are idempotent, and every kind of tampering is caught; what failed steps
paid for is kept until the audit holds it."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from briefcraft.agents.art_director import in_threads
from briefcraft.agents.spend import collecting, noted
from briefcraft.errors import AuditError
from briefcraft.schemas import AuditEvent, CopyVariant, LedgerHead
from briefcraft.tools.audit import GENESIS, FailedSpend, Ledger, chain, idempotency_key, item_hash, ledger_path

AT = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)


def _events(n: int) -> list[AuditEvent]:
    return [AuditEvent(kind="model_call", node=f"node{i}", at=AT, model="m", output_tokens=i) for i in range(n)]


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines(keepends=True)


def test_sync_appends_only_what_is_new(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "t.jsonl")
    events = _events(5)
    first = ledger.sync(events[:3])
    assert first.count == 3
    assert ledger.sync(events[:3]) == first  # idempotent: a re-run node syncs the same events again
    head = ledger.sync(events)
    entries = chain(events)
    assert head == LedgerHead(count=5, hash=entries[-1].hash)
    assert [json.loads(line)["hash"] for line in _lines(ledger.path)] == [e.hash for e in entries]
    assert entries[0].prev == GENESIS and entries[1].prev == entries[0].hash
    check = ledger.verify(head=head, events=events)
    assert check.valid and check.entries == 5 and check.problem is None


def test_an_edited_entry_is_caught(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "t.jsonl")
    ledger.sync(_events(3))
    lines = _lines(ledger.path)
    lines[1] = lines[1].replace('"output_tokens":1', '"output_tokens":9')
    ledger.path.write_text("".join(lines))
    check = ledger.verify()
    assert not check.valid
    assert check.problem == f"{ledger.path} line 2: its content does not match its hash; the entry was edited"
    with pytest.raises(AuditError, match="the entry was edited"):
        ledger.sync(_events(4))


def test_a_removed_entry_is_caught(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "t.jsonl")
    ledger.sync(_events(3))
    lines = _lines(ledger.path)
    ledger.path.write_text(lines[0] + lines[2])
    problem = ledger.verify().problem
    assert problem == f"{ledger.path} line 2: entry 2 is out of order (expected 1); entries were removed or moved"


def test_a_cut_off_tail_is_caught_by_the_recorded_head(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "t.jsonl")
    head = ledger.sync(_events(3))
    ledger.path.write_text("".join(_lines(ledger.path)[:2]))
    assert ledger.verify().valid  # the chain alone cannot see a shorter file...
    check = ledger.verify(head=head)  # ...the checkpoint's head can
    assert not check.valid and check.problem is not None and "entries were cut off or rewritten" in check.problem


def test_a_rewritten_chain_is_caught_by_the_head_and_the_events(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "t.jsonl")
    events = _events(3)
    head = ledger.sync(events)
    forged = [*events[:2], events[2].model_copy(update={"output_tokens": 99})]
    ledger.path.write_text("".join(e.model_dump_json() + "\n" for e in chain(forged)))
    assert ledger.verify().valid
    assert not ledger.verify(head=head).valid
    assert ledger.verify(events=events).problem == "entry 2 differs from the thread's event 2"


def test_a_ledger_longer_than_the_thread_is_refused(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "t.jsonl")
    ledger.sync(_events(3))
    with pytest.raises(AuditError, match="holds 3 entries but the thread has 2 events"):
        ledger.sync(_events(2))


def test_a_missing_ledger_verifies_only_for_a_thread_that_has_not_written_one(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "none.jsonl")
    problem = f"{tmp_path / 'none.jsonl'} does not exist"
    assert ledger.verify().problem == problem
    assert ledger.verify(head=LedgerHead(count=2, hash="a" * 64), events=_events(2)).problem == problem
    young = ledger.verify(head=None, events=_events(1))  # waiting at the clarifying question: nothing written yet
    assert (young.valid, young.entries) == (True, 0)


def test_item_hash_names_the_exact_revision() -> None:
    copy = CopyVariant(id="c1", channel="email", fields={"subject": ["Hi"]})
    assert item_hash(copy) == item_hash(CopyVariant(id="c1", channel="email", fields={"subject": ["Hi"]}))
    assert item_hash(copy) != item_hash(copy.model_copy(update={"revision": 1}))
    assert len(item_hash(copy)) == 64


def test_ledger_paths_are_safe_file_names(tmp_path: Path) -> None:
    assert ledger_path(tmp_path, "demo-1") == tmp_path / "demo-1.jsonl"
    hashed = ledger_path(tmp_path, "../../etc/passwd")
    assert hashed.parent == tmp_path and len(hashed.stem) == 64


def test_failed_steps_calls_are_kept_each_failure_with_keys_of_its_own(tmp_path: Path) -> None:
    kept = FailedSpend(tmp_path, "t1")
    assert kept.unrecorded([]) == []  # nothing failed yet: no file
    kept.add("write_copy:abc", _events(2), "StructuredOutputError: no valid copy")
    kept.add("write_copy:abc", _events(1), "ProviderError: failed 4 time(s)")  # the same task, failing again
    held = kept.unrecorded([])
    assert [e.comment for e in held] == ["in a step that failed: StructuredOutputError: no valid copy"] * 2 + [
        "in a step that failed: ProviderError: failed 4 time(s)"]
    assert [e.idempotency_key for e in held] == [
        idempotency_key("t1", "write_copy:abc#failed-0", 0), idempotency_key("t1", "write_copy:abc#failed-0", 1),
        idempotency_key("t1", "write_copy:abc#failed-2", 0)]
    assert [e.model_copy(update={"comment": None, "idempotency_key": None}) for e in held] == [*_events(2), *_events(1)]
    assert kept.unrecorded([held[1], *_events(3)]) == [held[0], held[2]]  # what the audit holds is not given again
    assert kept.path == tmp_path / "failed-steps" / "t1.jsonl"
    assert FailedSpend(tmp_path, "t2").unrecorded([]) == []  # per thread


def test_a_write_cut_short_is_dropped_and_a_bad_line_is_named(tmp_path: Path) -> None:
    kept = FailedSpend(tmp_path, "t1")
    kept.add("n:1", _events(1), "E")
    whole = kept.path.read_bytes()
    kept.path.write_bytes(whole + whole[:40])  # a crash in the middle of the next write
    assert len(kept.unrecorded([])) == 1
    kept.add("n:2", _events(1), "F")  # the torn tail is cut before the next line goes on
    assert [e.comment for e in kept.unrecorded([])] == ["in a step that failed: E", "in a step that failed: F"]
    kept.path.write_text(kept.path.read_text() + "{}\n")
    with pytest.raises(AuditError, match=r"^.*t1\.jsonl line 3 is not an audit event: "):
        kept.unrecorded([])


def test_paid_calls_are_collected_in_the_step_and_its_threads() -> None:
    events = _events(4)
    assert noted(events[0]) is events[0]  # outside a step: nothing collects it
    with collecting() as spent:
        noted(events[1])
        in_threads(noted, events[2:])  # finals are rendered in threads: still this step's calls
        with collecting() as inner:
            noted(events[0])
    assert spent[0] == events[1] and inner == events[:1]
    assert sorted(spent[1:], key=lambda e: e.node) == events[2:]  # the threads' order is theirs
