"""Reading every image of a laid-out dataset once: validation, statistics, the split, and the health
report (`health`) built from them.

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
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from training.data import resize_image, to_rgb
from training.layout import SPLITS, LayoutPlan, PlannedFile, draw_split, list_files, plan_folders
from webapp.datasets.health import Findings, health_report
from webapp.datasets.rejection import DatasetRejected, Limits, Problems, listing

STATS_SIZE = 64  # images are resized to this before mean/std; resizing hardly moves them
SAMPLES_PER_CLASS = 8


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


def folder_split(root: Path, val_fraction: float, test_fraction: float, seed: int) -> dict:
    """The split of an image folder, computed the way processing computes it (no image is opened)."""
    plan = plan_folders(list_files(root)).in_place()  # files are read where they are, not at canonical places
    manifest, _ = draw_split(plan.files, plan.classes, plan.fixed_split, val_fraction, test_fraction, seed)
    return {"classes": plan.classes, **manifest}


def _refuse_small_classes(classes: list[str], class_counts: Counter, limits: Limits) -> None:
    small = [f"{c} ({class_counts[c]})" for c in classes if class_counts[c] < limits.min_per_class]
    if small:
        raise DatasetRejected(
            f"Classes with fewer than {limits.min_per_class} images ({len(small)}): "
            f"{listing(small)}. Add images or leave those classes out."
        )
    if len(classes) < 2:
        raise DatasetRejected("A classifier needs at least two classes with images.")


def _channel_stats(train: list[ImageFacts]) -> tuple[list[float], list[float]]:
    """Per-channel mean and std of the training images (0-1 scale), from the sums of their resized copies."""
    pixels = STATS_SIZE * STATS_SIZE * max(1, len(train))
    sums = np.array([f.sums for f in train]).sum(0) if train else np.zeros(3)
    squares = np.array([f.squares for f in train]).sum(0) if train else np.zeros(3)
    mean = sums / pixels
    std = np.sqrt(np.clip(squares / pixels - mean * mean, 0, None)).clip(min=1e-3)
    return [round(float(v), 6) for v in mean], [round(float(v), 6) for v in std]


def _pick_samples(facts: list[ImageFacts], classes: list[str]) -> dict[str, list[str]]:
    rng = random.Random(0)
    samples = {}
    for c in classes:
        members = sorted(f.target for f in facts if f.label == c)
        samples[c] = sorted(rng.sample(members, min(SAMPLES_PER_CLASS, len(members))))
    return samples


def analyze(
    facts: list[ImageFacts], plan: LayoutPlan, limits: Limits, val_fraction: float, test_fraction: float, seed: int
) -> Analysis:
    """Everything the dataset page shows, from the inspected images; reject classes below the minimum."""
    classes = sorted({f.label for f in facts})
    class_counts = Counter(f.label for f in facts)
    _refuse_small_classes(classes, class_counts, limits)

    manifest, origin = draw_split(facts, classes, plan.fixed_split, val_fraction, test_fraction, seed)
    split_of = {target: s for s in SPLITS for target, _ in manifest[s]}
    split_counts = {s: {c: 0 for c in classes} for s in SPLITS}
    for f in facts:
        split_counts[split_of[f.target]][f.label] += 1
    by_target = {f.target: f for f in facts}
    mean, std = _channel_stats([by_target[t] for t, _ in manifest["train"]])

    found = Findings(facts, classes, class_counts, split_counts, split_of, plan)
    return Analysis(
        classes=classes,
        class_counts={c: class_counts[c] for c in classes},
        split_counts=split_counts,
        manifest=manifest,
        content_hash=content_hash(facts),
        mean=mean,
        std=std,
        size_bytes=sum(f.bytes for f in facts),
        num_images=len(facts),
        fixed_split=plan.fixed_split,
        samples=_pick_samples(facts, classes),
        report=health_report(found, origin),
    )
