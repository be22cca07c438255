"""Small real image folders and recording callbacks for the training library's tests."""

from __future__ import annotations

import random
import shutil
from pathlib import Path
from typing import Any

import torch
from PIL import Image, ImageDraw

from training import Callback, EpochMetrics, FitResult, FitStart
from training.callbacks import BatchProgress

# Small enough that one epoch of the small CNN takes a fraction of a second on one core.
TINY = {
    "arch": "small_cnn",
    "depth": 2,
    "width": 8,
    "image_size": 16,
    "epochs": 1,
    "batch_size": 16,
    "lr": 0.01,
    "device": "cpu",
    "seed": 0,
}

COLORS = [(220, 40, 40), (40, 180, 60), (50, 70, 220), (230, 200, 30), (160, 40, 200), (30, 200, 200)]


def pattern_image(label: int, rng: random.Random, size: int = 16, mode: str = "RGB") -> Image.Image:
    """A class's own color and bar orientation, jittered, so a CNN can learn the classes from few images."""
    base = COLORS[label % len(COLORS)]
    img = Image.new("RGB", (size, size), tuple(max(0, min(255, c + rng.randint(-30, 30))) for c in base))
    draw = ImageDraw.Draw(img)
    offset = rng.randint(0, size // 2)
    if label % 2:
        draw.rectangle([offset, 0, offset + size // 4, size], fill=(255, 255, 255))
    else:
        draw.rectangle([0, offset, size, offset + size // 4], fill=(0, 0, 0))
    return img.convert(mode) if mode != "RGB" else img


def write_pattern_folder(
    root: Path, classes: int = 3, per_class: int = 6, size: int = 16, seed: int = 0, modes: tuple[str, ...] = ("RGB",)
) -> Path:
    """One folder per class; images cycle through `modes` (e.g. "L", "RGBA", "P") to mix file kinds."""
    rng = random.Random(seed)
    for c in range(classes):
        folder = root / f"class_{c}"
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            pattern_image(c, rng, size, modes[i % len(modes)]).save(folder / f"img_{i:03d}.png")
    return root


def write_fixed_split(root: Path, source: Path, classes: list[str], counts: dict[str, int], seed: int = 0) -> Path:
    """Copy images of `classes` from an image folder into root/train|val|test/<class>/, `counts` per split
    and class (the rest of a class goes to test when counts['test'] is -1)."""
    rng = random.Random(seed)
    for cls in classes:
        files = sorted((source / cls).iterdir())
        rng.shuffle(files)
        start = 0
        for split in ("train", "val", "test"):
            n = counts[split] if counts[split] >= 0 else len(files) - start
            folder = root / split / cls
            folder.mkdir(parents=True, exist_ok=True)
            for f in files[start : start + n]:
                shutil.copy(f, folder / f.name)
            start += n
    return root


class Recorder(Callback):
    """Remembers every hook call."""

    def __init__(self, stop_at: tuple[int, int] | None = None) -> None:
        self.stop_at = stop_at  # (epoch, batch) after which should_stop answers True
        self.start: FitStart | None = None
        self.batches: list[BatchProgress] = []
        self.epochs: list[EpochMetrics] = []
        self.checkpoints: list[tuple[str, int]] = []
        self.logs: list[str] = []
        self.early_stops: list[tuple[int, str]] = []
        self.result: FitResult | None = None

    def on_fit_start(self, info: FitStart) -> None:
        self.start = info

    def on_batch_end(self, progress: BatchProgress) -> None:
        self.batches.append(progress)

    def on_epoch_end(self, metrics: EpochMetrics) -> None:
        self.epochs.append(metrics)

    def on_checkpoint(self, path: str, epoch: int) -> None:
        self.checkpoints.append((path, epoch))

    def on_log(self, line: str) -> None:
        self.logs.append(line)

    def on_early_stop(self, epoch: int, reason: str) -> None:
        self.early_stops.append((epoch, reason))

    def on_fit_end(self, result: FitResult) -> None:
        self.result = result

    def should_stop(self) -> bool:
        return (
            self.stop_at is not None
            and bool(self.batches)
            and ((self.batches[-1].epoch, self.batches[-1].batch) == self.stop_at)
        )


def comparable(history: list[EpochMetrics]) -> list[dict[str, Any]]:
    """Epoch metrics without the wall-clock fields."""
    return [{k: v for k, v in m.to_dict().items() if k not in ("seconds", "images_per_sec")} for m in history]


def same_weights(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
