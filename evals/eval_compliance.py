"""Eval: precision and recall of the copy compliance checks, per rule family, on a labelled snippet set.

    .venv/bin/python evals/eval_compliance.py [--json [PATH]] [--errors] [--min 0.9]

Each snippet of ``compliance/snippets.jsonl`` goes through ``CopyChecker.check_text`` with the eval brand of
``compliance/brand.yaml`` (when the snippet says ``"brand": true``) and the snippet's brief-level mandatory and
forbidden terms and contact details (``contacts``: null leaves contact details unchecked, as copy checked without a
brief). A family counts as predicted on a snippet when any warning or error has a rule id in it
(``family.specific``); ``expected`` is the set a correct checker reports. Scores are per snippet: a family
found twice in one snippet is one true positive. The labels were written from the family definitions alone,
without reading the checker (see evals/README.md).

``--json`` prints the figures as JSON instead of the table (``--json PATH`` writes them there as well);
``--errors`` lists the snippets where predicted and expected differ; ``--min X`` exits 1 when any family's
precision or recall is below X.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field, ValidationError, ValidationInfo, field_validator

from briefcraft.channels import get_channel
from briefcraft.evals.datasets import Record, load_records
from briefcraft.schemas import BrandContext, validation_message

__all__ = [
    "BRAND_FILE",
    "FAMILIES",
    "SNIPPETS_FILE",
    "FamilyScore",
    "Snippet",
    "check_all",
    "load_brand",
    "load_snippets",
    "main",
    "score",
]

HERE = Path(__file__).resolve().parent / "compliance"
BRAND_FILE = HERE / "brand.yaml"
SNIPPETS_FILE = HERE / "snippets.jsonl"

#: The deterministic rule families the labels cover, in the order the table prints them.
FAMILIES = (
    "channel-limit", "forbidden-term", "missing-disclosure", "disclosure-wording", "unsubstantiated-claim",
    "health-claim", "financial-claim", "environmental-claim", "endorsement-disclosure", "inclusive-language",
    "terminology", "style", "unfinished-copy", "contact-detail",
)


class Snippet(Record):
    """One labelled piece of copy: where it runs, which rules apply, and the families a checker should report."""

    id: str = Field(pattern=r"^s\d{4}$")
    channel: str
    field: str | None = Field(description="The channel's copy field, or null for copy not tied to one field.")
    text: str = Field(min_length=1)
    brand: bool = Field(description="Whether the eval brand (its terms, disclaimers, names and style) applies.")
    require: tuple[str, ...] = Field(default=(), description="The brief's mandatory elements.")
    forbid: tuple[str, ...] = Field(default=(), description="The brief's forbidden terms.")
    contacts: tuple[str, ...] | None = Field(
        default=None, description="The brief's contact details; null: copy checked without a brief (not checked)."
    )
    expected: frozenset[str] = Field(description="Families a correct checker reports; empty for clean copy.")
    note: str = Field(default="", description="Why the label is what it is, for tricky snippets.")

    @field_validator("channel")
    @classmethod
    def _known_channel(cls, value: str) -> str:
        try:
            get_channel(value)
        except KeyError as error:  # pydantic reports only ValueErrors as validation errors
            raise ValueError(error.args[0]) from error
        return value

    @field_validator("field")
    @classmethod
    def _known_field(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None or "channel" not in info.data:  # no field, or the channel already failed
            return value
        channel = get_channel(info.data["channel"])
        if value not in {f.name for f in channel.fields}:
            allowed = ", ".join(f.name for f in channel.fields)
            raise ValueError(f"channel {channel.id!r} has no field {value!r}; allowed: {allowed}")
        return value

    @field_validator("expected")
    @classmethod
    def _known_families(cls, value: frozenset[str]) -> frozenset[str]:
        if unknown := sorted(value - set(FAMILIES)):
            raise ValueError(f"unknown family {unknown[0]!r}; allowed: {', '.join(FAMILIES)}")
        return value


@dataclass(frozen=True)
class FamilyScore:
    """Snippet-level counts of one family, and the precision, recall and F1 they give."""

    tp: int
    fp: int
    fn: int

    @property
    def support(self) -> int:
        """Snippets labelled with the family."""
        return self.tp + self.fn

    @property
    def precision(self) -> float:
        """TP / (TP + FP); 1.0 when the family was never predicted (no false alarm)."""
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        """TP / (TP + FN); 1.0 when no snippet is labelled with the family."""
        return self.tp / self.support if self.support else 1.0

    @property
    def f1(self) -> float:
        """Harmonic mean of precision and recall."""
        total = self.precision + self.recall
        return 2 * self.precision * self.recall / total if total else 0.0

    def as_dict(self) -> dict[str, float | int]:
        """The counts and rates, rates rounded to 4 places."""
        return {"support": self.support, "tp": self.tp, "fp": self.fp, "fn": self.fn,
                "precision": round(self.precision, 4), "recall": round(self.recall, 4), "f1": round(self.f1, 4)}


def score(
    pairs: Iterable[tuple[Iterable[str], Iterable[str]]], families: Sequence[str] = FAMILIES
) -> dict[str, FamilyScore]:
    """Per family TP/FP/FN over (expected, predicted) family sets, one pair per snippet."""
    counts = {family: Counter[str]() for family in families}
    for expected, predicted in pairs:
        wanted, found = set(expected), set(predicted)
        for family in families:
            if family in wanted and family in found:
                counts[family]["tp"] += 1
            elif family in found:
                counts[family]["fp"] += 1
            elif family in wanted:
                counts[family]["fn"] += 1
    return {family: FamilyScore(c["tp"], c["fp"], c["fn"]) for family, c in counts.items()}


def load_brand(path: Path = BRAND_FILE) -> BrandContext:
    """The eval brand from its YAML file."""
    try:
        return BrandContext.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    except ValidationError as error:
        raise ValueError(f"{path}: {validation_message(error)}") from error


def load_snippets(path: Path = SNIPPETS_FILE) -> list[Snippet]:
    """Every snippet of the JSON-lines file; ``ValueError`` naming the line of a malformed or repeated one."""
    return load_records(path, Snippet)


def check_all(snippets: Sequence[Snippet], brand: BrandContext) -> tuple[list[set[str]], Counter[str], float]:
    """Families predicted per snippet, findings of families outside FAMILIES, and seconds spent checking."""
    from briefcraft.tools.checks import CopyChecker  # here, so that loading and scoring work without the checker

    checkers = {
        key: CopyChecker(brand=brand if key[0] else None, mandatory=list(key[1]), forbidden=list(key[2]),
                         contacts=None if key[3] is None else list(key[3]))
        for key in {(s.brand, s.require, s.forbid, s.contacts) for s in snippets}
    }
    predicted: list[set[str]] = []
    other: Counter[str] = Counter()
    started = time.perf_counter()
    for s in snippets:
        result = checkers[(s.brand, s.require, s.forbid, s.contacts)].check_text(
            s.text, channel=s.channel, field=s.field, item_id=s.id
        )
        families = {f.rule_id.split(".")[0] for f in result.findings if f.severity in ("error", "warning")}
        other.update(families - set(FAMILIES))
        predicted.append(families & set(FAMILIES))
    return predicted, other, time.perf_counter() - started


def _table(report: dict[str, Any]) -> str:
    lines = [f"{'family':<24}{'support':>8}{'TP':>5}{'FP':>5}{'FN':>5}{'precision':>11}{'recall':>8}{'F1':>7}"]
    for family, row in report["families"].items():
        lines.append(f"{family:<24}{row['support']:>8}{row['tp']:>5}{row['fp']:>5}{row['fn']:>5}"
                     f"{row['precision']:>11.3f}{row['recall']:>8.3f}{row['f1']:>7.3f}")
    if report["other_families"]:
        lines.append("other families reported (not scored): "
                     + ", ".join(f"{k} x{v}" for k, v in report["other_families"].items()))
    lines.append(f"{report['snippets']} snippets ({report['clean']} clean) checked in {report['check_seconds']:.3f} s"
                 f" ({report['snippets_per_s']:.0f} snippets/s)")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the eval; 1 when ``--min`` is given and a family falls below it, else 0."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--json", nargs="?", const="-", metavar="PATH",
                        help="print JSON instead of the table; with PATH, also write it there")
    parser.add_argument("--errors", action="store_true", help="list snippets whose predicted families differ")
    parser.add_argument("--min", type=float, default=None, metavar="X",
                        help="exit 1 when any family's precision or recall is below X")
    parser.add_argument("--snippets", type=Path, default=SNIPPETS_FILE)
    parser.add_argument("--brand", type=Path, default=BRAND_FILE)
    args = parser.parse_args(argv)

    snippets = load_snippets(args.snippets)
    predicted, other, seconds = check_all(snippets, load_brand(args.brand))
    scores = score((s.expected, p) for s, p in zip(snippets, predicted, strict=True))
    errors = [
        {"id": s.id, "expected": sorted(s.expected), "predicted": sorted(p), "missed": sorted(s.expected - p),
         "extra": sorted(p - s.expected), "text": s.text, "note": s.note}
        for s, p in zip(snippets, predicted, strict=True) if p != s.expected
    ]
    report: dict[str, Any] = {
        "snippets": len(snippets), "clean": sum(not s.expected for s in snippets),
        "check_seconds": round(seconds, 4), "snippets_per_s": round(len(snippets) / seconds, 1) if seconds else 0.0,
        "families": {family: value.as_dict() for family, value in scores.items()},
        "other_families": dict(sorted(other.items())), "errors": errors,
    }
    if args.json not in (None, "-"):
        Path(args.json).write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(json.dumps(report, indent=2, ensure_ascii=False) if args.json == "-" else _table(report))
    if args.errors and args.json != "-":
        for e in errors:
            wanted, found = ", ".join(e["expected"]) or "-", ", ".join(e["predicted"]) or "-"
            note = f"  [{e['note']}]" if e["note"] else ""
            print(f"{e['id']}  expected: {wanted}  predicted: {found}  | {e['text'][:90]}{note}")
    if args.min is not None:
        below = [f"{family} (precision {value.precision:.3f}, recall {value.recall:.3f})"
                 for family, value in scores.items() if min(value.precision, value.recall) < args.min]
        if below:
            print(f"below --min {args.min}: " + "; ".join(below), file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
