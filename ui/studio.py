"""The Gradio studio: chat a brief (Brief), decide on its items (Review), list threads and download packs (Runs),
manage brand memory (Brand, in ``brand_desk``).

Handlers are methods of ``Studio``: Gradio values in, ``graphs.runner`` calls, Gradio values out. One ``Studio``
and one graph serve the whole process; what belongs to one browser session (its chat, its current thread, the
checkpoint it loaded for review) lives in ``gr.State``. Every handler checks who asks: marketers see and open
only their own threads, and only approvers and admins decide. Nothing launches on import.
"""

from __future__ import annotations

import hmac
import html
import logging
import os
import queue
import tempfile
import threading
import uuid
import zipfile
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC
from functools import partial
from itertools import groupby
from pathlib import Path
from typing import Any, NamedTuple, NotRequired, TypedDict

import gradio as gr
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Command
from pydantic import ValidationError

from briefcraft.channels import not_covered
from briefcraft.errors import BriefcraftError, ConfigError, DecisionError, ThreadError
from briefcraft.graphs import runner
from briefcraft.graphs.brief_graph import build_graph
from briefcraft.graphs.review import BUDGET_GATES, edit_decision, edit_text
from briefcraft.graphs.runner import RunStatus, StepUpdate
from briefcraft.memory.store import ChromaBrandMemory, open_memory
from briefcraft.schemas import (
    PUBLISH_COPY,
    PUBLISH_IMAGE,
    AuditEvent,
    Budget,
    ComplianceReport,
    Finding,
    brand_key,
    validation_message,
)
from briefcraft.settings import Settings
from briefcraft.tools.audit import FailedSpend
from briefcraft.ui.brand_desk import BrandDesk, brand_tab
from briefcraft.ui.threads import ThreadRecord, ThreadRegistry, Viewer

__all__ = [
    "AUDIT_HEADERS",
    "DECISIONS",
    "RUNS_HEADERS",
    "ItemChoice",
    "Loaded",
    "Studio",
    "build_studio",
    "check_login",
    "hitl_response",
    "launch",
    "read_limits",
    "serve_paths",
    "zip_pack",
]

_log = logging.getLogger(__name__)

DECISIONS = ["approve", "reject", "edit", "drop"]
RUNS_HEADERS = ["thread", "brief", "owner", "stage", "brand", "created"]
AUDIT_HEADERS = ["#", "at", "kind", "node", "item", "revision", "actor", "role", "decision", "comment", "tokens",
                 "cost_usd"]
_LOCAL = Viewer(name="local", role="admin")
_DOWNLOAD = " Download it from the Runs tab."

Graph = CompiledStateGraph[Any, Any, Any, Any]
Message = dict[str, Any]
Preview = tuple[str, str]


class Loaded(TypedDict):
    """The review checkpoint a session loaded: the thread and its pending action requests, as shown."""

    thread: str
    items: list[dict[str, Any]]
    checkpoint: NotRequired[str | None]
    """The checkpoint the items wait at: decisions apply only there, so a second approver's are refused."""


class ItemChoice(NamedTuple):
    """What a reviewer set for one item: the decision, a comment, and the item's fields as 'name: value' lines."""

    decision: str | None
    comment: str | None = None
    edit: str | None = None


# --- presenting graph values -------------------------------------------------------------------------


def _say(text: str, **metadata: Any) -> Message:
    return {"role": "assistant", "content": text, **({"metadata": metadata} if metadata else {})}


def _step_message(update: StepUpdate) -> Message:
    """A collapsible chat message for a graph step: a spinner while it runs, its summary and time once done."""
    if update.status == "pending":
        return _say("running…", title=update.title, status="pending")
    text = f"failed: {update.summary}" if update.status == "failed" else update.summary
    # the log line shows beside the title while the step's message is collapsed
    return _say(text, title=update.title, status="done", duration=update.seconds, log=_short(text))


def _short(text: str, limit: int = 90) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _shown(update: StepUpdate) -> bool:
    """Whether a step is worth a progress line: a budget gate only when it stops the run or a budget is raised."""
    return update.node not in BUDGET_GATES or update.status in ("waiting", "failed") or bool(update.summary)


def _step_line(update: StepUpdate) -> str:
    if update.status == "pending":
        return f"- ⏳ {update.title}"
    mark = "✗" if update.status == "failed" else "✓"
    return f"- {mark} {update.title} ({update.seconds:.1f} s): {update.summary}"


def _decision(action: dict[str, Any], choice: ItemChoice) -> dict[str, Any]:
    """One HITL decision from what the reviewer set on an item."""
    item_id = action["args"]["id"]
    if choice.decision == "approve":
        return {"type": "approve"}
    if choice.decision in ("reject", "drop"):
        comment = (choice.comment or "").strip()
        return {"type": choice.decision, **({"message": comment} if comment else {})}
    if choice.decision == "edit":
        return edit_decision(action, choice.edit or "")
    raise DecisionError(f"choose {', '.join(DECISIONS)} for {item_id!r}")


def hitl_response(items: Sequence[dict[str, Any]], choices: Sequence[ItemChoice]) -> dict[str, Any]:
    """The HITLResponse for the shown items, in their order."""
    if len(choices) != len(items):
        raise DecisionError(f"got {len(choices)} decisions for {len(items)} items; load the thread again")
    return {"decisions": [_decision(action, choice) for action, choice in zip(items, choices, strict=True)]}


def _marked(text: str, findings: Sequence[Finding]) -> str:
    """``text`` as HTML with each finding's span marked, its rule and message shown on hover."""
    parts: list[str] = []
    at = 0
    for finding in sorted(findings, key=lambda f: f.span or (0, 0)):
        start, end = finding.span or (0, 0)
        if start < at:  # overlaps the span marked before it: the findings list below still names it
            continue
        note = html.escape(f"{finding.severity.upper()} {finding.rule_id}: {finding.message}")
        parts += [html.escape(text[at:start], quote=False),
                  f'<mark title="{note}">{html.escape(text[start:end], quote=False)}</mark>']
        at = end
    return "".join([*parts, html.escape(text[at:], quote=False)])


def _item_text(action: dict[str, Any], report: ComplianceReport | None) -> str:
    """A copy item for the chat: its id, its fields with the findings' spans highlighted, and its findings
    (severity, rule, message, source)."""
    args = action["args"]
    spans = [f for f in report.for_item(args["id"]) if f.field and f.span] if report else []
    fields = [
        f"{name}: " + _marked(value, [f for f in spans if f.field == name and (f.index or 0) == index])
        for name, values in args["fields"].items() for index, value in enumerate(values)
    ]
    return "\n".join([f"**{args['id']}** (revision {args['revision']})", *fields, *action["description"].splitlines()])


def _item_header(action: dict[str, Any]) -> str:
    args = action["args"]
    kind = "copy" if action["name"] == PUBLISH_COPY else "image"
    findings = "\n".join(f"- {line}" for line in action["description"].splitlines())
    return (f"### {args['id']}\n{kind} for {args['channel']}, variant {args['variant']}, revision {args['revision']}"
            f"\n\n{findings}")


def _decision_choices(action: dict[str, Any]) -> list[tuple[str, str]]:
    """The decision radio's (label, value) pairs: what rejecting and dropping do for this kind of item."""
    redo = "rewrite" if action["name"] == PUBLISH_COPY else "render again"
    return [("approve", "approve"), (f"reject ({redo})", "reject"), ("edit", "edit"), ("drop (leave out)", "drop")]


def _preview(image: dict[str, Any]) -> Preview:
    """A preview for the gallery: the image and its caption (item id and what rendered it)."""
    return image["path"], f"{image['id']}: {image['label']}"


def _outcome(current: RunStatus) -> str:
    """Where a thread stands after a run, in one line, with what its calls have cost."""
    line = _stage_line(current)
    if current.brief is not None and (note := not_covered(current.brief.unsupported_platforms)):
        line = f"{line} Note: {note}."
    if current.cost is None or current.stage == "waiting_for_clarification":  # the question stands alone
        return line
    return f"{line} Cost so far: {current.cost.line()}."


def _stage_line(current: RunStatus) -> str:
    tid = current.thread_id
    if current.stage == "waiting_for_approval":
        return f"Thread {tid} waits for approval of {len(current.items)} item(s): open the Review tab."
    if current.stage == "waiting_for_clarification":
        return current.question or ""
    if current.stage == "waiting_for_budget":
        return (f"Thread {tid} stopped before going over its budget: {current.budget_reason}. Reply with a higher "
                "limit to go on, e.g. 'max_cost_usd 0.50' or 'max_gpu_seconds 120'.")
    if current.stage == "done":
        score = (f" Compliance: {current.compliance['status']}, brand score {current.compliance['score']}%."
                 if current.compliance else "")
        return f"Thread {tid} is done; pack written to {current.pack}.{score}"
    if current.input_refused:
        return f"Thread {tid} stopped (failed): its brief was refused, and a retry would refuse it again; send the " \
            "brief again, corrected."
    return f"Thread {tid} stopped ({current.stage}); it keeps every step before that: retry it from the Runs tab."


def read_limits(text: str) -> Budget:
    """A budget from the Budget box or a raised one from a chat reply: 'NAME VALUE' pairs (max_cost_usd,
    max_gpu_seconds, max_revision_rounds; '=' or ':' also separate them), or a bare amount for max_cost_usd;
    ``DecisionError`` otherwise."""
    words = text.replace("=", " ").replace(":", " ").replace(",", " ").replace("$", " ").split()
    if len(words) == 1:
        words = ["max_cost_usd", *words]
    pairs = dict(zip(words[::2], words[1::2], strict=False))
    if len(words) % 2 or not words or set(pairs) - set(Budget.model_fields):
        raise DecisionError(f"a budget is an amount in USD or limits by name, e.g. 'max_cost_usd 0.50'; allowed: "
                            f"{', '.join(Budget.model_fields)} (got {text.strip()!r})")
    try:
        return Budget.model_validate(pairs)
    except ValidationError as error:
        raise DecisionError(f"budget: {validation_message(error)}") from error


def _tokens(event: AuditEvent) -> str | None:
    """A call's tokens as 'in/out'; None for events without them."""
    if event.input_tokens is None and event.output_tokens is None:
        return None
    return f"{event.input_tokens or 0}/{event.output_tokens or 0}"


def _choice(record: ThreadRecord) -> tuple[str, str]:
    """A thread as a dropdown choice: (title · owner · id, id)."""
    return f"{record.title} · {record.owner} · {record.thread_id}", record.thread_id


def _title(brief: str) -> str:
    line = (brief.strip().splitlines() or [""])[0]
    return line if len(line) <= 80 else line[:79] + "…"


def check_login(settings: Settings, username: str, password: str) -> bool:
    """Gradio's login check against ``settings.ui_users`` (constant-time on the password)."""
    user = settings.ui_users.get(username)
    return user is not None and hmac.compare_digest(user.password.get_secret_value().encode(), password.encode())


def zip_pack(pack: Path, dest: Path) -> Path:
    """Zip the pack folder's files (paths relative to the pack, sorted) into ``dest``."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = dest.with_suffix(".part")
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(p for p in pack.rglob("*") if p.is_file()):
            archive.write(path, path.relative_to(pack).as_posix())
    partial.replace(dest)  # a download never sees a half-written zip
    return dest


# --- the handlers --------------------------------------------------------------------------------------


class Studio:
    """The studio's handlers, sharing one graph and the thread registry (one instance per process)."""

    def __init__(self, settings: Settings, graph: Graph):
        self.settings = settings
        self.graph = graph
        self.threads = ThreadRegistry(settings.data_dir / "studio.sqlite")

    def _status(self, thread_id: str) -> RunStatus:
        """Where the thread stands, its cost counting what failed steps paid for too (for the lines that show the
        cost; the rest read ``runner.status`` alone, without the failed-steps file)."""
        return runner.status(self.graph, thread_id, audit_dir=self.settings.audit_dir)

    def viewer(self, request: gr.Request | None) -> Viewer:
        """Who asks: the logged-in user and their role; without logins, the local admin."""
        if not self.settings.ui_users:
            return _LOCAL
        name = request.username if request is not None else None
        user = self.settings.ui_users.get(name or "")
        if name is None or user is None:
            raise ConfigError(f"user {name!r} is not in BRIEFCRAFT_UI_USERS; log in again")
        return Viewer(name=name, role=user.role)

    # running threads

    def _run(self, thread_id: str, value: Callable[[], dict[str, Any] | Command[Any] | None],
             viewer: Viewer) -> Iterator[StepUpdate]:
        """Run the thread on a worker thread of its own, so a closed browser tab does not stop the graph midway;
        the returned iterator relays its steps. ``value`` is computed (and checked) once the thread is held: against
        the studio's other sessions and any other process on the data dir, until the run ends."""
        held = runner.claim(self.graph, thread_id, user=viewer.name)
        try:
            graph_input = value()
        except BaseException:
            held.release()
            raise
        steps: queue.Queue[StepUpdate | BaseException | None] = queue.Queue()

        def work() -> None:
            end: BaseException | None = None
            try:
                for update in runner.stream(self.graph, thread_id, graph_input, user=viewer.name, role=viewer.role):
                    steps.put(update)
            except BaseException as error:  # relayed to the handler, which shows it
                end = error
            finally:
                held.release()  # before the handler hears the end, so its next request finds the thread free
                steps.put(end)

        threading.Thread(target=work, name=f"briefcraft-{thread_id}", daemon=True).start()

        def relay() -> Iterator[StepUpdate]:
            while (step := steps.get()) is not None:
                if isinstance(step, BaseException):
                    raise step
                yield step

        return relay()

    # Brief tab

    def send(self, message: str, brand: str, history: list[Message] | None, thread: str | None,
             request: gr.Request, budget: str = ""
             ) -> Iterator[tuple[list[Message], Any, Any, str | None]]:
        """Chat input: a new brief (with its budget), or the answer to the thread's clarifying question or budget
        stop. Yields (chat, input box, previews, the session's thread waiting for an answer) as the graph's steps
        start and end."""
        chat = [*(history or []), {"role": "user", "content": message}]
        try:
            viewer = self.viewer(request)
            asked = runner.status(self.graph, self.threads.open(viewer, thread).thread_id) if thread else None
            if asked is not None and asked.stage in ("waiting_for_clarification", "waiting_for_budget"):
                thread_id = asked.thread_id
                answer = runner.raise_budget(read_limits(message)) if asked.limits else \
                    {"decisions": [{"type": "respond", "message": message}]}
                steps = self._run(thread_id, lambda: runner.resume_input(self.graph, thread_id, answer), viewer)
            else:
                thread_id, brand = uuid.uuid4().hex[:12], brand.strip()
                brand_key(brand)  # one line on a brand name brand memory cannot store
                start = runner.start_input(self.graph, message, thread_id=thread_id,
                                           max_brief_chars=self.settings.max_brief_chars, brand=brand,
                                           limits=read_limits(budget) if budget.strip() else None)
                self.threads.add(thread_id, owner=viewer.name, brand=brand, title=_title(message))
                steps = self._run(thread_id, lambda: start, viewer)
        except BriefcraftError as error:
            yield [*chat, _say(f"⚠ {error}")], message, gr.skip(), thread  # the text stays in the box
            return
        yield list(chat), "", [], None  # the thread holds the text now
        shown: dict[str, int] = {}
        gallery: dict[str, Preview] = {}  # by item id: a new revision replaces its preview
        try:
            for update in filter(_shown, steps):
                if update.task_id not in shown:
                    shown[update.task_id] = len(chat)
                    chat.append(_step_message(update))
                else:
                    chat[shown[update.task_id]] = _step_message(update)
                if update.image is not None:
                    gallery[update.image.id] = _preview(update.image.model_dump(mode="json"))
                # a snapshot: later steps replace messages; each preview shows as soon as it is rendered
                yield list(chat), gr.skip(), list(gallery.values()) if update.image else gr.skip(), None
        except BriefcraftError as error:
            chat.append(_say(f"⚠ {error}"))
        except Exception as error:
            _log.exception("thread %s failed", thread_id)
            chat.append(_say(f"⚠ internal error: {type(error).__name__}: {error}"))
        for index in shown.values():  # steps a failure cut short keep no spinner
            if chat[index]["metadata"]["status"] == "pending":
                chat[index] = _say("did not finish", title=chat[index]["metadata"]["title"], status="done",
                                   log="did not finish")
        current = self._status(thread_id)
        if current.stage == "waiting_for_approval":
            report = self.graph.get_state({"configurable": {"thread_id": thread_id}}).values.get("compliance")
            chat += [_say(_item_text(a, report)) for a in current.items if a["name"] == PUBLISH_COPY]
        chat.append(_say(_outcome(current) + (_DOWNLOAD if current.stage == "done" else "")))
        asking = thread_id if current.stage in ("waiting_for_clarification", "waiting_for_budget") else None
        waiting = [_preview(a["args"]) for a in current.items if a["name"] == PUBLISH_IMAGE]
        yield chat, gr.skip(), waiting or list(gallery.values()), asking

    # Review tab

    def _visible(self, viewer: Viewer) -> list[ThreadRecord]:
        """The threads ``viewer`` may see, those started outside the studio (CLI, library) included."""
        self.threads.adopt(runner.threads(self.graph), title=_title)
        return self.threads.visible_to(viewer)

    def _waiting(self, viewer: Viewer) -> list[ThreadRecord]:
        return [r for r in self._visible(viewer) if self._stage(r.thread_id) == "waiting_for_approval"]

    def _stage(self, thread_id: str) -> str:
        try:
            return runner.status(self.graph, thread_id).stage
        except ThreadError:
            return "not started"

    def waiting_threads(self, chosen: str | None, request: gr.Request) -> gr.Dropdown:
        """The review dropdown: the threads the user may see that wait for approval, the one ``chosen`` staying
        chosen while it waits, else the newest chosen (the brief just sent, usually)."""
        choices = [_choice(r) for r in self._waiting(self.viewer(request))]
        ids = [thread_id for _, thread_id in choices]
        return gr.Dropdown(choices=choices, value=chosen if chosen in ids else (ids[0] if ids else None))

    def load_review(self, thread_id: str | None, request: gr.Request) -> tuple[Loaded | None, str]:
        """Load the thread's pending items for review: (the loaded checkpoint, the status line)."""
        try:
            viewer = self.viewer(request)
            record = self.threads.open(viewer, thread_id)
            current = runner.status(self.graph, record.thread_id)
        except BriefcraftError as error:
            return None, f"⚠ {error}"
        if current.stage != "waiting_for_approval":
            return None, f"Thread {record.thread_id} is {current.stage.replace('_', ' ')}: nothing to review."
        note = "" if viewer.decides else f" You can read them; only approvers and admins decide ({viewer.name} is " \
                                         f"a {viewer.role})."
        return Loaded(thread=record.thread_id, items=current.items, checkpoint=current.checkpoint), (
            f"**{record.title}** (thread {record.thread_id} by {record.owner}, brand {record.brand}): "
            f"{len(current.items)} item(s) wait for a decision.{note}"
        )

    def _review_input(self, loaded: Loaded, response: dict[str, Any], viewer: Viewer) -> Command[Any] | None:
        thread_id, checkpoint = loaded["thread"], loaded.get("checkpoint")
        current = runner.status(self.graph, thread_id)
        if checkpoint is None and [(a["args"]["id"], a["args"]["revision"]) for a in current.items] != \
                [(a["args"]["id"], a["args"]["revision"]) for a in loaded["items"]]:
            raise ThreadError(f"thread {thread_id!r} changed since you loaded it; load it again")
        return runner.resume_input(self.graph, thread_id, response, checkpoint=checkpoint, user=viewer.name,
                                   role=viewer.role)

    def submit_review(self, loaded: Loaded | None, choices: Sequence[ItemChoice], request: gr.Request
                      ) -> Iterator[tuple[str, Any]]:
        """Submit the decisions on the loaded items and run the thread on. Yields (status, loaded checkpoint):
        progress while it runs, then the next checkpoint's items, or the pack once done."""
        try:
            viewer = self.viewer(request)
            if loaded is None:
                raise ThreadError("load a thread first")
            thread_id = self.threads.open(viewer, loaded["thread"]).thread_id
            if not viewer.decides:
                raise DecisionError(f"{viewer.name} is a {viewer.role}: only approvers and admins submit decisions")
            response = hitl_response(loaded["items"], choices)
            steps = self._run(thread_id, lambda: self._review_input(loaded, response, viewer), viewer)
        except BriefcraftError as error:
            yield f"⚠ Not submitted: {error}", gr.skip()
            return
        progress = self._progress(steps, f"Decisions on thread {thread_id} by {viewer.name} ({viewer.role}):",
                                  thread_id)
        text = next(progress)
        for following in progress:  # the last text goes out with the next checkpoint's items
            yield text, gr.skip()
            text = following
        current = runner.status(self.graph, thread_id)
        yield text, Loaded(thread=thread_id, items=current.items, checkpoint=current.checkpoint) \
            if current.stage == "waiting_for_approval" else None

    def _progress(self, steps: Iterator[StepUpdate], head: str, thread_id: str) -> Iterator[str]:
        """Status text while a thread runs: a line per step as it starts and ends, then where the thread stands."""
        latest: dict[str, StepUpdate] = {}
        error_line: list[str] = []
        try:
            for update in filter(_shown, steps):
                latest[update.task_id] = update
                yield "\n".join([head, *map(_step_line, latest.values())])
        except BriefcraftError as error:
            error_line = [f"⚠ {error}"]
        except Exception as error:
            _log.exception("thread %s failed", thread_id)
            error_line = [f"⚠ internal error: {type(error).__name__}: {error}"]
        lines = [_step_line(u) if u.status != "pending" else f"- ✗ {u.title}: did not finish" for u in latest.values()]
        current = self._status(thread_id)
        hint = _DOWNLOAD if current.stage == "done" else ""
        yield "\n".join([head, *lines, *error_line, "", f"**{_outcome(current)}**{hint}"])

    # Runs tab

    def runs(self, request: gr.Request) -> tuple[list[list[str]], gr.Dropdown]:
        """The runs table and the thread dropdown: the user's threads (every thread for approvers and admins)."""
        records = self._visible(self.viewer(request))
        rows = [[r.thread_id, r.title, r.owner, self._stage(r.thread_id), r.brand,
                 r.created.strftime("%Y-%m-%d %H:%M UTC")] for r in records]
        return rows, gr.Dropdown(choices=[_choice(r) for r in records])

    def open_run(self, thread_id: str | None, request: gr.Request) -> tuple[str, str | None, list[list[Any]]]:
        """Open a thread: (where it stands and whether its ledger verifies, the pack as a zip, its audit events)."""
        try:
            record = self.threads.open(self.viewer(request), thread_id)
            current = self._status(record.thread_id)
            check, events = runner.verify_ledger(self.graph, record.thread_id, self.settings.audit_dir)
        except BriefcraftError as error:
            return f"⚠ {error}", None, []
        ledger = (f"ledger verifies: {check.entries} entries, head {check.head[:16]}" if check.valid
                  else f"ledger does NOT verify: {check.problem}")
        download = None
        if current.stage == "done" and current.pack and Path(current.pack).is_dir():
            dest = self.settings.data_dir / "downloads" / f"briefcraft-{record.thread_id}.zip"
            download = str(zip_pack(Path(current.pack), dest))
        # then the calls of failed steps the ledger does not hold yet: no ledger number, their comment says so
        kept = FailedSpend(self.settings.audit_dir, record.thread_id).unrecorded(events)
        rows = [[n, e.at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"), e.kind, e.node, e.item_id, e.revision,
                 e.actor, e.role, e.decision, e.comment, _tokens(e), e.cost_usd]
                for n, e in [*enumerate(events), *(("", e) for e in kept)]]
        failure = f" Error: {current.error}." if current.error else ""
        return f"**{record.title}** (thread {record.thread_id} by {record.owner}): {_outcome(current)}{failure} " \
            f"{ledger}.", download, rows

    def retry(self, thread_id: str | None, request: gr.Request) -> Iterator[str]:
        """Run a failed or interrupted thread on from its last checkpoint: the failed step runs again, the steps
        before it are kept. Yields the status text as it runs."""
        try:
            viewer = self.viewer(request)
            tid = self.threads.open(viewer, thread_id).thread_id
            steps = self._run(tid, lambda: runner.resume_input(self.graph, tid, None), viewer)
        except BriefcraftError as error:
            yield f"⚠ Not retried: {error}"
            return
        yield from self._progress(steps, f"Retry of thread {tid} by {viewer.name}:", tid)


# --- layout and launch ---------------------------------------------------------------------------------


def _brief_tab(studio: Studio, graph_runs: dict[str, Any]) -> None:
    chat = gr.Chatbot(elem_id="brief-chat", label="Brief", height=520, buttons=["copy_all"], feedback_options=None)
    with gr.Row():
        text = gr.Textbox(elem_id="brief-input", label="Your brief (or the answer to a question)", lines=3, scale=4,
                          placeholder="Launch our oat-milk cold brew on Instagram and email...")
        with gr.Column(scale=1):
            brand = gr.Textbox(studio.settings.brand, elem_id="brief-brand", label="Brand")
            # a text box, read as a budget reply in the chat is: gr.Number shows an empty value as 0, which reads as a
            # budget of nothing (0 is one, as `briefcraft run --max-cost-usd 0`)
            budget = gr.Textbox("", elem_id="brief-budget", label="Budget, USD",
                                placeholder="no limit (e.g. 0.50)")
    send = gr.Button("Send", elem_id="brief-send", variant="primary")
    previews = gr.Gallery(elem_id="brief-previews", label="Previews", columns=4, fit_columns=False, height=320,
                          object_fit="contain")
    asking = gr.State(None)
    send.click(studio.send, [text, brand, chat, asking, budget], [chat, text, previews, asking], **graph_runs)


def _item_block(i: int, action: dict[str, Any]) -> tuple[gr.Radio, gr.Textbox, gr.Textbox]:
    """An item's panel: header and findings, the image, its editable fields; returns (decision, comment, edit)."""
    with gr.Column(elem_id=f"item-{i}", variant="panel"):
        gr.Markdown(_item_header(action))
        if action["name"] == PUBLISH_IMAGE:
            gr.Image(action["args"]["path"], label=action["args"]["label"], interactive=False, height=260,
                     elem_id=f"image-{i}")
        # interactive named: left to Gradio, a box given a value in a gr.render block is shown read-only
        edit = gr.Textbox(edit_text(action), label="Fields, one 'name: value' line each (change them and choose "
                          "edit)", lines=3, elem_id=f"edit-{i}", interactive=True)
        with gr.Row():
            decision = gr.Radio(_decision_choices(action), label="Decision", elem_id=f"decision-{i}")
            comment = gr.Textbox(label="Comment (why, for a rejection)", elem_id=f"comment-{i}")
    return decision, comment, edit


def _review_tab(studio: Studio, tab: gr.Tab, graph_runs: dict[str, Any]) -> None:
    with gr.Row():
        pick = gr.Dropdown(label="Threads waiting for approval", elem_id="review-thread", choices=[], scale=4)
        load = gr.Button("Load", elem_id="review-load", scale=1)
    loaded = gr.State(None)

    def _items(current: Loaded | None) -> None:
        """One block per pending item, rendered again whenever the session loads another checkpoint; the image
        variants of a channel side by side, so the reviewer picks between them."""
        if not current:
            gr.Markdown("Choose a thread and press Load.")
            return
        approve_all = gr.Button("Approve all (then submit)", elem_id="review-approve-all", size="sm")
        widgets: list[gr.components.Component] = []
        numbered = enumerate(current["items"])
        for (name, _), group in groupby(numbered, key=lambda item: (item[1]["name"], item[1]["args"]["channel"])):
            with gr.Row() if name == PUBLISH_IMAGE else gr.Column():
                for i, action in group:
                    widgets += _item_block(i, action)
        decisions = widgets[::3]
        approve_all.click(lambda: ["approve"] * len(decisions) if len(decisions) > 1 else "approve", None, decisions)

        def _submit(request: gr.Request, shown: Loaded | None, *values: str | None) -> Iterator[tuple[str, Any]]:
            choices = [ItemChoice(*values[k:k + 3]) for k in range(0, len(values), 3)]
            yield from studio.submit_review(shown, choices, request)

        submit.click(_submit, [loaded, *widgets], [status, loaded], **graph_runs)

    gr.render(inputs=[loaded])(_items)  # here, so the items sit between the thread picker and the submit button
    submit = gr.Button("Submit decisions", elem_id="review-submit", variant="primary")
    status = gr.Markdown(elem_id="review-status")
    load.click(studio.load_review, [pick], [loaded, status])
    tab.select(studio.waiting_threads, [pick], [pick])


def _row_thread(selected: gr.SelectData) -> str:
    """The thread id of the runs table's clicked row."""
    return str(selected.row_value[0])


def _runs_tab(studio: Studio, tab: gr.Tab, graph_runs: dict[str, Any]) -> None:
    refresh = gr.Button("Refresh", elem_id="runs-refresh")
    table = gr.Dataframe(headers=RUNS_HEADERS, elem_id="runs-table", interactive=False, wrap=True,
                         column_widths=["13%", "37%", "10%", "16%", "10%", "14%"])
    with gr.Row():
        pick = gr.Dropdown(label="Thread", elem_id="runs-thread", choices=[], scale=4)
        open_run = gr.Button("Open", elem_id="runs-open", scale=1)
        retry = gr.Button("Retry", elem_id="runs-retry", scale=1)
    detail = gr.Markdown(elem_id="runs-detail")
    download = gr.File(label="Pack (zip)", elem_id="runs-download", interactive=False, height=90)
    audit = gr.Dataframe(headers=AUDIT_HEADERS, elem_id="runs-audit", interactive=False, wrap=True,
                         column_widths=["3%", "10%", "9%", "9%", "13%", "7%", "5%", "6%", "8%", "17%", "6%", "7%"])
    refresh.click(studio.runs, None, [table, pick])
    tab.select(studio.runs, None, [table, pick])
    open_run.click(studio.open_run, [pick], [detail, download, audit])
    # a click on a row opens that thread, as choosing it and pressing Open does
    table.select(_row_thread, None, [pick]).then(studio.open_run, [pick], [detail, download, audit])
    retry.click(studio.retry, [pick], [detail], **graph_runs).then(studio.runs, None, [table, pick])


def build_studio(settings: Settings, *, graph: Graph | None = None, memory: ChromaBrandMemory | None = None
                 ) -> gr.Blocks:
    """The studio's Blocks (queued, nothing launched); builds the graph and brand memory from ``settings`` unless
    given a graph. The Brand tab needs Chroma brand memory: the graph's own (the ``memory`` extra), or ``memory``
    when a graph is given (it must be the one the graph recalls from)."""
    if graph is None:
        opened = open_memory(settings)
        memory = opened if isinstance(opened, ChromaBrandMemory) else None
        graph = build_graph(settings, memory=opened)
    studio = Studio(settings, graph)
    # Runs of the graph are limited deliberately: settings.ui_concurrency new briefs at once, and as many decisions
    # and retries, each with a queue of its own, so a brief's first steps never wait behind other threads' finals.
    briefs: dict[str, Any] = {"concurrency_id": "briefs", "concurrency_limit": settings.ui_concurrency}
    decisions: dict[str, Any] = {"concurrency_id": "decisions", "concurrency_limit": settings.ui_concurrency}
    demo = gr.Blocks(title="briefcraft studio", analytics_enabled=False)
    with demo:
        gr.Markdown("## briefcraft studio")
        with gr.Tabs():
            with gr.Tab("Brief", id="brief"):
                _brief_tab(studio, briefs)
            with gr.Tab("Review", id="review") as review:
                _review_tab(studio, review, decisions)
            with gr.Tab("Runs", id="runs") as runs:
                _runs_tab(studio, runs, decisions)
            if memory is not None:
                with gr.Tab("Brand", id="brand") as brand:
                    brand_tab(BrandDesk(settings, memory, studio.viewer), brand)
    demo.queue(default_concurrency_limit=settings.ui_concurrency)
    return demo


def serve_paths(settings: Settings) -> tuple[list[str], list[str]]:
    """Gradio's (allowed_paths, blocked_paths): of the data dir, only the upload cache is served by name.

    The cache holds uploads and copies of what handlers return. Gradio copies a returned file (a preview, a pack
    zip) into it only from the working dir, the temp dir or an allowed path, and an allowed path also serves every
    file under it to whoever names it: so the folders handlers return files from are allowed only where Gradio would
    refuse them otherwise. The private parts are blocked, which neither an allowed path nor a symlink planted in the
    cache overrides.
    """
    taken = [Path.cwd().resolve(), Path(tempfile.gettempdir()).resolve()]
    shown = [settings.assets_dir.resolve(), (settings.data_dir / "downloads").resolve()]
    databases = [settings.checkpoint_path, settings.data_dir / "studio.sqlite"]
    private = [*databases, *(db.with_name(db.name + end) for db in databases for end in ("-wal", "-shm", "-journal")),
               settings.provenance_dir, settings.audit_dir, settings.memory_dir, settings.packs_dir,
               Path(".env"), settings.provenance_key, settings.provenance_cert]  # .env: where Settings reads keys
    return ([str(p) for p in shown if not any(p.is_relative_to(d) for d in taken)],
            [str(p.resolve()) for p in private if p is not None])


def launch(settings: Settings, *, graph: Graph | None = None) -> None:
    """Serve the studio on ``settings.ui_host:ui_port`` until SIGTERM or Ctrl+C, printing its URL; then let the
    running threads finish their current step, each stopping at that step's checkpoint (resumable)."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # launching otherwise calls home
    # Gradio serves copies of the files handlers return from its cache: keep those in the data dir too.
    os.environ.setdefault("GRADIO_TEMP_DIR", str((settings.data_dir / "gradio").resolve()))
    demo = build_studio(settings, graph=graph)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    allowed, blocked = serve_paths(settings)
    _, url, _ = demo.launch(
        server_name=settings.ui_host, server_port=settings.ui_port, prevent_thread_lock=True, quiet=True,
        auth=partial(check_login, settings) if settings.ui_users else None, auth_message="briefcraft studio",
        allowed_paths=allowed, blocked_paths=blocked, ssr_mode=False, footer_links=[],
        max_file_size=int(settings.max_upload_mb * 1e6),  # Gradio refuses larger uploads before they reach a handler
    )
    who = f"{len(settings.ui_users)} login(s)" if settings.ui_users else "no login: you are the local admin"
    with runner.stop_on_sigterm() as stopping:
        print(f"briefcraft studio: {url} ({who}); Ctrl+C stops it", flush=True)
        try:
            stopping.wait()
            why = "SIGTERM"
        except KeyboardInterrupt:
            stopping.set()  # Ctrl+C drains the running threads the same way
            why = "Ctrl+C"
        demo.close()
        print(f"briefcraft studio: stopping on {why}; running threads stop after their current step", flush=True)
        stopped = runner.drain()
    for thread_id in stopped:
        print(f"stopped on {why}: thread {thread_id}; resume with: briefcraft resume {thread_id}", flush=True)

