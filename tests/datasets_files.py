"""Real files for the dataset tests: images in every mode, zip archives good and bad, and tiny
torchvision originals (MNIST's IDX files, CIFAR-10's pickled batches) in their real formats."""

from __future__ import annotations

import gzip
import io
import pickle
import random
import struct
import tarfile
import zipfile
from pathlib import Path

import numpy as np
from django.conf import settings
from PIL import Image

COLORS = [(220, 40, 40), (40, 180, 60), (50, 70, 220), (230, 200, 30), (160, 40, 200), (30, 200, 200)]


def image_bytes(
    color: tuple[int, int, int] = (200, 50, 50),
    size: tuple[int, int] = (12, 12),
    mode: str = "RGB",
    fmt: str = "PNG",
    seed: int = 0,
) -> bytes:
    """A small noisy image around `color` (noise: no two seeds give the same file)."""
    rng = np.random.default_rng(seed)
    w, h = size
    pixels = np.clip(np.array(color)[None, None, :] + rng.integers(-40, 41, (h, w, 3)), 0, 255).astype(np.uint8)
    img = Image.fromarray(pixels, "RGB")
    if mode == "P":
        img = img.quantize(16)
    elif mode == "RGBA":
        img = img.convert("RGBA")
        img.putalpha(Image.fromarray(rng.integers(0, 256, (h, w), dtype=np.uint8), "L"))
    elif mode != "RGB":
        img = img.convert(mode)
    buffer = io.BytesIO()
    img.save(buffer, format=fmt)
    return buffer.getvalue()


def class_entries(
    classes: int = 3, per_class: int = 6, prefix: str = "", seed: int = 0, size=(12, 12), names: list[str] | None = None
) -> dict[str, bytes]:
    """{"<prefix>class_i/img_j.png": bytes}: one folder per class, each class its own color."""
    names = names or [f"class_{c}" for c in range(classes)]
    entries = {}
    for c, name in enumerate(names):
        for i in range(per_class):
            entries[f"{prefix}{name}/img_{i:03d}.png"] = image_bytes(
                COLORS[c % len(COLORS)], size, seed=seed * 100_000 + c * 1000 + i
            )
    return entries


def zip_bytes(entries: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as zf:
        for name, data in entries.items():
            zf.writestr(zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0)), data, compress_type=compression)
    return buffer.getvalue()


def zip_with_link(entries: dict[str, bytes], link_name: str, target: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
        info = zipfile.ZipInfo(link_name)
        info.external_attr = 0o120777 << 16  # a symbolic link, as `zip --symlinks` stores it
        zf.writestr(info, target)
    return buffer.getvalue()


def truncated_png(seed: int = 0) -> bytes:
    data = image_bytes(size=(40, 40), seed=seed)
    return data[: len(data) // 2]


def big_png(width: int, height: int) -> bytes:
    """A real PNG of width x height pixels that stays small on disk (1-bit, one color)."""
    buffer = io.BytesIO()
    Image.new("1", (width, height), 1).save(buffer, format="PNG")
    return buffer.getvalue()


def stored_files() -> set[str]:
    """Every file under the media folder and the dataset cache: what 'nothing left behind' is checked against."""
    found = set()
    for root in (Path(settings.MEDIA_ROOT), Path(settings.DATASET_CACHE_DIR)):
        if root.exists():
            found |= {str(p) for p in root.rglob("*") if p.is_file()}
    return found


# --- torchvision originals ------------------------------------------------------------------------
def idx_images(images: np.ndarray) -> bytes:
    n, rows, cols = images.shape
    return struct.pack(">IIII", 0x00000803, n, rows, cols) + images.astype(np.uint8).tobytes()


def idx_labels(labels: np.ndarray) -> bytes:
    return struct.pack(">II", 0x00000801, len(labels)) + labels.astype(np.uint8).tobytes()


def write_mnist(
    folder: Path, train_per_class: int = 6, test_per_class: int = 2, classes: int = 3, gz: bool = True
) -> Path:
    """MNIST's four files (gzipped IDX, as distributed) with a few 28x28 digits-like images."""
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    for prefix, per_class in (("train", train_per_class), ("t10k", test_per_class)):
        labels = np.repeat(np.arange(classes), per_class)
        images = rng.integers(0, 256, (len(labels), 28, 28)).astype(np.uint8)
        for name, data in (
            (f"{prefix}-images-idx3-ubyte", idx_images(images)),
            (f"{prefix}-labels-idx1-ubyte", idx_labels(labels)),
        ):
            if gz:
                (folder / f"{name}.gz").write_bytes(gzip.compress(data))
            else:
                (folder / name).write_bytes(data)
    return folder


def write_cifar10(folder: Path, per_batch: int = 6, classes: int = 3) -> Path:
    """cifar-10-python.tar.gz with the real layout: pickled dicts of uint8 rows (R, G, B planes)."""
    rng = random.Random(0)
    folder.mkdir(parents=True, exist_ok=True)
    names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]

    def batch(label: str) -> bytes:
        labels = [i % classes for i in range(per_batch)]
        data = np.array([[rng.randrange(256) for _ in range(3072)] for _ in labels], dtype=np.uint8)
        return pickle.dumps(
            {
                b"batch_label": label.encode(),
                b"labels": labels,
                b"data": data,
                b"filenames": [f"img_{i}.png".encode() for i in range(per_batch)],
            },
            protocol=2,
        )

    members = {f"data_batch_{i}": batch(f"training batch {i} of 5") for i in range(1, 6)}
    members["test_batch"] = batch("testing batch 1 of 1")
    members["batches.meta"] = pickle.dumps(
        {b"label_names": [n.encode() for n in names], b"num_cases_per_batch": per_batch, b"num_vis": 3072}, protocol=2
    )
    with tarfile.open(folder / "cifar-10-python.tar.gz", "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return folder
