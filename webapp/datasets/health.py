"""The health report of an inspected dataset: what the dataset page, the list and the admin show.

Each check is a small function of the `Findings` (the inspected images with their split and the
duplicate groups among them) that returns its lines; `CHECKS` lists them in the order the page shows
them. A line has a level (`Level`), a title, a detail and, for warnings and problems, a short tag
that lists show.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

from training.layout import LayoutPlan
from webapp.datasets.rejection import listing

if TYPE_CHECKING:  # (analysis builds the report from its facts; no import at run time)
    from webapp.datasets.analysis import ImageFacts

IMBALANCE_WARNING = 3.0  # largest class / smallest class
FEW_EVAL_IMAGES = 5  # fewer validation or test images of a class than this make its metrics noise
EXAMPLES = 20  # duplicate groups kept as examples in the report
SIZE_BINS = 400  # distinct sizes kept for the histogram
SHOWN_IN_TITLES = 3  # examples named in a check's detail


class Level(StrEnum):
    OK = "ok"
    INFO = "info"
    WARNING = "warning"
    PROBLEM = "problem"


FLAGGED = (Level.PROBLEM, Level.WARNING)  # what a list shows of a dataset's health, in this order


@dataclass
class Findings:
    """The inspected images with everything the checks compare."""

    facts: list[ImageFacts]
    classes: list[str]
    class_counts: Counter
    split_counts: dict[str, dict[str, int]]
    split_of: dict[str, str]  # target -> split
    plan: LayoutPlan
    duplicate_groups: list[list[ImageFacts]] = field(init=False)  # identical files, each group sorted
    leaks: list[list[ImageFacts]] = field(init=False)  # duplicate groups across splits
    conflicts: list[list[ImageFacts]] = field(init=False)  # duplicate groups under several labels

    def __post_init__(self) -> None:
        groups: dict[str, list[ImageFacts]] = defaultdict(list)
        for f in self.facts:
            groups[f.sha256].append(f)
        self.duplicate_groups = sorted(
            (sorted(g, key=lambda f: f.target) for g in groups.values() if len(g) > 1), key=lambda g: g[0].target
        )
        self.leaks = [g for g in self.duplicate_groups if len({self.split_of[f.target] for f in g}) > 1]
        self.conflicts = [g for g in self.duplicate_groups if len({f.label for f in g}) > 1]

    @property
    def largest(self) -> str:
        return max(self.classes, key=lambda c: (self.class_counts[c], c))

    @property
    def smallest(self) -> str:
        return min(self.classes, key=lambda c: (self.class_counts[c], c))

    @property
    def imbalance(self) -> float:
        return self.class_counts[self.largest] / self.class_counts[self.smallest]

    def examples(self, groups: list[list[ImageFacts]]) -> list[dict]:
        return [
            {
                "files": [f.target for f in g],
                "splits": [self.split_of[f.target] for f in g],
                "labels": [f.label for f in g],
            }
            for g in groups[:EXAMPLES]
        ]


def line(level: Level, title: str, detail: str = "", tag: str = "") -> dict:
    """One line of the health report; `tag` is its short name in lists (warnings and problems)."""
    return {"level": level, "title": title, "detail": detail, "tag": tag}


def _count(n: int, one: str, many: str) -> str:
    return f"{n:,} {one if n == 1 else many}"


def _named(groups: list[list[ImageFacts]]) -> str:
    return listing([" = ".join(f.target for f in g) for g in groups], SHOWN_IN_TITLES)


# --- the checks ------------------------------------------------------------------------------------
def leakage(found: Findings) -> list[dict]:
    if not found.leaks:
        return [line(Level.OK, "No image appears in more than one split")]
    files = sum(len(g) for g in found.leaks)
    return [
        line(
            Level.PROBLEM,
            f"{files} files are identical images in different splits (leakage)",
            "The model would be evaluated on images it trained on, so validation and test scores "
            "overstate it. Remove the copies. For example: " + _named(found.leaks),
            tag="leakage",
        )
    ]


def label_conflicts(found: Findings) -> list[dict]:
    if not found.conflicts:
        return []
    return [
        line(
            Level.PROBLEM,
            f"{_count(len(found.conflicts), 'image appears', 'images appear')} under more "
            "than one label (identical files in different class folders)",
            _named(found.conflicts),
            tag="label conflicts",
        )
    ]


def duplicates(found: Findings) -> list[dict]:
    groups = found.duplicate_groups
    if not groups:
        return [line(Level.OK, "No duplicate files")]
    extra = sum(len(g) - 1 for g in groups)
    return [
        line(
            Level.WARNING,
            f"{_count(extra, 'file is an exact copy', 'files are exact copies')} of another file",
            f"{len(groups)} groups of identical files; copies weigh those images more "
            "in training. For example: " + _named(groups),
            tag="duplicates",
        )
    ]


def balance(found: Findings) -> list[dict]:
    ratio = found.imbalance
    if ratio < IMBALANCE_WARNING:
        return [line(Level.OK, f"Classes are balanced (largest/smallest {ratio:.1f}×)")]
    return [
        line(
            Level.WARNING,
            f"Classes are imbalanced: {found.largest} has {ratio:.1f}× the images of {found.smallest}",
            "Accuracy will favor the large classes; look at per-class recall, and consider "
            "class weights in the loss or collecting more of the small classes.",
            tag=f"imbalanced {ratio:.1f}×",
        )
    ]


def few_evaluation_images(found: Findings) -> list[dict]:
    lines = []
    for split, name in (("val", "validation"), ("test", "test")):
        counts = found.split_counts[split]
        few = [f"{c} ({counts[c]})" for c in found.classes if sum(counts.values()) and counts[c] < FEW_EVAL_IMAGES]
        if few:
            lines.append(
                line(
                    Level.WARNING,
                    f"Fewer than {FEW_EVAL_IMAGES} {name} images in {_count(len(few), 'class', 'classes')}",
                    f"Per-class results on them are noisy: {listing(few)}.",
                    tag=f"few {split} images",
                )
            )
    return lines


def varied_sizes(found: Findings) -> list[dict]:
    widths, heights = [f.width for f in found.facts], [f.height for f in found.facts]
    if len(set(zip(widths, heights, strict=True))) < 2:
        return []
    return [
        line(
            Level.INFO,
            f"Image sizes vary: {min(widths)}–{max(widths)} × {min(heights)}–{max(heights)} pixels",
            "Training resizes every image to the input size of the experiment.",
        )
    ]


def mixed_modes(found: Findings) -> list[dict]:
    modes = Counter(f.mode for f in found.facts)
    if len(modes) < 2:
        return []
    return [
        line(
            Level.INFO,
            "Mixed image modes: " + ", ".join(f"{m} {n}" for m, n in modes.most_common()),
            "All are converted to RGB for training (grayscale repeated, transparency on white).",
        )
    ]


def unlisted_images(found: Findings) -> list[dict]:
    plan = found.plan
    if not plan.unlisted:
        return []
    return [
        line(
            Level.WARNING,
            f"{len(plan.unlisted)} images are not listed in {plan.csv_name} and were left out",
            listing(plan.unlisted),
            tag="unlisted images",
        )
    ]


def ignored_files(found: Findings) -> list[dict]:
    ignored = found.plan.ignored
    if not ignored:
        return []
    return [
        line(
            Level.INFO,
            f"{_count(len(ignored), 'file was', 'files were')} left out (system files and notes)",
            listing(ignored),
        )
    ]


CHECKS: list[Callable[[Findings], list[dict]]] = [
    leakage,
    label_conflicts,
    duplicates,
    balance,
    few_evaluation_images,
    varied_sizes,
    mixed_modes,
    unlisted_images,
    ignored_files,
]


# --- the report ------------------------------------------------------------------------------------
def size_summary(facts: list[ImageFacts]) -> dict:
    sizes = Counter((f.width, f.height) for f in facts)
    widths, heights = [f.width for f in facts], [f.height for f in facts]
    distinct = sizes.most_common(SIZE_BINS)
    return {
        "min": [min(widths), min(heights)],
        "max": [max(widths), max(heights)],
        "median": [int(statistics.median(widths)), int(statistics.median(heights))],
        "distinct": len(sizes),
        "counts": [[w, h, n] for (w, h), n in distinct],
        "counts_shown": sum(n for _, n in distinct),
    }


def health_report(found: Findings, origin: dict[str, str]) -> dict:
    """The stored report: layout, where each split came from, sizes, modes, formats, duplicates, leakage,
    conflicts, imbalance, left-out files, and the checks' lines."""
    plan = found.plan
    return {
        "layout": plan.layout,
        "csv": plan.csv_name,
        "split_origin": origin,
        "sizes": size_summary(found.facts),
        "modes": dict(Counter(f.mode for f in found.facts).most_common()),
        "formats": dict(Counter(f.format for f in found.facts).most_common()),
        "duplicates": {
            "groups": len(found.duplicate_groups),
            "extra_files": sum(len(g) - 1 for g in found.duplicate_groups),
            "examples": found.examples(found.duplicate_groups),
        },
        "leakage": {
            "groups": len(found.leaks),
            "files": sum(len(g) for g in found.leaks),
            "examples": found.examples(found.leaks),
        },
        "conflicts": {"groups": len(found.conflicts), "examples": found.examples(found.conflicts)},
        "imbalance": {
            "ratio": round(found.imbalance, 3),
            "largest": [found.largest, found.class_counts[found.largest]],
            "smallest": [found.smallest, found.class_counts[found.smallest]],
        },
        "ignored": plan.ignored[:200],
        "ignored_count": len(plan.ignored),
        "unlisted": plan.unlisted[:200],
        "unlisted_count": len(plan.unlisted),
        "checks": [entry for check in CHECKS for entry in check(found)],
    }
