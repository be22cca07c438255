"""Image folders, splits and the in-memory tensor data path.

A dataset is an image folder: one sub-folder per class, optionally under `train/`, `val/` and
`test/` folders that fix the split. Otherwise the split is drawn per class (stratified) from a seed,
so the same seed and fractions always give the same split.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path

import torch
from PIL import Image

IMAGE_EXTENSIONS = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}
SPLIT_NAMES = ("train", "val", "test")

Sample = tuple[str, int]  # (file path, class index)


@dataclass
class Splits:
    classes: list[str]
    train: list[Sample]
    val: list[Sample]
    test: list[Sample] = field(default_factory=list)

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def counts(self) -> dict[str, int]:
        return {name: len(getattr(self, name)) for name in SPLIT_NAMES}


def is_image(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in IMAGE_EXTENSIONS and not path.name.startswith(".")


def _class_folders(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))


def _scan(root: Path, classes: list[str]) -> list[Sample]:
    samples = []
    for index, name in enumerate(classes):
        folder = root / name
        if folder.is_dir():
            samples += [(str(p), index) for p in sorted(folder.rglob("*")) if is_image(p)]
    return samples


def stratified_split(samples: list[Sample], val_fraction: float, test_fraction: float, seed: int
                     ) -> tuple[list[Sample], list[Sample], list[Sample]]:
    """Split every class by the same fractions (at least one val/test image per class when asked)."""
    if not 0 <= val_fraction < 1 or not 0 <= test_fraction < 1 or val_fraction + test_fraction >= 1:
        raise ValueError("val and test fractions must be in [0, 1) and leave room for training")
    rng = random.Random(seed)
    by_class: dict[int, list[Sample]] = {}
    for sample in samples:
        by_class.setdefault(sample[1], []).append(sample)
    train, val, test = [], [], []
    for label in sorted(by_class):
        items = sorted(by_class[label])
        rng.shuffle(items)
        n = len(items)
        n_test = max(1, round(n * test_fraction)) if test_fraction > 0 and n >= 3 else 0
        n_val = max(1, round(n * val_fraction)) if val_fraction > 0 and n >= 3 else 0
        test += items[:n_test]
        val += items[n_test:n_test + n_val]
        train += items[n_test + n_val:]
    return train, val, test


def load_image_folder(root: str | Path, val_fraction: float = 0.15, test_fraction: float = 0.15,
                      seed: int = 0) -> Splits:
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"no image folder at {root}")
    if all((root / s).is_dir() for s in ("train", "val")):
        classes = sorted({p.name for s in SPLIT_NAMES if (root / s).is_dir() for p in _class_folders(root / s)})
        parts = {s: _scan(root / s, classes) if (root / s).is_dir() else [] for s in SPLIT_NAMES}
        splits = Splits(classes, parts["train"], parts["val"], parts["test"])
    else:
        classes = [p.name for p in _class_folders(root)]
        splits = Splits(classes, *stratified_split(_scan(root, classes), val_fraction, test_fraction, seed))
    if not splits.classes or not splits.train:
        raise ValueError(f"{root} holds no images in class folders")
    return splits


def decode(samples: list[Sample], image_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Decode and resize once into uint8 tensors (N, 3, H, W) and int64 labels (N,).

    Grayscale, palette and RGBA images become RGB (alpha is composited on black by PIL's convert).
    """
    images = torch.empty((len(samples), 3, image_size, image_size), dtype=torch.uint8)
    labels = torch.empty(len(samples), dtype=torch.int64)
    for i, (path, label) in enumerate(samples):
        with Image.open(path) as img:
            rgb = img.convert("RGB").resize((image_size, image_size), Image.Resampling.BILINEAR)
        images[i] = torch.frombuffer(bytearray(rgb.tobytes()), dtype=torch.uint8).view(image_size, image_size, 3).permute(2, 0, 1)
        labels[i] = label
    return images, labels


def channel_stats(images: torch.Tensor) -> tuple[list[float], list[float]]:
    """Per-channel mean and std of uint8 images, on the 0-1 scale."""
    x = images.float().div_(255)
    return x.mean(dim=(0, 2, 3)).tolist(), x.std(dim=(0, 2, 3)).clamp_min(1e-3).tolist()


def normalize(images: torch.Tensor, mean: list[float], std: list[float]) -> torch.Tensor:
    m = torch.tensor(mean, device=images.device).view(1, -1, 1, 1)
    s = torch.tensor(std, device=images.device).view(1, -1, 1, 1)
    return images.float().div_(255).sub_(m).div_(s)
