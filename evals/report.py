"""What the benchmark scripts share for their figures: medians, nearest-rank p95, markdown tables."""

from __future__ import annotations

import math
import statistics

__all__ = ["markdown_table", "median", "p95"]


def median(values: list[float]) -> float | None:
    """The median; None without samples."""
    return statistics.median(values) if values else None


def p95(values: list[float]) -> float | None:
    """Nearest-rank 95th percentile (with 30 samples: the 29th smallest); None without samples."""
    return sorted(values)[math.ceil(0.95 * len(values)) - 1] if values else None


def markdown_table(headers: list[str], rows: list[list[str]]) -> str:
    """A markdown table of ``rows`` under ``headers``."""
    lines = ["| " + " | ".join(headers) + " |", "| " + " | ".join("---" for _ in headers) + " |"]
    return "\n".join([*lines, *("| " + " | ".join(row) + " |" for row in rows)])
