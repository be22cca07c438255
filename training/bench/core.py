"""The benchmark harness: two sides measured alternately (A/B/A/B), warm-up dropped, medians with spread.

Absolute times on a shared machine are noise: what a benchmark reports against its target is the
ratio of the two sides' medians, both measured in the same run, close together in time.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from training.registry import Registry


@dataclass
class Figure:
    """One measured quantity: its samples (after warm-up), median and spread (min, max)."""

    name: str
    unit: str
    samples: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.samples) if self.samples else float("nan")

    @property
    def spread(self) -> tuple[float, float]:
        return (min(self.samples), max(self.samples)) if self.samples else (float("nan"), float("nan"))

    def to_dict(self) -> dict[str, Any]:
        low, high = self.spread
        return {
            "name": self.name,
            "unit": self.unit,
            "median": self.median,
            "min": low,
            "max": high,
            "n": len(self.samples),
        }


@dataclass
class Result:
    """A benchmark's outcome: its figures, the ratio it is judged by (B over A) and that ratio's target."""

    name: str
    figures: list[Figure] = field(default_factory=list)
    ratio: float | None = None  # median(B) / median(A) of the compared figure, or a figure of its own
    target: float | None = None  # the ratio must be at most this
    notes: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    skipped: str = ""  # why it did not run

    @property
    def passed(self) -> bool | None:
        if self.skipped or self.ratio is None or self.target is None:
            return None
        return self.ratio <= self.target

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "figures": [f.to_dict() for f in self.figures],
            "ratio": self.ratio,
            "target": self.target,
            "passed": self.passed,
            "notes": self.notes,
            "extra": self.extra,
            "skipped": self.skipped,
        }


def alternate(
    a: Callable[[], float], b: Callable[[], float], rounds: int, warmup: int = 1
) -> tuple[list[float], list[float]]:
    """Run a, b, a, b, ... `rounds` times each (after `warmup` rounds that are not kept); each call
    returns its own measurement (seconds, say). The order flips every round so neither side always
    runs second (right after the other has warmed the caches)."""
    kept_a: list[float] = []
    kept_b: list[float] = []
    for i in range(warmup + rounds):
        first, second = (a, b) if i % 2 == 0 else (b, a)
        x, y = first(), second()
        va, vb = (x, y) if i % 2 == 0 else (y, x)
        if i >= warmup:
            kept_a.append(va)
            kept_b.append(vb)
    return kept_a, kept_b


def compare(name: str, a: Figure, b: Figure, target: float | None, notes: Iterable[str] = ()) -> Result:
    """B against A: the ratio of their medians."""
    return Result(name, [a, b], ratio=b.median / a.median if a.median else None, target=target, notes=list(notes))


# --- the suite ---------------------------------------------------------------------------------------
BENCHMARKS: Registry[Callable[[bool], Result]] = Registry("benchmark")


def run_suite(names: Iterable[str], quick: bool, report: Callable[[Result], None] = lambda r: None) -> list[Result]:
    results = []
    for name in names:
        try:
            result = BENCHMARKS.get(name)(quick)
        except Exception as exc:  # a broken benchmark is reported, the others still run
            result = Result(name, skipped=f"failed: {type(exc).__name__}: {exc}")
        results.append(result)
        report(result)
    return results


def _fmt(value: float) -> str:
    if value != value:  # NaN
        return "-"
    return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"


def table(results: Iterable[Result]) -> str:
    """One line per figure, and per benchmark its ratio against its target."""
    lines = [f"{'benchmark':24} {'figure':38} {'median':>10} {'min':>10} {'max':>10} {'unit':8} {'n':>3}"]
    for r in results:
        if r.skipped:
            lines.append(f"{r.name:24} skipped: {r.skipped}")
            continue
        for f in r.figures:
            low, high = f.spread
            values = f"{_fmt(f.median):>10} {_fmt(low):>10} {_fmt(high):>10}"
            lines.append(f"{r.name:24} {f.name:38} {values} {f.unit:8} {len(f.samples):>3}")
        if r.ratio is not None:
            verdict = {True: "ok", False: "OVER TARGET", None: ""}[r.passed]
            target = f" (target <= {r.target:g})" if r.target is not None else ""
            lines.append(f"{r.name:24} {'ratio':38} {r.ratio:>10.3f}{target} {verdict}")
        for note in r.notes:
            lines.append(f"{'':24} {note}")
    return "\n".join(lines)


def write_json(results: Iterable[Result], path: str | Path, machine: dict[str, Any]) -> None:
    Path(path).write_text(json.dumps({"machine": machine, "results": [r.to_dict() for r in results]}, indent=2))
