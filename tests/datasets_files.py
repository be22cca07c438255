"""Real files for the dataset tests: what is stored, and tiny torchvision originals (MNIST's IDX files,
CIFAR-10's pickled batches) in their real formats. Images and archives: `tests.images`."""

from __future__ import annotations

import gzip
import io
import pickle
import random
import struct
import tarfile
from pathlib import Path

import numpy as np
from django.conf import settings


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
