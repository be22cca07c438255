"""Reading every image of a laid-out dataset once: validation, statistics, duplicates, the split,
and the health report built from them.

One pass per image: its bytes are hashed (content hash, duplicates), decoded fully (truncated and
corrupt files fail here, not in the middle of a training run), checked against the pixel limit
before decoding (decompression bombs), and converted the way training converts them (`to_rgb`,
`resize_image`), so the stored mean/std are what training would compute.
"""

from __future__ import annotations

import hashlib
import io
import os
import random
import statistics
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from training.data import resize_image, to_rgb
from training.layout import SPLITS, LayoutPlan, PlannedFile, draw_split
from webapp.datasets.validation import DatasetRejected, Limits, Problems, listing

STATS_SIZE = 64  # images are resized to this before mean/std; resizing hardly moves them
SAMPLES_PER_CLASS = 8
IMBALANCE_WARNING = 3.0  # largest class / smallest class
FEW_EVAL_IMAGES = 5  # fewer validation or test images of a class than this make its metrics noise
EXAMPLES = 20  # duplicate groups kept as examples in the report
SIZE_BINS = 400  # distinct sizes kept for the histogram


@dataclass(frozen=True)
class ImageFacts:
    target: str
    label: str
    split: str | None
    sha256: str
    width: int
    height: int
    mode: str
    format: str
    bytes: int
    sums: tuple[float, float, float]  # per channel, 0-1 scale, over the STATS_SIZE x STATS_SIZE resize
    squares: tuple[float, float, float]


@dataclass
class Analysis:
    classes: list[str]
    class_counts: dict[str, int]
    split_counts: dict[str, dict[str, int]]
    manifest: dict[str, list]  # {"train": [[target, class index], ...], "val": ..., "test": ...}
    content_hash: str
    mean: list[float]
    std: list[float]
    size_bytes: int
    num_images: int
    fixed_split: bool
    samples: dict[str, list[str]]  # class -> targets shown in the grid and the augmentation preview
    report: dict = field(default_factory=dict)


def inspect_image(root: Path, planned: PlannedFile, limits: Limits) -> ImageFacts | tuple[str, str]:
    """The facts of one image, or (problem, entry) saying why it cannot be used."""
    name = planned.source
    try:
        data = (root / planned.target).read_bytes()
    except OSError as exc:
        return "files that cannot be read", f"{name} ({exc.strerror or exc})"
    try:
        img = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError:
        return f"images over the limit of {limits.max_pixels:,} pixels", name
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        return "files that are not readable images", name
    with img:
        width, height = img.size
        if width * height > limits.max_pixels:
            return f"images over the limit of {limits.max_pixels:,} pixels", f"{name} ({width}×{height})"
        if width < 1 or height < 1:
            return "images with no pixels", name
        mode, fmt = img.mode, img.format or "?"
        try:
            img.load()  # the whole image: a truncated file fails here
            small = resize_image(to_rgb(img), STATS_SIZE)
        except Image.DecompressionBombError:
            return f"images over the limit of {limits.max_pixels:,} pixels", name
        except (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError, ZeroDivisionError) as exc:
            reason = str(exc).split("\n")[0][:80]
            return "corrupt or truncated images", f"{name} ({reason})" if reason else name
    x = np.asarray(small, dtype=np.float64).reshape(-1, 3) / 255.0
    return ImageFacts(
        target=planned.target,
        label=planned.label,
        split=planned.split,
        sha256=hashlib.sha256(data).hexdigest(),
        width=width,
        height=height,
        mode=mode,
        format=fmt,
        bytes=len(data),
        sums=tuple(x.sum(0)),
        squares=tuple((x * x).sum(0)),
    )


def inspect_all(
    root: Path, plan: LayoutPlan, limits: Limits, progress: Callable[[int, int], None] = lambda done, total: None
) -> list[ImageFacts]:
    """Inspect every planned image (threads: PIL releases the GIL while it decodes); reject naming offenders."""
    problems = Problems()
    facts: list[ImageFacts] = []
    total = len(plan.files)
    threads = max(1, min(4, os.cpu_count() or 1))
    with ThreadPoolExecutor(threads) as pool:
        for number, result in enumerate(pool.map(lambda f: inspect_image(root, f, limits), plan.files), start=1):
            if isinstance(result, ImageFacts):
                facts.append(result)
            else:
                problems.add(*result)
            if number % 50 == 0 or number == total:
                progress(number, total)
    problems.raise_if_any()
    return facts


def content_hash(facts: Sequence[ImageFacts]) -> str:
    """sha256 over every file's canonical path and bytes' hash: same images, same layout, same hash."""
    digest = hashlib.sha256()
    for f in sorted(facts, key=lambda f: f.target):
        digest.update(f"{f.target}\t{f.sha256}\n".encode())
    return digest.hexdigest()


def analyze(
    facts: list[ImageFacts], plan: LayoutPlan, limits: Limits, val_fraction: float, test_fraction: float, seed: int
) -> Analysis:
    """Everything the dataset page shows, from the inspected images; reject classes below the minimum."""
    classes = sorted({f.label for f in facts})
    class_counts = Counter(f.label for f in facts)
    small = [f"{c} ({class_counts[c]})" for c in classes if class_counts[c] < limits.min_per_class]
    if small:
        raise DatasetRejected(
            f"Classes with fewer than {limits.min_per_class} images ({len(small)}): "
            f"{listing(small)}. Add images or leave those classes out."
        )
    if len(classes) < 2:
        raise DatasetRejected("A classifier needs at least two classes with images.")

    manifest, origin = draw_split(facts, classes, plan.fixed_split, val_fraction, test_fraction, seed)
    split_of = {target: s for s in SPLITS for target, _ in manifest[s]}
    split_counts = {s: {c: 0 for c in classes} for s in SPLITS}
    for f in facts:
        split_counts[split_of[f.target]][f.label] += 1

    by_target = {f.target: f for f in facts}
    train = [by_target[t] for t, _ in manifest["train"]]
    pixels = STATS_SIZE * STATS_SIZE * max(1, len(train))
    sums = np.array([f.sums for f in train]).sum(0) if train else np.zeros(3)
    squares = np.array([f.squares for f in train]).sum(0) if train else np.zeros(3)
    mean = sums / pixels
    std = np.sqrt(np.clip(squares / pixels - mean * mean, 0, None)).clip(min=1e-3)

    rng = random.Random(0)
    samples = {}
    for c in classes:
        members = sorted(f.target for f in facts if f.label == c)
        samples[c] = sorted(rng.sample(members, min(SAMPLES_PER_CLASS, len(members))))

    report = health_report(facts, classes, class_counts, split_counts, split_of, origin, plan)
    return Analysis(
        classes=classes,
        class_counts={c: class_counts[c] for c in classes},
        split_counts=split_counts,
        manifest=manifest,
        content_hash=content_hash(facts),
        mean=[round(float(v), 6) for v in mean],
        std=[round(float(v), 6) for v in std],
        size_bytes=sum(f.bytes for f in facts),
        num_images=len(facts),
        fixed_split=plan.fixed_split,
        samples=samples,
        report=report,
    )


def _count(n: int, one: str, many: str) -> str:
    return f"{n:,} {one if n == 1 else many}"


def _check(level: str, title: str, detail: str = "", tag: str = "") -> dict:
    """One line of the health report; `tag` is its short name in lists (warnings and problems)."""
    return {"level": level, "title": title, "detail": detail, "tag": tag}


def health_report(
    facts: list[ImageFacts],
    classes: list[str],
    class_counts: Counter,
    split_counts: dict,
    split_of: dict[str, str],
    origin: dict[str, str],
    plan: LayoutPlan,
) -> dict:
    groups: dict[str, list[ImageFacts]] = defaultdict(list)
    for f in facts:
        groups[f.sha256].append(f)
    duplicate_groups = [sorted(g, key=lambda f: f.target) for g in groups.values() if len(g) > 1]
    duplicate_groups.sort(key=lambda g: g[0].target)
    leaks = [g for g in duplicate_groups if len({split_of[f.target] for f in g}) > 1]
    conflicts = [g for g in duplicate_groups if len({f.label for f in g}) > 1]

    def examples(gs: list[list[ImageFacts]]) -> list[dict]:
        return [
            {"files": [f.target for f in g], "splits": [split_of[f.target] for f in g], "labels": [f.label for f in g]}
            for g in gs[:EXAMPLES]
        ]

    largest = max(classes, key=lambda c: (class_counts[c], c))
    smallest = min(classes, key=lambda c: (class_counts[c], c))
    ratio = class_counts[largest] / class_counts[smallest]
    sizes = Counter((f.width, f.height) for f in facts)
    widths, heights = [f.width for f in facts], [f.height for f in facts]
    modes = Counter(f.mode for f in facts)
    formats = Counter(f.format for f in facts)

    checks = []
    leaked_files = sum(len(g) for g in leaks)
    if leaks:
        checks.append(
            _check(
                "problem",
                f"{leaked_files} files are identical images in different splits (leakage)",
                "The model would be evaluated on images it trained on, so validation and test scores "
                "overstate it. Remove the copies. For example: "
                + listing([" = ".join(f.target for f in g) for g in leaks], 3),
                tag="leakage",
            )
        )
    else:
        checks.append(_check("ok", "No image appears in more than one split"))
    if conflicts:
        checks.append(
            _check(
                "problem",
                f"{_count(len(conflicts), 'image appears', 'images appear')} under more "
                "than one label (identical files in different class folders)",
                listing([" = ".join(f.target for f in g) for g in conflicts], 3),
                tag="label conflicts",
            )
        )
    extra = sum(len(g) - 1 for g in duplicate_groups)
    if duplicate_groups:
        checks.append(
            _check(
                "warning",
                f"{_count(extra, 'file is an exact copy', 'files are exact copies')} of another file",
                f"{len(duplicate_groups)} groups of identical files; copies weigh those images more "
                "in training. For example: " + listing([" = ".join(f.target for f in g) for g in duplicate_groups], 3),
                tag="duplicates",
            )
        )
    else:
        checks.append(_check("ok", "No duplicate files"))
    if ratio >= IMBALANCE_WARNING:
        checks.append(
            _check(
                "warning",
                f"Classes are imbalanced: {largest} has {ratio:.1f}× the images of {smallest}",
                "Accuracy will favor the large classes; look at per-class recall, and consider "
                "class weights in the loss or collecting more of the small classes.",
                tag=f"imbalanced {ratio:.1f}×",
            )
        )
    else:
        checks.append(_check("ok", f"Classes are balanced (largest/smallest {ratio:.1f}×)"))
    for split in ("val", "test"):
        few = [
            f"{c} ({split_counts[split][c]})"
            for c in classes
            if sum(split_counts[split].values()) and split_counts[split][c] < FEW_EVAL_IMAGES
        ]
        if few:
            checks.append(
                _check(
                    "warning",
                    f"Fewer than {FEW_EVAL_IMAGES} {'validation' if split == 'val' else 'test'} "
                    f"images in {_count(len(few), 'class', 'classes')}",
                    f"Per-class results on them are noisy: {listing(few)}.",
                    tag=f"few {split} images",
                )
            )
    if len(sizes) > 1:
        checks.append(
            _check(
                "info",
                f"Image sizes vary: {min(widths)}–{max(widths)} × {min(heights)}–{max(heights)} pixels",
                "Training resizes every image to the input size of the experiment.",
            )
        )
    if len(modes) > 1:
        checks.append(
            _check(
                "info",
                "Mixed image modes: " + ", ".join(f"{m} {n}" for m, n in modes.most_common()),
                "All are converted to RGB for training (grayscale repeated, transparency on white).",
            )
        )
    if plan.unlisted:
        checks.append(
            _check(
                "warning",
                f"{len(plan.unlisted)} images are not listed in {plan.csv_name} and were left out",
                listing(plan.unlisted),
                tag="unlisted images",
            )
        )
    if plan.ignored:
        checks.append(
            _check(
                "info",
                f"{_count(len(plan.ignored), 'file was', 'files were')} left out (system files and notes)",
                listing(plan.ignored),
            )
        )

    distinct = sizes.most_common(SIZE_BINS)
    return {
        "layout": plan.layout,
        "csv": plan.csv_name,
        "split_origin": origin,
        "sizes": {
            "min": [min(widths), min(heights)],
            "max": [max(widths), max(heights)],
            "median": [int(statistics.median(widths)), int(statistics.median(heights))],
            "distinct": len(sizes),
            "counts": [[w, h, n] for (w, h), n in distinct],
            "counts_shown": sum(n for _, n in distinct),
        },
        "modes": dict(modes.most_common()),
        "formats": dict(formats.most_common()),
        "duplicates": {"groups": len(duplicate_groups), "extra_files": extra, "examples": examples(duplicate_groups)},
        "leakage": {"groups": len(leaks), "files": leaked_files, "examples": examples(leaks)},
        "conflicts": {"groups": len(conflicts), "examples": examples(conflicts)},
        "imbalance": {
            "ratio": round(ratio, 3),
            "largest": [largest, class_counts[largest]],
            "smallest": [smallest, class_counts[smallest]],
        },
        "ignored": plan.ignored[:200],
        "ignored_count": len(plan.ignored),
        "unlisted": plan.unlisted[:200],
        "unlisted_count": len(plan.unlisted),
        "checks": checks,
    }
