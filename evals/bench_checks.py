"""Benchmark: deterministic copy checks, snippets per second with one compiled ``CopyChecker``.

    .venv/bin/python evals/bench_checks.py [--n 1000] [--repeat 7] [--seed 7]

Builds N varied snippets (clean copy, puffery, claims, statistics with and without a source, testimonials,
non-inclusive words, misspelt product names, emoji, hashtags, too-long values) across every channel and field,
compiles one checker for a brief and a brand kit, checks the batch ``--repeat`` times after one warm-up batch,
and prints the median seconds per batch, snippets/s and the findings per family as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import time
from collections import Counter
from typing import Any

from briefcraft.channels import load_catalog
from briefcraft.schemas import BrandContext, Cited
from briefcraft.tools.checks import CopyChecker

CLEAN = (
    "Smooth oat cold brew for the morning U-Bahn ride.", "Slow-steeped overnight, ready when you are.",
    "Irresistibly smooth, deliciously simple.", "The best way to start your day.", "Your new morning ritual.",
    "Northbound Cold Brew, now in Berlin.", "Save 20% on your first order.", "Made with 100% oat milk.",
    "Pick one up at any kiosk on the Ringbahn.", "Cold, calm and on the move.",
)
RISKY = (
    "The #1 cold brew in Berlin.", "9 out of 10 commuters agree.", "73% of Berliners prefer it (YouGov, 2025).",
    "Boosts your immune system.", "Detox your mornings.", "Guaranteed returns, zero risk.",
    "I've been drinking it every morning and I love it.", "I've been drinking it every morning #ad",
    "That's crazy good, guys.", "Hey guys, it's insanely smooth!", "northbound cold brew for everyone.",
    "Cheaper than Oatly and sugar-free.", "Best coffee in the world!!", "Clinically proven to lower cholesterol.",
    "Passive income while you sleep.", "\"Best coffee ever\" — Anna, Berlin", "GET YOURS NOW ☕🔥✨",
    "#cold #brew #oat #berlin #morning #commute", "Contains oats.",
)
BRAND = BrandContext(
    brand="northbound", palette=["#1F3A5F"],
    forbidden_terms=[Cited(value="diet", source="guidelines.md > Words > Never say")],
    dont_words=[Cited(value="hack", source="guidelines.md > Words > Avoid")],
    required_disclaimers=[Cited(value="Contains oats", source="guidelines.md > Always include")],
    product_names=[Cited(value=name, source="guidelines.md > Product names")
                   for name in ("Northbound Cold Brew", "Northbound Oat Cold Brew", "Northbound Night Shift")],
    competitors=[Cited(value="Oatly", source="guidelines.md > Competitors")],
    style_rules=[Cited(value="No all-caps words and at most one exclamation mark per piece.",
                       source="guidelines.md > Voice"),
                 Cited(value="Headlines in sentence case.", source="guidelines.md > Voice")],
)


def snippets(n: int, seed: int) -> list[tuple[str, str, str]]:
    """``n`` reproducible ``(text, channel, field)`` snippets: 1-3 sentences, about a third of them risky."""
    rng = random.Random(seed)
    slots = [(channel.id, spec.name) for channel in load_catalog().values() for spec in channel.fields]
    batch = []
    for _ in range(n):
        channel, field = rng.choice(slots)
        parts = [rng.choice(RISKY if rng.random() < 0.35 else CLEAN) for _ in range(rng.randint(1, 3))]
        batch.append((" ".join(parts), channel, field))
    return batch


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the benchmark; print and return its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="snippets per batch")
    parser.add_argument("--repeat", type=int, default=7, help="timed batches (the median is reported)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    if args.n < 1 or args.repeat < 1:
        parser.error(f"--n {args.n} --repeat {args.repeat}: allowed --n >= 1, --repeat >= 1")
    batch = snippets(args.n, args.seed)
    started = time.perf_counter()
    checker = CopyChecker(brand=BRAND, mandatory=["Contains oats"], forbidden=["cheap", "sugar free"],
                          contacts=["northbound.coffee"])
    compile_s = time.perf_counter() - started
    families: Counter[str] = Counter()
    for text, channel, field in batch:  # warm-up, and the findings the timed batches reproduce
        found = checker.check_text(text, channel=channel, field=field).findings
        families.update(finding.rule_id.split(".")[0] for finding in found)
    timings = []
    for _ in range(args.repeat):
        started = time.perf_counter()
        for text, channel, field in batch:
            checker.check_text(text, channel=channel, field=field)
        timings.append(time.perf_counter() - started)
    median = statistics.median(timings)
    result: dict[str, Any] = {
        "n": args.n, "repeat": args.repeat, "median_s": round(median, 4), "min_s": round(min(timings), 4),
        "snippets_per_s": round(args.n / median, 1), "compile_s": round(compile_s, 4),
        "findings_per_batch": sum(families.values()), "findings_by_family": dict(sorted(families.items())),
        "python": platform.python_version(), "cpus": os.cpu_count(),
    }
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
