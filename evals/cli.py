"""``briefcraft eval [SUITE...]``: run the eval suites with the configured model (or ``--provider``'s) and write
``<provider>.json`` and ``<provider>.md`` (e.g. ``evals/results/local.json``).

Exit codes: 0 the run completed, 1 a must-be-100% figure (channel-limit adherence, mandatory-element inclusion)
fell short or a redteam figure that must be 0 (bypasses, outside calls, leaks, changed mandatory elements) was not,
2 bad input (one line on stderr, from the ``briefcraft`` entry point).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from briefcraft.evals.suites import COPY_LIMIT, SUITES, headlines, run_eval_suites, shortfalls, write_results
from briefcraft.settings import load_settings

__all__ = ["DEFAULT_OUT", "add_eval_parser", "exit_code", "run_eval"]

#: Where results go without --out: the folder of committed results, relative to the repository root.
DEFAULT_OUT = Path("evals") / "results"


def add_eval_parser(commands: Any) -> None:
    """Add ``eval`` to the ``briefcraft`` parser."""
    run = commands.add_parser("eval", help="run the eval suites and write a JSON and markdown report")
    run.add_argument("suites", nargs="*", metavar="SUITE", help=f"any of {', '.join(SUITES)} (default: all but "
                     "redteam, whose 55 graph runs take about 25 minutes on 2 cores)")
    run.add_argument("--provider", metavar="P",
                     help="the chat model as PROVIDER[:MODEL] for this run (as BRIEFCRAFT_LLM), e.g. "
                     "openai:gpt-4o-mini, anthropic:claude-sonnet-4-5, openai-compatible:NAME with --base-url")
    run.add_argument("--base-url", metavar="URL",
                     help="an openai-compatible server's base URL (as BRIEFCRAFT_LLM_BASE_URL)")
    run.add_argument("--out", metavar="DIR", default=str(DEFAULT_OUT),
                     help=f"folder for PROVIDER.json and PROVIDER.md (default: {DEFAULT_OUT})")
    run.add_argument("--limit", type=int, default=COPY_LIMIT, metavar="N",
                     help=f"how many briefs the copy suite runs (default: {COPY_LIMIT})")
    run.add_argument("--briefs", metavar="ID,ID", default="",
                     help="run the brief and copy suites on these brief ids only, e.g. b001,b012")
    run.add_argument("--cases", metavar="ID,ID", default="",
                     help="run the redteam suite on these case ids only, e.g. r001,r015")
    run.add_argument("--data", metavar="DIR", help="the data dir whose packs the edits suite reads "
                     "(default: BRIEFCRAFT_DATA_DIR)")


def _progress(line: str) -> None:
    print(f"eval: {line}", file=sys.stderr, flush=True)


def exit_code(results: dict[str, Any]) -> int:
    """0 when the run met every must-be-100% and must-be-0 figure (or measured none), 1 when one fell short."""
    return 1 if shortfalls(results) else 0


def run_eval(args: argparse.Namespace) -> int:
    """Run the suites ``args`` name; 1 when a must-be-100% or must-be-0 figure fell short, else 0."""
    overrides = {k: v for k, v in (("llm", args.provider), ("llm_base_url", args.base_url)) if v}
    settings = load_settings(**overrides)
    results = run_eval_suites(
        settings, args.suites or [s for s in SUITES if s != "redteam"],
        brief_ids=[i.strip() for i in args.briefs.split(",") if i.strip()],
        case_ids=[i.strip() for i in args.cases.split(",") if i.strip()],
        limit=args.limit, data_dir=Path(args.data) if args.data else None, log=_progress,
    )
    data, report = write_results(results, Path(args.out))
    for line in headlines(results):
        print(line)
    print(f"wrote {data} and {report} ({results['wall_s']:.0f} s)")
    for line in results["shortfalls"]:
        print(f"briefcraft: eval: {line}", file=sys.stderr)
    return exit_code(results)
