"""``briefcraft check copy|image`` and ``briefcraft audit verify``: compliance checks and the audit ledger
from the command line, as a contract for scripts and other tools.

``check`` prints ``{"status", "score", "findings": [{"rule", "severity", "start", "end", "message",
"suggestion", "source"}]}`` with ``--json``. Exit codes: 0 approved or review (warnings only), 4 blocked, 2 bad
input. ``audit verify`` exits 0 when the ledger verifies and 4 when it does not.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from briefcraft.errors import BriefError, CheckError
from briefcraft.graphs import runner
from briefcraft.graphs.brief_graph import build_graph
from briefcraft.memory.store import ChromaBrandMemory
from briefcraft.pricing import summarize
from briefcraft.schemas import BrandContext, ComplianceReport, ItemCheck
from briefcraft.settings import Settings, load_settings
from briefcraft.tools.audit import FailedSpend
from briefcraft.tools.checks import CopyChecker
from briefcraft.tools.image_checks import SafetyChecker, check_image_file

__all__ = ["EXIT_BLOCKED", "add_compliance_parsers", "run_audit", "run_check"]

#: Exit code of a check that blocks, and of a ledger or an image's provenance that does not verify.
EXIT_BLOCKED = 4


def add_compliance_parsers(commands: Any) -> None:
    """Add ``check`` and ``audit`` and their subcommands to the ``briefcraft`` parser."""
    check = commands.add_parser("check", help="check copy or an image against brand, claims and channel rules")
    kinds = check.add_subparsers(dest="kind", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--brand", help="apply this brand's rules from brand memory (default: none)")
    common.add_argument("--json", action="store_true", help="print JSON")
    copy = kinds.add_parser("copy", parents=[common], help="check one piece of copy")
    copy.add_argument("text", help="the copy, or @FILE")
    copy.add_argument("--channel", required=True, help="channel id from the channel catalog")
    copy.add_argument("--field", help="the channel field the text is for (default: the channel's body field)")
    copy.add_argument("--require", action="append", default=[], metavar="TEXT", help="mandatory text (repeatable)")
    copy.add_argument("--forbid", action="append", default=[], metavar="TERM", help="forbidden term (repeatable)")
    copy.add_argument("--contact", action="append", metavar="VALUE",
                      help="a web address, email address or phone number the copy may carry (repeatable); with any "
                      "--contact, every other one is an error ('--contact none': the copy may carry none)")
    image = kinds.add_parser("image", parents=[common], help="check an image file")
    image.add_argument("file")
    image.add_argument("--alt", help="the image's alt text (default: the alt text recorded in the file)")

    audit = commands.add_parser("audit", help="the hash-chained audit ledger of a thread")
    verbs = audit.add_subparsers(dest="verb", required=True)
    verify = verbs.add_parser("verify", help="check that a thread's ledger was not edited, reordered or cut")
    verify.add_argument("thread")
    verify.add_argument("--json", action="store_true", help="print JSON")


def _brand(settings: Settings, name: str | None) -> BrandContext | None:
    if name is None:
        return None
    with ChromaBrandMemory(settings) as memory:
        context = memory.rules(name)
    if context is None:
        raise BriefError(f"brand {name!r} has nothing in brand memory; add its guidelines with "
                         f"'briefcraft memory add FILE --brand {name}'")
    return context


def _text(value: str) -> str:
    if not value.startswith("@"):
        return value
    try:
        return Path(value[1:]).read_text(encoding="utf-8")
    except OSError as error:
        raise CheckError(f"cannot read {value[1:]}: {error.strerror}") from error


def _report(check: ItemCheck, as_json: bool) -> int:
    report = ComplianceReport.of([check])
    status = report.item_status(check.item_id)
    if as_json:
        print(json.dumps({
            "status": status, "score": report.item_score(check.item_id),
            "findings": [
                {"rule": f.rule_id, "severity": f.severity, "start": f.span[0] if f.span else None,
                 "end": f.span[1] if f.span else None, "field": f.field, "message": f.message,
                 "suggestion": f.suggestion, "source": f.source, "origin": f.origin}
                for f in check.findings
            ],
            "not_checked": check.not_checked,
        }, indent=2, ensure_ascii=False))
    else:
        print(f"{status} (brand score {report.item_score(check.item_id)}%, {len(check.tested)} rules tested)")
        for f in check.findings:
            where = f" [{f.span[0]}:{f.span[1]}]" if f.span else ""
            print(f"  {f.severity:<7} {f.rule_id}{where}: {f.message}" + (f" -> {f.suggestion}" if f.suggestion
                                                                          else "") + f"  ({f.source})")
        for what in check.not_checked:
            print(f"  not checked: {what}")
    return EXIT_BLOCKED if status == "blocked" else 0


def run_check(args: argparse.Namespace) -> int:
    """Run ``check copy`` or ``check image``; returns the exit code."""
    settings = load_settings()
    brand = _brand(settings, args.brand)
    if args.kind == "copy":
        contacts = None if args.contact is None else [c for c in args.contact if c.strip().lower() != "none"]
        checker = CopyChecker(brand=brand, mandatory=args.require, forbidden=args.forbid, contacts=contacts)
        return _report(checker.check_text(_text(args.text), channel=args.channel, field=args.field), args.json)
    safety = SafetyChecker.load(settings.safety_model) if settings.safety_model else None
    check = check_image_file(
        Path(args.file), palette=brand.palette if brand else [],
        references=brand.references if brand else [], max_delta_e=settings.palette_max_delta_e,
        max_distance=settings.similarity_max_distance, safety=safety,
        safety_unchecked_blocks=settings.safety_unchecked_blocks, alt_text=args.alt,
    )
    return _report(check, args.json)


def run_audit(args: argparse.Namespace) -> int:
    """Run ``audit verify``; returns the exit code."""
    settings = load_settings()
    result, events = runner.verify_ledger(build_graph(settings), args.thread, settings.audit_dir)
    if args.json:
        print(result.model_dump_json(indent=2))
    elif result.valid:
        pending = len(events) - result.entries
        print(f"ledger of thread {args.thread!r} verifies: {result.entries} entries, head {result.head[:16]}"
              + (f" ({pending} newer event(s) are written at the thread's next step)" if pending > 0 else ""))
        failed = FailedSpend(settings.audit_dir, args.thread)
        if kept := failed.unrecorded(events):
            print(f"{len(kept)} call(s) of failed steps, {summarize(kept).line()}, are kept in {failed.path}; they "
                  "go into the audit when the thread goes on")
    else:
        print(f"ledger of thread {args.thread!r} does NOT verify: {result.problem}", file=sys.stderr)
    return 0 if result.valid else EXIT_BLOCKED
