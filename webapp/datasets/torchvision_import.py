"""torchvision's MNIST, Fashion-MNIST and CIFAR-10, imported from their original files.

The files are looked for in a folder (settings.DATASET_TORCHVISION_DIR unless the admin names one),
either as distributed or in the layout torchvision's own `download=True` leaves. Where they are
missing and downloads are allowed, torchvision downloads them (checking their MD5); without internet
the message names every file to provide and where to put it.

MNIST-style IDX files are read by torchvision itself. CIFAR-10's batches are Python pickles, so they
are read with an unpickler that builds only numpy arrays and plain containers: a file someone
provides can never run code. The images are written as PNG files in `train/` and `test/` folders,
the original split, and then go through the same validation and processing as an upload.
"""

from __future__ import annotations

import gzip
import pickle
import shutil
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from torchvision import datasets as tv

from training.layout import PlannedFile
from training.registry import Registry
from webapp.datasets.rejection import DatasetRejected, listing

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class TorchvisionSource:
    key: str
    title: str
    tv_class: type
    description: str

    # --- what a user must provide -----------------------------------------------------------------
    def expected_files(self) -> list[str]:
        raise NotImplementedError

    def missing_files(self, folder: Path) -> list[str]:
        raise NotImplementedError

    def where(self, folder: Path) -> str:
        raise NotImplementedError

    def urls(self) -> list[str]:
        raise NotImplementedError

    def missing_message(self, folder: Path, tried_download: str | None = None) -> str:
        missing = self.missing_files(folder)
        text = (
            f"{self.title} needs its original files in {self.where(folder)}. Missing: {listing(missing)}. "
            f"They are published at {' or '.join(self.urls())}."
        )
        if tried_download:
            text = f"Downloading {self.title} failed ({tried_download}); this machine may have no internet. " + text
        return text

    def download(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.tv_class(root=str(folder), train=True, download=True)

    # --- conversion -------------------------------------------------------------------------------
    def arrays(self, folder: Path, workdir: Path) -> tuple[list[str], dict[str, tuple[np.ndarray, np.ndarray]]]:
        """(class names, {"train": (images HxW or HxWx3 uint8, labels), "test": ...})."""
        raise NotImplementedError

    def write_images(self, folder: Path, dest: Path, workdir: Path, progress: Progress) -> list[PlannedFile]:
        classes, parts = self.arrays(folder, workdir)
        names = [_folder_name(c) for c in classes]
        total = sum(len(labels) for _, labels in parts.values())
        planned, done = [], 0
        for split, (images, labels) in parts.items():
            for i, (pixels, label) in enumerate(zip(images, labels, strict=True)):
                if not 0 <= int(label) < len(names):
                    raise DatasetRejected(
                        f"{self.title}: label {int(label)} of {split} image {i} is not a class "
                        f"(there are {len(names)})."
                    )
                target = f"{split}/{names[int(label)]}/{i:05d}.png"
                path = dest / target
                path.parent.mkdir(parents=True, exist_ok=True)
                Image.fromarray(pixels).save(path, compress_level=1)
                planned.append(PlannedFile(source=target, target=target, split=split, label=names[int(label)]))
                done += 1
                if done % 500 == 0 or done == total:
                    progress(done, total)
        return planned


def _folder_name(name: str) -> str:
    # Fashion-MNIST's "T-shirt/top" cannot be a folder name.
    return name.replace("/", " or ").replace("\\", " or ").strip()


class IdxSource(TorchvisionSource):
    """MNIST and Fashion-MNIST: four IDX files, each distributed gzipped."""

    def expected_files(self) -> list[str]:
        return [name for name, _ in self.tv_class.resources]

    def _raw(self, folder: Path) -> Path:
        return folder / self.tv_class.__name__ / "raw"

    def where(self, folder: Path) -> str:
        return f"{folder} (or {self._raw(folder)}, where torchvision downloads them)"

    def urls(self) -> list[str]:
        return list(self.tv_class.mirrors)

    def _find(self, folder: Path, gz_name: str) -> Path | None:
        plain = gz_name.removesuffix(".gz")
        for place in (folder, self._raw(folder)):
            for name in (plain, gz_name):
                if (place / name).is_file():
                    return place / name
        return None

    def missing_files(self, folder: Path) -> list[str]:
        return [name for name in self.expected_files() if self._find(folder, name) is None]

    def arrays(self, folder, workdir):
        raw = workdir / self.tv_class.__name__ / "raw"
        raw.mkdir(parents=True, exist_ok=True)
        for gz_name in self.expected_files():
            found = self._find(folder, gz_name)
            if found is None:
                raise DatasetRejected(self.missing_message(folder))
            target = raw / gz_name.removesuffix(".gz")
            try:
                if found.suffix == ".gz":
                    with gzip.open(found, "rb") as src, open(target, "wb") as out:
                        shutil.copyfileobj(src, out, 2**20)
                else:
                    shutil.copyfile(found, target)
            except (OSError, EOFError, gzip.BadGzipFile) as exc:
                raise DatasetRejected(f"{self.title}: {found} cannot be unpacked ({exc}).") from None
        parts = {}
        for split, train in (("train", True), ("test", False)):
            try:
                ds = self.tv_class(root=str(workdir), train=train, download=False)
            except (RuntimeError, AssertionError, ValueError, OSError) as exc:
                raise DatasetRejected(
                    f"{self.title}: the {split} files are not in the IDX format torchvision "
                    f"reads ({exc or type(exc).__name__})."
                ) from None
            images, labels = ds.data.numpy(), ds.targets.numpy()
            if images.ndim != 3 or len(images) != len(labels):
                raise DatasetRejected(
                    f"{self.title}: the {split} images and labels do not match "
                    f"({len(images)} images, {len(labels)} labels)."
                )
            parts[split] = (images.astype(np.uint8), labels)
        return list(self.tv_class.classes), parts


class _ArrayUnpickler(pickle.Unpickler):
    """Builds numpy arrays and plain containers only; anything else in the file is refused."""

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("_codecs", "encode"),
    }

    def find_class(self, module: str, name: str):
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"{module}.{name} is not allowed in a CIFAR-10 file")


def _unpickle(path: Path) -> dict:
    with open(path, "rb") as f:
        data = _ArrayUnpickler(f, encoding="latin1").load()
    if not isinstance(data, dict):
        raise pickle.UnpicklingError("not a dictionary")
    return {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in data.items()}


class CifarSource(TorchvisionSource):
    """CIFAR-10: `cifar-10-python.tar.gz`, or its `cifar-10-batches-py/` folder unpacked."""

    def _batches(self) -> list[str]:
        return [name for name, _ in self.tv_class.train_list + self.tv_class.test_list] + [
            self.tv_class.meta["filename"]
        ]

    def expected_files(self) -> list[str]:
        return [self.tv_class.filename]

    def where(self, folder: Path) -> str:
        return f"{folder}"

    def urls(self) -> list[str]:
        return [self.tv_class.url]

    def _folder(self, folder: Path) -> Path:
        return folder / self.tv_class.base_folder

    def missing_files(self, folder: Path) -> list[str]:
        if (folder / self.tv_class.filename).is_file():
            return []
        batches = self._folder(folder)
        missing = [f"{self.tv_class.base_folder}/{n}" for n in self._batches() if not (batches / n).is_file()]
        if batches.is_dir():
            return missing
        return [f"{self.tv_class.filename} (or the folder {self.tv_class.base_folder}/ unpacked from it)"]

    def _unpack(self, folder: Path, workdir: Path) -> Path:
        if all((self._folder(folder) / n).is_file() for n in self._batches()):
            return self._folder(folder)
        archive = folder / self.tv_class.filename
        if not archive.is_file():
            raise DatasetRejected(self.missing_message(folder))
        wanted = {f"{self.tv_class.base_folder}/{n}" for n in self._batches()}
        try:
            with tarfile.open(archive, "r:gz") as tar:
                members = [m for m in tar.getmembers() if m.name in wanted and m.isfile()]
                missing = wanted - {m.name for m in members}
                if missing:
                    raise DatasetRejected(f"{archive.name} lacks {listing(sorted(missing))}.")
                tar.extractall(workdir, members=members, filter="data")
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise DatasetRejected(f"{archive.name} cannot be unpacked ({exc}).") from None
        return workdir / self.tv_class.base_folder

    def arrays(self, folder, workdir):
        batches = self._unpack(folder, workdir)
        try:
            meta = _unpickle(batches / self.tv_class.meta["filename"])
            classes = [c.decode() if isinstance(c, bytes) else str(c) for c in meta[self.tv_class.meta["key"]]]
            parts = {}
            for split, names in (("train", self.tv_class.train_list), ("test", self.tv_class.test_list)):
                images, labels = [], []
                for name, _ in names:
                    batch = _unpickle(batches / name)
                    data = np.asarray(batch["data"], dtype=np.uint8)
                    batch_labels = np.asarray(batch.get("labels", batch.get("fine_labels")), dtype=np.int64)
                    if data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or len(data) != len(batch_labels):
                        raise ValueError(f"{name} holds data of shape {data.shape} and {len(batch_labels)} labels")
                    images.append(data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
                    labels.append(batch_labels)
                parts[split] = (np.concatenate(images), np.concatenate(labels))
        except DatasetRejected:
            raise
        except (pickle.UnpicklingError, KeyError, ValueError, TypeError, EOFError, OSError, AttributeError) as exc:
            raise DatasetRejected(f"{self.title}: the batch files are not CIFAR-10's python format ({exc}).") from None
        return classes, parts


SOURCES: Registry[TorchvisionSource] = Registry("torchvision dataset")
SOURCES.add("mnist", IdxSource("mnist", "MNIST", tv.MNIST, "70,000 handwritten digits, 28×28 grayscale, 10 classes"))
SOURCES.add(
    "fashion-mnist",
    IdxSource("fashion-mnist", "Fashion-MNIST", tv.FashionMNIST, "70,000 clothing images, 28×28 grayscale, 10 classes"),
)
SOURCES.add("cifar10", CifarSource("cifar10", "CIFAR-10", tv.CIFAR10, "60,000 color images, 32×32, 10 classes"))


def choices() -> list[tuple[str, str]]:
    return [(e.name, f"{e.obj.title}: {e.obj.description}") for e in SOURCES.entries()]


def import_images(
    key: str, folder: Path, dest: Path, workdir: Path, allow_download: bool, progress: Progress
) -> list[PlannedFile]:
    """Write the dataset's images under dest (downloading first where allowed and needed)."""
    source = SOURCES.get(key)
    if source.missing_files(folder):
        if not allow_download:
            raise DatasetRejected(source.missing_message(folder))
        try:
            source.download(folder)
        except Exception as exc:  # urllib, HTTP and checksum errors all mean: provide the files yourself
            raise DatasetRejected(
                source.missing_message(folder, tried_download=str(exc).split("\n")[0][:200])
            ) from None
        if source.missing_files(folder):
            raise DatasetRejected(source.missing_message(folder))
    return source.write_images(folder, dest, workdir, progress)
