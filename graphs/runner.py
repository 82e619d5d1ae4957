"""Running brief threads: start, resume with decisions, and read a thread's status.

The CLI and the UI go through these functions. Resume values are checked against the pending
checkpoint *before* the graph sees them, so a malformed decision leaves the thread exactly as it was.

A run holds its thread (``claim``): a lock per thread in this process and a ``flock`` on a file beside the
checkpoint database, so two approvers (two studio sessions, two ``briefcraft resume`` processes) never apply
decisions to one checkpoint at once; a decision that names the checkpoint it answers (``RunStatus.checkpoint``)
is refused once another decision moved the thread on. Within ``stop_on_sigterm()``, SIGTERM stops every run of
the process between two steps: the last step's checkpoint holds the thread, which resumes from there.
"""

from __future__ import annotations

import ast
import fcntl
import hashlib
import os
import re
import signal
import threading
import time
from collections.abc import Generator, Iterator, Mapping
from contextlib import closing, contextmanager
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Literal, cast

from langchain_core.messages import HumanMessage
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Command
from pydantic import BaseModel

from briefcraft.agents.intake import brief_line, check_request
from briefcraft.errors import BriefError, DecisionError, ThreadError
from briefcraft.graphs.review import BUDGET_GATES, read_budget, read_clarification, read_review, refused
from briefcraft.graphs.state import chat_messages
from briefcraft.pricing import CostSummary, summarize
from briefcraft.schemas import (
    ASK_USER,
    RAISE_BUDGET,
    AuditEvent,
    BrandContext,
    Budget,
    ComplianceReport,
    CreativeBrief,
    ImageAsset,
    ReviewDecision,
    Subtask,
    brand_key,
)
from briefcraft.tools.audit import THREAD_ID, FailedSpend, Ledger, LedgerCheck, ledger_path

__all__ = [
    "RunStatus",
    "StepUpdate",
    "ThreadClaim",
    "ThreadInfo",
    "approve_all",
    "check_response",
    "check_thread_id",
    "claim",
    "drain",
    "raise_budget",
    "resume",
    "resume_input",
    "running",
    "start",
    "start_input",
    "status",
    "stop_on_sigterm",
    "stream",
    "threads",
    "verify_ledger",
]

Stage = Literal["waiting_for_clarification", "waiting_for_approval", "waiting_for_budget", "done", "failed",
                "interrupted"]


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
    cost: CostSummary | None = None
    """What the thread's model and image calls have cost so far."""
    checkpoint: str | None = None
    """The checkpoint the thread stands at: a decision passes it back to ``resume`` so that it applies only there."""
    brief: CreativeBrief | None = None
    """The structured brief, once intake has read it (or as a library user gave it)."""
    brand_defaults: str | None = None
    """Why the brief's brand got the house defaults alone (brand memory holds nothing for it); None when it held
    something, or before the brand is recalled."""

    @property
    def waiting(self) -> bool:
        """Whether the thread waits for a human."""
        return self.stage in ("waiting_for_clarification", "waiting_for_approval", "waiting_for_budget")

    @property
    def input_refused(self) -> bool:
        """Whether the thread failed on what it was given (a ``BriefError``: a brief with an unknown channel, chat
        messages that are not messages): running it again repeats the error, unless a setting it names changes."""
        return self.stage == "failed" and (self.error or "").startswith(f"{BriefError.__name__}:")

    @property
    def budget_reason(self) -> str | None:
        """Why the thread stopped before going over its budget, while it waits for a higher one."""
        args = self._asking("waiting_for_budget")
        return str(args["reason"]) if args else None

    @property
    def limits(self) -> Budget | None:
        """The budget in force, while the thread waits for a higher one."""
        args = self._asking("waiting_for_budget")
        return Budget.model_validate({name: args[name] for name in Budget.model_fields}) if args else None

    def _asking(self, stage: Stage) -> dict[str, Any] | None:
        """The args of the pending action while the thread is at ``stage`` (a question or a budget stop)."""
        if self.stage != stage or self.request is None:
            return None
        return dict(self.request["action_requests"][0]["args"])

    @property
    def question(self) -> str | None:
        """The clarifying question, while one is pending."""
        args = self._asking("waiting_for_clarification")
        return str(args["question"]) if args else None

    @property
    def items(self) -> list[dict[str, Any]]:
        """The action requests under review (empty unless waiting for approval)."""
        return list(self.request["action_requests"]) if self.stage == "waiting_for_approval" and self.request else []


def _config(thread_id: str, user: str | None, role: str) -> RunnableConfig:
    configurable: dict[str, Any] = {"thread_id": thread_id, "user_role": role}
    if user:
        configurable["user_id"] = user
    return {"configurable": configurable}


# --- holding a thread, stopping on SIGTERM ---------------------------------------------------------------

_held: dict[str, str] = {}
"""The threads this process's runs hold, each with who runs it."""
_held_changed = threading.Condition()
_stop = threading.Event()
"""Set by SIGTERM within ``stop_on_sigterm()``: runs stop before their next step."""
_stopped: list[str] = []
"""The threads whose runs the stop request ended between two steps."""


def _lock_path(graph: CompiledStateGraph[Any, Any, Any, Any], thread_id: str) -> Path | None:
    """The lock file of ``thread_id``, in ``locks/`` beside the graph's SQLite checkpoint file (the data dir); None
    for checkpoints no other process shares (in memory)."""
    saver = graph.checkpointer
    if not isinstance(saver, SqliteSaver):
        return None
    with saver.lock:
        databases = saver.conn.execute("PRAGMA database_list").fetchall()
    file = next((row[2] for row in databases if row[1] == "main"), "")
    if not file:
        return None
    digest = hashlib.sha256(thread_id.encode()).hexdigest()[:32]  # thread ids are free text, never part of a path
    return Path(file).parent / "locks" / f"{digest}.lock"


def _busy(thread_id: str, holder: str) -> ThreadError:
    return ThreadError(f"thread {thread_id!r} is running ({holder}): another run or decision is being applied to it; "
                       "wait for it to finish, then reload and decide again")


class ThreadClaim:
    """A run's hold on its thread (``claim``); ``release()`` or the end of a ``with`` block lets it go."""

    def __init__(self, thread_id: str, file: IO[str] | None) -> None:
        self.thread_id = thread_id
        self._file = file
        self._held = True

    def release(self) -> None:
        """Let the thread go (closing the lock file drops its flock); a second call does nothing."""
        if not self._held:
            return
        self._held = False
        if self._file is not None:
            self._file.truncate(0)  # so a process that finds the next holder's lock never reads this holder's name
            self._file.close()
        with _held_changed:
            del _held[self.thread_id]
            _held_changed.notify_all()

    def __enter__(self) -> ThreadClaim:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.release()


def claim(graph: CompiledStateGraph[Any, Any, Any, Any], thread_id: str, *, user: str | None = None) -> ThreadClaim:
    """Hold ``thread_id`` for one run: against this process's other runs (the studio's sessions) and, through a
    non-blocking ``flock``, against other processes on the same data dir; ``ThreadError`` naming who runs it."""
    who = f"{user or 'anonymous'}, pid {os.getpid()}"
    with _held_changed:
        if thread_id in _held:
            raise _busy(thread_id, _held[thread_id])
        _held[thread_id] = who
    file: IO[str] | None = None
    try:
        if path := _lock_path(graph, thread_id):
            path.parent.mkdir(parents=True, exist_ok=True)
            file = path.open("a+", encoding="utf-8")
            try:
                fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                file.seek(0)
                holder = file.read().strip() or "in another process"
                raise _busy(thread_id, holder) from None
            file.truncate(0)
            file.write(who)  # for the message the next process that finds the lock taken shows
            file.flush()
    except BaseException:
        if file is not None:
            file.close()
        with _held_changed:
            del _held[thread_id]
            _held_changed.notify_all()
        raise
    return ThreadClaim(thread_id, file)


def running() -> dict[str, str]:
    """The threads this process's runs hold now, each with who runs it."""
    with _held_changed:
        return dict(_held)


def drain() -> list[str]:
    """Wait until no run of this process holds a thread (after SIGTERM each stops before its next step); the
    threads the stop request ended between two steps (each resumable), oldest first."""
    with _held_changed:
        _held_changed.wait_for(lambda: not _held)
        return list(_stopped)


@contextmanager
def stop_on_sigterm() -> Iterator[threading.Event]:
    """Within the block, SIGTERM stops every run of this process before its next step, leaving each thread at the
    checkpoint of the step it finished (resumable); yields the event SIGTERM sets. Enter it on the main thread."""
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: _stop.set())
    try:
        yield _stop
    finally:
        signal.signal(signal.SIGTERM, previous)
        _stop.clear()
        with _held_changed:
            _stopped.clear()


def status(graph: CompiledStateGraph[Any, Any, Any, Any], thread_id: str, *, audit_dir: Path | None = None
           ) -> RunStatus:
    """The status of ``thread_id``; ``ThreadError`` when no such thread exists. With the data dir's ``audit_dir``,
    its cost also counts what failed steps paid for that the audit does not hold yet (``tools.audit.FailedSpend``)."""
    try:
        snapshot = graph.get_state({"configurable": {"thread_id": thread_id}})
    except BriefError as error:  # an input the state refuses (``state.chat_messages``): every read replays it
        return RunStatus(stage="failed", thread_id=thread_id, error=_error_line(error))
    if snapshot.created_at is None:
        raise ThreadError(f"unknown thread {thread_id!r}; start one with 'briefcraft run'")
    audit = snapshot.values.get("audit", [])
    failed = FailedSpend(audit_dir, thread_id).unrecorded(audit) if audit_dir is not None else []
    cost = summarize([*audit, *failed])
    brief = snapshot.values.get("brief")  # JSON from an API client until intake reads it (or refuses it)
    brand = snapshot.values.get("brand")
    known: dict[str, Any] = {"thread_id": thread_id, "cost": cost,
                             "checkpoint": snapshot.config["configurable"]["checkpoint_id"],
                             "brief": brief if isinstance(brief, CreativeBrief) else None,
                             "brand_defaults": brand.citations[0] if isinstance(brand, BrandContext) and
                             not brand.remembered else None}
    # A refused resume value leaves its error beside the interrupt it answered, which still waits; any other error
    # comes before the interrupts (a node that failed after its pause leaves both, and a retry goes on from there).
    errors = [task.error for task in snapshot.tasks if task.error and not refused(task.error)]
    if errors:
        return RunStatus(stage="failed", error=_error_line(errors[0]), **known)
    if snapshot.interrupts:
        request = snapshot.interrupts[0].value
        stages: dict[str, Stage] = {ASK_USER: "waiting_for_clarification", RAISE_BUDGET: "waiting_for_budget"}
        stage = stages.get(request["action_requests"][0]["name"], "waiting_for_approval")
        return RunStatus(stage=stage, request=request, **known)
    if snapshot.next or snapshot.tasks:  # tasks without next: the step ran but its checkpoint was never written
        return RunStatus(stage="interrupted", **known)
    manifest = snapshot.values.get("manifest")
    return RunStatus(stage="done", pack=snapshot.values["out_dir"] if manifest else None,
                     compliance=manifest.get("compliance") if manifest else None, **known)


class ThreadInfo(BaseModel):
    """A thread in the checkpoints: its id, when it started, who started it, for which brand, and its brief's
    first line (a structured brief: its product)."""

    thread_id: str
    started: datetime
    user: str | None = None
    brand: str
    title: str


def threads(graph: CompiledStateGraph[Any, Any, Any, Any]) -> list[ThreadInfo]:
    """Every thread the graph's checkpointer holds, the newest first. Read from each thread's first checkpoint,
    the brief as given (LangGraph's ``list`` across threads, filtered on its metadata), so no state is loaded."""
    saver = graph.checkpointer
    if not isinstance(saver, BaseCheckpointSaver):
        raise ThreadError("this graph keeps no checkpoints (build it with a checkpointer); it has no threads to list")
    found: dict[str, ThreadInfo] = {}
    for saved in saver.list(None, filter={"step": -1}):  # step -1: the checkpoint of the graph's input
        configurable = saved.config["configurable"]
        given = saved.checkpoint["channel_values"].get("__start__")
        if configurable.get("checkpoint_ns") or configurable["thread_id"] in found or not isinstance(given, Mapping):
            continue
        user, brief = saved.metadata.get("user_id"), given.get("brief")
        brand = given.get("brand_id") or (brief.get("brand") if isinstance(brief, Mapping) else None)
        found[configurable["thread_id"]] = ThreadInfo(
            thread_id=configurable["thread_id"], started=datetime.fromisoformat(saved.checkpoint["ts"]),
            user=user if isinstance(user, str) else None, brand=str(brand or ""), title=_title(given),
        )
    return sorted(found.values(), key=lambda info: info.started, reverse=True)


def _title(given: Mapping[str, Any]) -> str:
    """A thread's title from its input: a structured brief's product (the runner gives the model, a LangGraph API
    client a JSON object), else the first line of ``request``, else of a chat client's last human message."""
    brief = given.get("brief")
    if isinstance(brief, CreativeBrief | Mapping):
        product = brief.product if isinstance(brief, CreativeBrief) else brief.get("product")
        return f"{product or 'no product'} (structured brief)"
    text = given.get("request")
    if text is None:
        try:
            said = [m.text for m in chat_messages([], given.get("messages") or []) if isinstance(m, HumanMessage)]
        except BriefError:  # not messages: the thread failed on its input, it has no brief
            said = []
        text = said[-1] if said else ""
    return (str(text).strip().splitlines() or [""])[0]


def _error_line(error: object) -> str:
    """A failed task's error as the run showed it (``Type: message``): read back from a checkpoint, LangGraph gives
    the error's repr."""
    if not isinstance(error, str):
        return f"{type(error).__name__}: {error}"
    if match := re.fullmatch(r"(\w+)\((.*)\)", error, re.DOTALL):
        try:
            message = ast.literal_eval(match.group(2))
        except (ValueError, SyntaxError):  # not a one-string repr: keep it as it is
            return error
        if isinstance(message, str):
            return f"{match.group(1)}: {message}"
    return error


def verify_ledger(graph: CompiledStateGraph[Any, Any, Any, Any], thread_id: str, audit_dir: Path
                  ) -> tuple[LedgerCheck, list[AuditEvent]]:
    """Check the thread's ledger file against the head and events its checkpoint holds; also return the events."""
    snapshot = graph.get_state({"configurable": {"thread_id": thread_id}})
    if snapshot.created_at is None:
        raise ThreadError(f"unknown thread {thread_id!r}; start one with 'briefcraft run'")
    events = list(snapshot.values.get("audit", []))
    check = Ledger(ledger_path(audit_dir, thread_id)).verify(head=snapshot.values.get("ledger"), events=events)
    return check, events


def check_thread_id(value: str) -> str:
    """``value`` when it can name a new thread (it becomes a file and folder name); ``ThreadError`` otherwise."""
    if not THREAD_ID.fullmatch(value):
        raise ThreadError(f"thread id {value!r} is not usable; allowed: 1-128 letters, digits, '.', '_' or '-', "
                          "starting with a letter or digit")
    return value


def start_input(
    graph: CompiledStateGraph[Any, Any, Any, Any],
    brief: str | CreativeBrief,
    *,
    thread_id: str,
    max_brief_chars: int,
    out_dir: str | None = None,
    brand: str = "default",
    limits: Budget | None = None,
) -> dict[str, Any]:
    """The checked graph input that starts ``thread_id``; ``ThreadError`` when the thread exists, ``BriefError``
    for an empty or too long brief or a brand name brand memory cannot store. ``limits`` is the brief's budget
    (default: a structured brief's own)."""
    check_thread_id(thread_id)
    brand_key(brand)
    if graph.get_state({"configurable": {"thread_id": thread_id}}).created_at is not None:
        raise ThreadError(f"thread {thread_id!r} already exists; use 'briefcraft resume {thread_id}'")
    state: dict[str, Any] = {"brand_id": brand}
    if isinstance(brief, CreativeBrief):
        state |= {"brief": brief, "request": brief.model_dump_json(), "brand_id": brief.brand,
                  "limits": limits or brief.limits}
    else:
        state |= {"request": check_request(brief, max_brief_chars), "limits": limits or Budget()}
    if out_dir:
        state["out_dir"] = out_dir
    return state


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
    limits: Budget | None = None,
) -> RunStatus:
    """Start a thread on chat text or a structured brief; runs until the first checkpoint or the end."""
    with claim(graph, thread_id, user=user):
        state = start_input(graph, brief, thread_id=thread_id, max_brief_chars=max_brief_chars, out_dir=out_dir,
                            brand=brand, limits=limits)
        return _drive(graph, thread_id, state, user, role)


def check_response(current: RunStatus, response: object, *, user: str | None = None, role: str = "approver") -> None:
    """``DecisionError`` unless ``response``, given by ``user``, answers the thread's pending checkpoint: whatever the
    review node would refuse after its pause is refused here, before the graph keeps the response."""
    if current.request is None:
        raise ThreadError(f"thread {current.thread_id!r} is not waiting for a decision")
    if current.stage == "waiting_for_clarification":
        read_clarification(response)
    elif current.stage == "waiting_for_budget":
        read_budget(response, current.limits or Budget())
    else:
        read_review(response, current.request, reviewer=user or "anonymous", role=role)  # type: ignore[arg-type]


def resume_input(
    graph: CompiledStateGraph[Any, Any, Any, Any],
    thread_id: str,
    response: Mapping[str, Any] | None,
    *,
    out_dir: str | None = None,
    checkpoint: str | None = None,
    user: str | None = None,
    role: str = "approver",
) -> Command[Any] | None:
    """The checked graph input that resumes ``thread_id`` (``None`` retries a failed or interrupted step).
    ``ThreadError`` for finished threads, ``DecisionError`` for responses that do not fit the pending checkpoint,
    or that answer ``checkpoint`` (``RunStatus.checkpoint`` as the decider saw it) after the thread moved on.
    Take it while holding the thread (``claim``), so that nothing moves the thread between the check and the run."""
    current = status(graph, thread_id)
    if checkpoint is not None and checkpoint != current.checkpoint:
        raise DecisionError(_moved_on(graph, thread_id, checkpoint, current))
    if current.stage == "done":
        raise ThreadError(f"thread {thread_id!r} is done; nothing to resume (pack: {current.pack})")
    if current.waiting:
        if response is None:
            raise DecisionError(f"thread {thread_id!r} is {current.stage.replace('_', ' ')}; give decisions")
        check_response(current, response, user=user, role=role)
        return Command(resume=dict(response), update={"out_dir": out_dir} if out_dir else None)
    if response is not None:
        raise DecisionError(f"thread {thread_id!r} is {current.stage}, not waiting for decisions")
    if out_dir:
        raise DecisionError(f"thread {thread_id!r} is {current.stage}: --out is taken only at a checkpoint")
    return None


def resume(
    graph: CompiledStateGraph[Any, Any, Any, Any],
    thread_id: str,
    response: Mapping[str, Any] | None,
    *,
    user: str | None = None,
    role: str = "approver",
    out_dir: str | None = None,
    checkpoint: str | None = None,
) -> RunStatus:
    """Resume a thread: with an HITL response when it waits for one, or with nothing to retry a failed
    or interrupted step; ``out_dir`` changes where the pack goes, ``checkpoint`` names the checkpoint the response
    answers. ``ThreadError`` for finished or running threads, ``DecisionError`` for responses that do not fit the
    pending checkpoint or come after another decision moved the thread on (the thread is left untouched)."""
    with claim(graph, thread_id, user=user):
        value = resume_input(graph, thread_id, response, out_dir=out_dir, checkpoint=checkpoint, user=user, role=role)
        return _drive(graph, thread_id, value, user, role)


def _moved_on(graph: CompiledStateGraph[Any, Any, Any, Any], thread_id: str, checkpoint: str,
              current: RunStatus) -> str:
    """Why a decision on ``checkpoint`` cannot apply: who moved the thread on since, or that it has no such one."""
    then = graph.get_state({"configurable": {"thread_id": thread_id, "checkpoint_id": checkpoint}})
    if then.created_at is None:
        return f"thread {thread_id!r} has no checkpoint {checkpoint!r}; reload it and decide again"
    now = graph.get_state({"configurable": {"thread_id": thread_id}}).values.get("audit", [])
    actors = dict.fromkeys(e.actor for e in now[len(then.values.get("audit", [])):] if e.actor)
    if actors:
        return (f"thread {thread_id!r}: another decision was applied to this checkpoint first (by "
                f"{', '.join(actors)}); reload and decide again")
    return f"thread {thread_id!r} moved on from this checkpoint (it is {current.stage.replace('_', ' ')} now); " \
        "reload and decide again"


class _Run:
    """What a run did: the nodes of its last finished step, and whether a stop request ended it there."""

    def __init__(self) -> None:
        self.step: list[str] = []
        self.stopped = False


def _events(graph: CompiledStateGraph[Any, Any, Any, Any], value: dict[str, Any] | Command[Any] | None,
            config: RunnableConfig, run: _Run) -> Iterator[dict[str, Any]]:
    """The run's "tasks" events. Once a stop is requested it ends where the next step would start: LangGraph has
    written the last step's checkpoint (durability "sync") and emits a step's task starts before any of them runs."""
    ended = True  # a start after an end (or first of all) begins a step; a step's starts come together
    tasks = graph.stream(value, config, stream_mode="tasks", durability="sync")
    # closed early on a stop, so LangGraph's loop exits there rather than whenever the generator is collected
    with closing(cast(Generator[dict[str, Any], None, None], tasks)) as events:
        for event in events:
            if "result" not in event and ended:
                if _stop.is_set():
                    run.stopped = True
                    with _held_changed:
                        _stopped.append(str(config["configurable"]["thread_id"]))
                    return
                run.step, ended = [], False
            elif "result" in event:
                run.step.append(event["name"])
                ended = True
            yield event


def _drive(graph: CompiledStateGraph[Any, Any, Any, Any], thread_id: str, value: dict[str, Any] | Command[Any] | None,
           user: str | None, role: str) -> RunStatus:
    """Run ``value`` on the thread to its next checkpoint, its end, or a stop request; where it stands then."""
    run = _Run()
    for _ in _events(graph, value, _config(thread_id, user, role), run):
        pass
    current = status(graph, thread_id)
    if not run.stopped:
        return current
    after = f"after step {', '.join(sorted(set(run.step)))}" if run.step else "before its first step"
    line = f"stopped on SIGTERM {after}; resume with: briefcraft resume {thread_id}"
    return current.model_copy(update={"error": line})


class StepUpdate(BaseModel):
    """One graph task starting or ending, as a progress line for the studio."""

    task_id: str
    node: str
    item: str | None = None
    """The copy or image id a parallel branch works on."""
    status: Literal["pending", "done", "waiting", "failed"]
    """pending: started; done: finished; waiting: paused for a human; failed: raised (the thread stays resumable)."""
    seconds: float = 0.0
    summary: str = ""
    image: ImageAsset | None = None
    """The preview a finished ``make_visual`` rendered, so a client can show it at once."""

    @property
    def title(self) -> str:
        """The node name, with the item a branch works on."""
        return f"{self.node} {self.item}" if self.item else self.node


def _branch_item(task_input: object) -> str | None:
    """The subtask id of a ``write_copy`` / ``make_visual`` branch (their input is a ``Send`` payload)."""
    subtask = task_input.get("subtask") if isinstance(task_input, Mapping) else None
    return subtask.id if isinstance(subtask, Subtask) else None


def _summary(node: str, result: Mapping[str, Any]) -> str:
    """What a node did, in one line, from the state keys it wrote."""
    if node == "intake":
        if brief := result.get("brief"):
            return f"brief: {brief_line(brief)}"
        return f"missing: {', '.join(result.get('missing', []))}" if result.get("missing") else "brief as given"
    if node == "recall_brand":
        brand: BrandContext = result["brand"]
        if not brand.remembered:
            why = brand.citations[0].removeprefix("briefcraft defaults: ")
            return f"{why}: the house defaults, palette {' '.join(brand.palette)}"
        return (f"brand {brand.brand!r}: {len(brand.guidance)} guideline passage(s), {len(brand.examples)} "
                f"approved example(s), palette {' '.join(brand.palette)}")
    if node == "plan":
        kinds = [task.kind for task in result["subtasks"]]
        return f"{kinds.count('copy')} copy and {kinds.count('visual')} visual subtask(s)"
    if node == "write_copy":
        (copy,) = result["copy"]
        first, values = next(iter(copy.fields.items()))
        return f"revision {copy.revision}, {first}: {values[0] if values else ''}"
    if node == "make_visual":
        (image,) = result["images"]
        return f"{image.width}x{image.height}, {image.label}"
    if node == "check_compliance":
        report: ComplianceReport = result["compliance"]
        fixing = result.get("autofix") or []
        return (f"bundle {report.status}, brand score {report.score}%"
                + (f"; back to the copywriter to fix: {', '.join(fixing)}" if fixing else ""))
    if node == "review":
        decisions: list[ReviewDecision] = result.get("decisions", [])
        return ", ".join(f"{d.item_id} {d.action}" for d in decisions) or "nothing left to decide"
    if node == "finalize":
        return f"{len(result.get('finals', []))} final image(s) rendered and signed"
    if node == "export":
        return f"pack written to {result['out_dir']}"
    if node in ("remember_approved", "ask_clarification"):
        return next((e.comment for e in result.get("audit", []) if e.comment), "")
    if node == "seal_ledger":
        return f"ledger sealed at {result['ledger'].count} entries"
    if node in BUDGET_GATES:
        return next((e.comment or "" for e in result.get("audit", [])), "")
    return ""


def _ended(task_id: str, node: str, item: str | None, seconds: float, *, error: BaseException | None = None,
           interrupts: object = (), result: Mapping[str, Any] | None = None) -> StepUpdate:
    """The update for a task that ended: failed, paused for a human, or done with its result."""
    if error is not None:
        return StepUpdate(task_id=task_id, node=node, item=item, status="failed", seconds=seconds,
                          summary=f"{type(error).__name__}: {error}")
    if interrupts:
        return StepUpdate(task_id=task_id, node=node, item=item, status="waiting", seconds=seconds,
                          summary="waiting for a human")
    result = result or {}
    return StepUpdate(task_id=task_id, node=node, item=item, status="done", seconds=seconds,
                      summary=_summary(node, result), image=result["images"][0] if node == "make_visual" else None)


def stream(
    graph: CompiledStateGraph[Any, Any, Any, Any],
    thread_id: str,
    value: dict[str, Any] | Command[Any] | None,
    *,
    user: str | None = None,
    role: str = "approver",
) -> Iterator[StepUpdate]:
    """Run ``value`` (from ``start_input`` or ``resume_input``) on the thread, yielding each task as it starts
    and ends; ``status`` tells where the thread stands afterwards. A node's error is raised after its update. Hold
    the thread (``claim``) from ``resume_input`` to the end; after SIGTERM (``stop_on_sigterm``) it ends between steps.

    Branches that finished in the step where another failed keep their results: they are reported done when the
    error stops the run, and again (as done, not run anew) when a retry starts that step over.
    """
    # "tasks" events carry task ids, so parallel branches of one node are told apart, and mark starts as well as
    # ends; "updates" events only say which node finished.
    config = _config(thread_id, user, role)
    kept = {task.id: task.result for task in graph.get_state(config).tasks if task.result is not None}
    started: dict[str, tuple[float, str, str | None]] = {}
    try:
        for event in _events(graph, value, config, _Run()):
            task_id, node = event["id"], event["name"]
            if "result" not in event:
                item = _branch_item(event["input"])
                if task_id in kept:  # a retry: LangGraph reuses the writes and never reports an end
                    yield _ended(task_id, node, item, 0.0, result=kept[task_id])
                    continue
                started[task_id] = (time.monotonic(), node, item)
                yield StepUpdate(task_id=task_id, node=node, item=item, status="pending")
                continue
            began, _, item = started.pop(task_id, (time.monotonic(), node, None))
            yield _ended(task_id, node, item, round(time.monotonic() - began, 2), error=event["error"],
                         interrupts=event["interrupts"], result=event["result"])
    except Exception:
        # the failing branch stopped the stream before its siblings' ends were reported
        for task in graph.get_state(config).tasks:
            if task.id in started and task.result is not None:
                began, node, item = started.pop(task.id)
                yield _ended(task.id, node, item, round(time.monotonic() - began, 2), result=task.result)
        raise


def approve_all(current: RunStatus) -> dict[str, Any]:
    """The HITL response approving every pending item."""
    return {"decisions": [{"type": "approve"} for _ in current.items]}


def raise_budget(limits: Budget) -> dict[str, Any]:
    """The HITL response that raises a waiting thread's budget to ``limits`` (unset limits stay as they are)."""
    args = limits.model_dump(exclude_none=True)
    return {"decisions": [{"type": "edit", "edited_action": {"name": RAISE_BUDGET, "args": args}}]}
