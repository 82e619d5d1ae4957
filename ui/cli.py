"""The ``briefcraft`` command line: run a brief, resume a thread with decisions, read a thread's status,
manage brand memory (``briefcraft memory ...``, in ``briefcraft.ui.memory_cli``) and the brand's image style
(``briefcraft brand ...``, in ``briefcraft.ui.brand_cli``), check copy and images and verify a thread's audit
ledger (``briefcraft check|audit ...``, in ``briefcraft.ui.compliance_cli``), sign and verify provenance
(``briefcraft provenance|verify ...``, in ``briefcraft.ui.provenance_cli``), and serve the studio
(``briefcraft ui``, in ``briefcraft.ui.studio_cli``).

Exit codes: 0 done, 3 waiting for a human, 2 bad input (one line on stderr), 1 internal error.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import shlex
import signal
import sys
import typing
import uuid
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from briefcraft import __version__
from briefcraft.agents.intake import brief_line
from briefcraft.errors import BriefcraftError, BriefError, ConfigError, DecisionError
from briefcraft.evals.cli import add_eval_parser, run_eval
from briefcraft.graphs import runner
from briefcraft.graphs.brief_graph import build_graph
from briefcraft.graphs.review import edit_decision, edit_text
from briefcraft.graphs.runner import RunStatus
from briefcraft.schemas import Budget, CreativeBrief, brand_key, validation_message
from briefcraft.settings import load_settings
from briefcraft.ui.brand_cli import add_brand_parser, run_brand
from briefcraft.ui.compliance_cli import add_compliance_parsers, run_audit, run_check
from briefcraft.ui.memory_cli import add_memory_parser, run_memory
from briefcraft.ui.provenance_cli import add_provenance_parsers, run_provenance
from briefcraft.ui.studio_cli import add_ui_parser, run_ui

__all__ = ["main"]

EXIT_DONE, EXIT_INTERNAL, EXIT_BAD_INPUT, EXIT_WAITING = 0, 1, 2, 3
EXIT_STOPPED = 128 + signal.SIGTERM  #: the shell's code for "ended by SIGTERM": the thread is resumable
#: A new thread's id names its pack folder (DATA_DIR/packs/THREAD): a plain file name, never a path.
#: Decisions record who made them; ReviewDecision.reviewer holds at most 200 characters.
_MAX_USER = 200


class _Parser(argparse.ArgumentParser):
    """argparse, with its error on one line even when it echoes an argument holding a newline."""

    def error(self, message: str) -> typing.NoReturn:
        """Print the usage and the error (control characters escaped), and exit 2."""
        super().error("".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in message))


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="briefcraft", description="Chat a brief, get an approved campaign pack.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of internal errors")
    parser.add_argument("--version", action="version", version=f"briefcraft {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    deciding = _Parser(add_help=False)
    deciding.add_argument("--out", help="pack folder (default: DATA_DIR/packs/THREAD)")
    deciding.add_argument("--user", help="who decides (default: your login name)")
    deciding.add_argument("--json", action="store_true", help="print the thread status as JSON")
    for flag, kind, what in (("--max-cost-usd", float, "USD the brief's model, image and GPU calls may cost"),
                             ("--max-gpu-seconds", float, "GPU-seconds its diffusers renders may take"),
                             ("--max-revision-rounds", int, "rewrites per rejected item")):
        deciding.add_argument(flag, type=kind, metavar="N", help=f"budget: {what} (run: from the start; resume: "
                              "raises the budget of a thread that stopped before going over it)")

    run = commands.add_parser(
        "run", parents=[deciding], help="run a brief to its first review (or, with --approve all, to the pack)"
    )
    run.add_argument("brief", help="the brief as text, or @FILE (a .json file holds a structured CreativeBrief)")
    run.add_argument("--approve", choices=["all", "none", "ask"], default="none",
                     help="approve every item, stop at the review, or ask in the terminal (default: none)")
    run.add_argument("--thread", help="thread id (default: a new random one)")
    run.add_argument("--brand", help="the brand whose memory to use (default: BRIEFCRAFT_BRAND, else 'default')")

    resume = commands.add_parser(
        "resume", parents=[deciding], help="resume a waiting thread with decisions or an answer"
    )
    resume.add_argument("thread")
    resume.add_argument("--approve", nargs="+", metavar="ID", default=[],
                        help="'all', or the ids of the items to approve")
    resume.add_argument("--reject", action="append", default=[], metavar="ID", help="reject an item (repeatable)")
    resume.add_argument("--comment", action="append", default=[], metavar="TEXT",
                        help="why, for the --reject before it")
    resume.add_argument("--drop", action="append", default=[], metavar="ID",
                        help="leave an item out without reworking it, e.g. an image variant not picked (repeatable)")
    resume.add_argument("--edit", nargs=2, action="append", default=[], metavar=("ID", "'FIELD: TEXT'"),
                        help="edit an item and approve the edit: its fields as 'name: value' lines (or @FILE); "
                        "fields not named keep their text (repeatable)")
    resume.add_argument("--answer", help="answer to a clarifying question")
    resume.add_argument("--decisions", metavar="JSON|@FILE", help="a LangChain HITLResponse")
    resume.add_argument("--checkpoint", metavar="ID",
                        help="the checkpoint the decisions answer (as 'status' printed it): refused if another "
                        "decision moved the thread on first (default: the thread's current checkpoint)")

    show = commands.add_parser("status", help="show a thread's stage and what it waits for")
    show.add_argument("thread")
    show.add_argument("--json", action="store_true", help="print the status as JSON")
    listed = commands.add_parser("threads", help="list the threads, the newest first, with their stage and brief")
    listed.add_argument("--waiting", action="store_true",
                        help="only threads waiting for a person (approval, an answer or a budget)")
    listed.add_argument("--json", action="store_true", help="print the list as JSON")
    add_memory_parser(commands)
    add_brand_parser(commands)
    add_eval_parser(commands)
    add_compliance_parsers(commands)
    add_provenance_parsers(commands)
    add_ui_parser(commands)
    return parser


def _read_arg(value: str) -> str:
    if not value.startswith("@"):
        return value
    path = Path(value[1:])
    try:
        return path.read_text(encoding="utf-8")
    except OSError as error:
        raise BriefError(f"cannot read {path}: {error.strerror}") from error
    except UnicodeDecodeError as error:
        raise BriefError(f"{path} is not UTF-8 text (byte {error.start}); allowed: a UTF-8 text or .json file") \
            from error


def _thread_id(value: str | None) -> str:
    """The id of a new thread: ``value`` checked, or a new random one."""
    return uuid.uuid4().hex[:12] if value is None else runner.check_thread_id(value)


def _user(value: str | None) -> str:
    """Who decides: ``value`` checked, or the login name."""
    if value is None:
        return getpass.getuser()
    if not value.strip() or len(value) > _MAX_USER or not value.isprintable():
        raise DecisionError(f"--user {value[:40]!r} is not usable; allowed: 1-{_MAX_USER} printable characters")
    return value


def _brief(value: str) -> str | CreativeBrief:
    text = _read_arg(value)
    if value.startswith("@") and value.endswith(".json"):
        try:
            return CreativeBrief.model_validate_json(text)
        except ValidationError as error:
            raise BriefError(f"{value[1:]}: {validation_message(error)}") from error
    return text


def _print(current: RunStatus, as_json: bool) -> None:
    if as_json:
        data = current.model_dump(mode="json") | {"question": current.question}
        print(json.dumps(data, indent=2, ensure_ascii=False))
        return
    tid = current.thread_id
    if current.brief is not None:
        print(f"brief: {brief_line(current.brief)}")
        if current.brand_defaults:
            print(f"brand: {current.brand_defaults}; add its guidelines with: briefcraft memory add FILE... --brand "
                  f"{shlex.quote(current.brief.brand)}")
    if current.cost is not None:
        print(f"cost so far: {current.cost.line()}")
    if current.stage == "done":
        if current.compliance:
            print(f"compliance: {current.compliance['status']}, brand score {current.compliance['score']}% "
                  f"(findings in compliance.json; ledger: briefcraft audit verify {tid})")
        print(f"thread {tid}: done; pack written to {current.pack}")
    elif current.stage == "waiting_for_clarification":
        print(f"thread {tid}: waiting for clarification\n  {current.question}")
        print(f"answer with: briefcraft resume {tid} --answer '...'")
    elif current.stage == "waiting_for_budget":
        print(f"thread {tid}: stopped before going over its budget\n  {current.budget_reason}")
        print(f"raise it with: briefcraft resume {tid} --max-cost-usd N (or --max-gpu-seconds N)")
    elif current.stage == "waiting_for_approval":
        print(f"thread {tid}: waiting for approval of {len(current.items)} item(s)")
        for action in current.items:
            item = action["args"]
            print(f"\n  {item['id']}  ({action['name']}, revision {item['revision']})")
            if "fields" in item:
                for name, values in item["fields"].items():
                    for value in values:  # a value's further lines indented under its first
                        print(f"    {name}: " + value.replace("\n", "\n" + " " * (len(name) + 6)))
            else:
                print(f"    {item['width']}x{item['height']} {item['path']}")
            for line in action.get("description", "").splitlines():
                print(f"    > {line}")
        print(f"\nresume with: briefcraft resume {tid} --checkpoint {current.checkpoint} --approve all"
              "   (or --approve ID... --reject ID --comment '...' --edit ID 'FIELD: TEXT' --drop ID)")
    else:
        print(f"thread {tid}: {current.stage}" + (f": {current.error}" if current.error else ""))
        if current.input_refused:  # the same input fails the same way: only a setting the error names can help
            retry = f" (or change the setting it names and retry: briefcraft resume {tid})"
            print("start a new thread with the input corrected: briefcraft run BRIEF"
                  + (retry if "BRIEFCRAFT_" in str(current.error) else ""))
        elif not _stopped(current):  # its error already says how to resume
            print(f"retry with: briefcraft resume {tid}")


def _stopped(current: RunStatus) -> bool:
    """Whether the run stopped on SIGTERM between two steps."""
    return current.stage == "interrupted" and (current.error or "").startswith("stopped on SIGTERM")


#: The resume flags that decide, by the stage they answer.
_DECIDING_FLAGS = {
    "waiting_for_approval": ("approve", "reject", "comment", "drop", "edit"),
    "waiting_for_clarification": ("answer",),
    "waiting_for_budget": ("max_cost_usd", "max_gpu_seconds", "max_revision_rounds"),
}


def _flag(name: str) -> str:
    """An argparse destination as the flag is typed: ``max_cost_usd`` -> ``--max-cost-usd``."""
    return "--" + name.replace("_", "-")


def _flags_given(args: argparse.Namespace, names: Sequence[str]) -> list[str]:
    """The flags among ``names`` given on the command line, as typed."""
    return [_flag(name) for name in names if getattr(args, name) not in (None, [])]


def _check_flags(args: argparse.Namespace, current: RunStatus) -> None:
    """Refuse deciding flags that the thread's stage would ignore, rather than drop them without a word."""
    answers = {stage: _flags_given(args, names) for stage, names in _DECIDING_FLAGS.items()}
    if args.decisions and (others := [flag for flags in answers.values() for flag in flags]):
        raise DecisionError(f"--decisions gives every decision; {', '.join(others)} cannot be added to it")
    stray = [flag for stage, flags in answers.items() if stage != current.stage for flag in flags]
    if stray and current.stage != "done":  # a done thread's own error says where its pack is
        takes = ", ".join(map(_flag, _DECIDING_FLAGS.get(current.stage, ())))
        after = ("its input was refused: start a new thread with it corrected" if current.input_refused else
                 f"retry it with: briefcraft resume {current.thread_id}")
        raise DecisionError(
            f"thread {current.thread_id!r} is {current.stage.replace('_', ' ')}: {', '.join(stray)} "
            f"{'does' if len(stray) == 1 else 'do'} not apply" + (
                f"; it takes {takes} or --decisions" if takes else f"; nothing waits for a decision ({after})"))


def _decisions(args: argparse.Namespace, current: RunStatus) -> dict[str, Any] | None:
    """The HITL response the resume flags describe, checked against the pending items."""
    if args.decisions:
        try:
            response: dict[str, Any] = json.loads(_read_arg(args.decisions))
        except json.JSONDecodeError as error:
            raise DecisionError(f"--decisions is not valid JSON: {error.msg} at line {error.lineno}") from error
        return response
    if current.stage == "waiting_for_clarification":
        if args.answer is None:
            raise DecisionError(f"thread {current.thread_id!r} asks: {current.question} (answer with --answer)")
        return {"decisions": [{"type": "respond", "message": args.answer}]}
    if current.stage == "waiting_for_budget":
        if (limits := _limits(args)) is None:
            raise DecisionError(f"thread {current.thread_id!r} stopped: {current.budget_reason}; raise the budget "
                                "with --max-cost-usd N, --max-gpu-seconds N or --max-revision-rounds N")
        return runner.raise_budget(limits)
    if not current.waiting:
        return None
    actions = {action["args"]["id"]: action for action in current.items}
    ids = list(actions)
    if len(args.comment) > len(args.reject):
        raise DecisionError("each --comment must follow a --reject ID")
    rejected = dict(zip(args.reject, args.comment + [None] * (len(args.reject) - len(args.comment)), strict=True))
    edits: dict[str, list[str]] = {}
    for item_id, text in args.edit:  # an item edited twice: both edits' fields
        edits.setdefault(item_id, []).append(_read_arg(text))
    chosen = {"reject": list(rejected), "drop": list(args.drop), "edit": list(edits)}
    chosen["approve"] = [i for i in ids if i not in {*rejected, *args.drop, *edits}] if args.approve == ["all"] \
        else list(args.approve)
    given: dict[str, str] = {}
    for kind, item_ids in chosen.items():
        for item_id in item_ids:
            if item_id not in ids:
                raise DecisionError(f"unknown item id {item_id!r}; pending: {', '.join(ids)}")
            if item_id in given:
                raise DecisionError(f"item {item_id!r} has two decisions: {given[item_id]} and {kind}")
            given[item_id] = kind
    if undecided := [i for i in ids if i not in given]:
        raise DecisionError(f"no decision for {', '.join(undecided)}; use --approve ID, --reject ID, --edit ID "
                            "'FIELD: TEXT', --drop ID or --approve all")

    def decision(item_id: str) -> dict[str, Any]:
        if given[item_id] == "edit":
            return edit_decision(actions[item_id], "\n".join(edits[item_id]), partial=True)
        if given[item_id] == "reject" and rejected[item_id]:
            return {"type": "reject", "message": rejected[item_id]}
        return {"type": given[item_id]}

    return {"decisions": [decision(item_id) for item_id in ids]}


def _ask(current: RunStatus) -> dict[str, Any]:
    """Ask the terminal user for each pending decision."""
    if current.stage == "waiting_for_clarification":
        return {"decisions": [{"type": "respond", "message": input(f"{current.question}\n> ")}]}
    decisions: list[dict[str, Any]] = []
    for index, action in enumerate(current.items):
        prompt = f"{action['args']['id']}: [a]pprove, [r]eject, [e]dit, [d]rop, or approve [all] from here? "
        while (choice := input(prompt).strip().lower()) not in ("a", "r", "e", "d", "all"):
            print("type a, r, e, d or all")
        if choice == "all":
            rest = current.items[index:]
            print(f"approved {', '.join(a['args']['id'] for a in rest)}")
            return {"decisions": [*decisions, *({"type": "approve"} for _ in rest)]}
        if choice == "a":
            decisions.append({"type": "approve"})
        elif choice == "d":
            decisions.append({"type": "drop"})
        elif choice == "e":
            decisions.append(_ask_edit(action))
        else:
            decisions.append({"type": "reject", "message": input("comment: ")})
    return {"decisions": decisions}


def _ask_edit(action: dict[str, Any]) -> dict[str, Any]:
    """An edit typed in the terminal: 'name: value' lines up to an empty one; fields not typed keep their text."""
    print(f"now:\n{edit_text(action)}\ntype the fields to change as 'name: value' lines, then an empty line")
    while True:
        lines = list(iter(lambda: input("| "), ""))
        try:
            return edit_decision(action, "\n".join(lines), partial=True)
        except DecisionError as error:
            print(f"{error}; type the lines again")


def _limits(args: argparse.Namespace) -> Budget | None:
    """The budget the --max-* flags give, or None without any."""
    given = {name: getattr(args, name) for name in Budget.model_fields if getattr(args, name) is not None}
    if not given:
        return None
    try:
        return Budget(**given)
    except ValidationError as error:
        raise DecisionError(f"budget: {validation_message(error)}") from error


def _finish(current: RunStatus, as_json: bool) -> int:
    _print(current, as_json)
    if current.waiting:
        return EXIT_WAITING
    if _stopped(current):
        return EXIT_STOPPED
    return EXIT_DONE if current.stage == "done" else EXIT_INTERNAL


def _run(args: argparse.Namespace) -> int:
    settings = load_settings()
    brief = _brief(args.brief)
    thread_id, user = _thread_id(args.thread), _user(args.user)
    graph = build_graph(settings)
    current = runner.start(
        graph, brief, thread_id=thread_id, max_brief_chars=settings.max_brief_chars,
        out_dir=args.out, brand=args.brand or settings.brand, user=user, limits=_limits(args),
    )
    while current.waiting and args.approve != "none":
        if current.stage == "waiting_for_budget":
            break  # approving items does not raise a budget: someone must, with resume --max-...
        if args.approve == "all":
            if current.stage == "waiting_for_clarification":
                break  # approving cannot answer a question: the marketer must
            response = runner.approve_all(current)
        else:
            try:
                response = _ask(current)
            except EOFError:  # stdin ended (a script, `< /dev/null`): the thread waits, as with --approve none
                print("briefcraft: input ended before everything pending had an answer; nothing of this checkpoint "
                      "was decided", file=sys.stderr)
                break
        current = runner.resume(graph, current.thread_id, response, user=user, checkpoint=current.checkpoint)
    return _finish(current, args.json)


def _resume(args: argparse.Namespace) -> int:
    user = _user(args.user)
    graph = build_graph(load_settings())
    current = runner.status(graph, args.thread)
    _check_flags(args, current)
    response = _decisions(args, current) if current.waiting or args.decisions else None
    checkpoint = args.checkpoint or current.checkpoint
    return _finish(runner.resume(graph, args.thread, response, user=user, out_dir=args.out, checkpoint=checkpoint),
                   args.json)


def _status(args: argparse.Namespace) -> int:
    settings = load_settings()
    return _finish(runner.status(build_graph(settings), args.thread, audit_dir=settings.audit_dir), args.json)


def _threads(args: argparse.Namespace) -> int:
    graph = build_graph(load_settings())
    rows: list[dict[str, Any]] = []
    for info in runner.threads(graph):
        current = runner.status(graph, info.thread_id)
        if args.waiting and not current.waiting:
            continue
        waits_for = [action["args"]["id"] for action in current.items] or [
            line for line in (current.question, current.budget_reason) if line]
        rows.append({**info.model_dump(mode="json"), "stage": current.stage,
                     "brief": brief_line(current.brief) if current.brief else None,
                     "waits_for": waits_for})
    if args.json:
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return EXIT_DONE
    for row in rows:
        started = datetime.fromisoformat(row["started"]).astimezone().strftime("%Y-%m-%d %H:%M")
        print(f"{row['thread_id']}  {row['stage']}  started {started}" + (f" by {row['user']}" * bool(row["user"]))
              + f"\n  {row['brief'] or row['title'] or '(no brief: its input was refused)'}"
              + (f"\n  waits for: {', '.join(row['waits_for'])}" if row["waits_for"] else ""))
    if not rows:
        print("no threads waiting for a person" if args.waiting else "no threads yet; start one with 'briefcraft run'")
    return EXIT_DONE


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``briefcraft`` command."""
    args = _parser().parse_args(argv)
    handlers = {"run": _run, "resume": _resume, "status": _status, "threads": _threads, "memory": run_memory,
                "brand": run_brand, "check": run_check, "audit": run_audit, "provenance": run_provenance,
                "verify": run_provenance, "ui": run_ui, "eval": run_eval}
    try:
        if getattr(args, "brand", None) is not None:  # before any work, and named as the flag
            if not args.brand.strip():  # `--brand "$UNSET"` is no default
                raise ConfigError("--brand is empty; give a brand name, or leave the flag out to use BRIEFCRAFT_BRAND "
                                  "(else 'default')")
            brand_key(args.brand)
        with runner.stop_on_sigterm():  # a run stops between two steps, resumable, rather than midway
            return handlers[args.command](args)
    except BriefcraftError as error:
        print(f"briefcraft: error: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("briefcraft: interrupted; the thread is resumable", file=sys.stderr)
        return EXIT_INTERNAL
    except BrokenPipeError:  # the reader went away (`briefcraft status T | head`): nothing left to say to it
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so the exit's flush does not fail again
        return EXIT_INTERNAL
    except Exception as error:
        if args.debug:
            raise
        print(f"briefcraft: internal error: {type(error).__name__}: {error} (rerun with --debug)", file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
