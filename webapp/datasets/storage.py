"""Where a dataset's files live: Django's storage API for what is kept, a worker-local cache for use.

Kept in storage (shared by every host of a deployment, keyed by the content hash, so identical
datasets share them):

    datasets/content/<hash>/images.zip                   the validated images in canonical layout
    datasets/content/<hash>/samples/<class>-<i>.png      a few images per class, at most 256 px
    datasets/content/<hash>/split-<seed>-<val>-<test>.json   which file is in which split

Each host that trains keeps an extracted copy under settings.DATASET_CACHE_DIR/<hash>/, made once
from images.zip (atomically: extracted beside it, then renamed into place) and reused by every
experiment on that host. Uploads in progress live in datasets/uploads/ until processed.
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import json
import os
import shutil
import tempfile
import uuid
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from PIL import Image

from training.data import to_rgb

SAMPLE_MAX_SIDE = 256
CONTENT_PREFIX = "datasets/content"
UPLOAD_PREFIX = "datasets/uploads"


def storage():
    return default_storage


def content_dir(content_hash: str) -> str:
    return f"{CONTENT_PREFIX}/{content_hash}"


def archive_name(content_hash: str) -> str:
    return f"{content_dir(content_hash)}/images.zip"


def sample_name(content_hash: str, class_index: int, i: int) -> str:
    return f"{content_dir(content_hash)}/samples/{class_index}-{i}.png"


def split_name(content_hash: str, seed: int, val_fraction: float, test_fraction: float) -> str:
    return f"{content_dir(content_hash)}/split-{seed}-{val_fraction:g}-{test_fraction:g}.json"


def upload_to(instance, filename: str) -> str:
    return f"{UPLOAD_PREFIX}/{uuid.uuid4().hex}.zip"


def cache_root() -> Path:
    root = Path(settings.DATASET_CACHE_DIR)
    root.mkdir(parents=True, exist_ok=True)
    return root


def cache_path(content_hash: str) -> Path:
    return Path(settings.DATASET_CACHE_DIR) / content_hash


@contextmanager
def cache_lock(content_hash: str) -> Iterator[None]:
    """One process or thread at a time fills or replaces a hash's cache folder on this host."""
    with open(cache_root() / f"{content_hash}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _ready_marker(content_hash: str) -> Path:
    return Path(settings.DATASET_CACHE_DIR) / f"{content_hash}.ready"


def is_cached(content_hash: str) -> bool:
    return _ready_marker(content_hash).exists() and cache_path(content_hash).is_dir()


def staging_dir() -> Path:
    """A fresh folder beside the cache (same file system, so it can be renamed into it)."""
    return Path(tempfile.mkdtemp(prefix=".staging-", dir=cache_root()))


def adopt_into_cache(folder: Path, content_hash: str) -> Path:
    """Move a validated staging folder to the cache under its hash (or drop it if already there).
    Call it holding `cache_lock(content_hash)`."""
    final = cache_path(content_hash)
    if is_cached(content_hash):
        shutil.rmtree(folder, ignore_errors=True)
        return final
    shutil.rmtree(final, ignore_errors=True)  # a half-made copy from a crashed extraction
    os.replace(folder, final)
    _ready_marker(content_hash).touch()
    return final


@contextmanager
def local_copy(name: str) -> Iterator[Path]:
    """A stored file as a local path: the file itself on local storage, else a temporary copy."""
    try:
        local = Path(storage().path(name))
    except NotImplementedError:  # remote storage (S3 and the like)
        local = None
    if local is not None and local.is_file():  # some storages give paths that are not on this host
        yield local
        return
    fd, tmp = tempfile.mkstemp(suffix=Path(name).suffix, dir=cache_root())
    try:
        with os.fdopen(fd, "wb") as out, storage().open(name, "rb") as src:
            shutil.copyfileobj(src, out, 2**20)
        yield Path(tmp)
    finally:
        Path(tmp).unlink(missing_ok=True)


def ensure_local(content_hash: str) -> Path:
    """The extracted dataset on this host, made from storage on first use."""
    if is_cached(content_hash):
        return cache_path(content_hash)
    name = archive_name(content_hash)
    with cache_lock(content_hash):
        if is_cached(content_hash):  # another worker thread made it while this one waited
            return cache_path(content_hash)
        if not storage().exists(name):
            raise FileNotFoundError(f"the dataset's images ({name}) are missing from storage")
        tmp = staging_dir()
        try:
            with local_copy(name) as path, zipfile.ZipFile(path) as zf:
                root = tmp.resolve()
                for info in zf.infolist():
                    target = (tmp / info.filename).resolve()
                    if not target.is_relative_to(root):  # our own archive, but never trust a path
                        raise ValueError(f"unsafe path in {name}: {info.filename}")
                    if info.is_dir():
                        continue
                    target.parent.mkdir(parents=True, exist_ok=True)
                    with zf.open(info) as src, open(target, "wb") as out:
                        shutil.copyfileobj(src, out, 2**20)
            return adopt_into_cache(tmp, content_hash)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise


def pack(folder: Path, targets: list[str], content_hash: str) -> str:
    """Store the images as one zip (stored, not deflated: images are compressed already)."""
    name = archive_name(content_hash)
    if storage().exists(name):
        return name
    fd, tmp = tempfile.mkstemp(suffix=".zip", dir=cache_root())
    os.close(fd)
    try:
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
            for target in sorted(targets):
                zf.write(folder / target, target)
        with open(tmp, "rb") as f:
            saved = storage().save(name, File(f))
        if saved != name:  # another worker stored the same content meanwhile
            storage().delete(saved)
        return name
    finally:
        Path(tmp).unlink(missing_ok=True)


def save_samples(
    folder: Path, classes: list[str], samples: dict[str, list[str]], content_hash: str
) -> dict[str, list[str]]:
    """Downscaled copies of the sample images, in storage, so pages never need the whole dataset."""
    names: dict[str, list[str]] = {}
    for ci, cls in enumerate(classes):
        names[cls] = []
        for i, target in enumerate(samples.get(cls, [])):
            name = sample_name(content_hash, ci, i)
            if not storage().exists(name):
                with Image.open(folder / target) as img:
                    rgb = to_rgb(img)
                rgb.thumbnail((SAMPLE_MAX_SIDE, SAMPLE_MAX_SIDE), Image.Resampling.LANCZOS)
                buffer = io.BytesIO()
                rgb.save(buffer, format="PNG")
                stored = storage().save(name, ContentFile(buffer.getvalue()))
                if stored != name:
                    storage().delete(stored)
            names[cls].append(name)
    return names


def save_split(
    manifest: dict, classes: list[str], content_hash: str, seed: int, val_fraction: float, test_fraction: float
) -> str:
    name = split_name(content_hash, seed, val_fraction, test_fraction)
    if not storage().exists(name):
        body = json.dumps({"classes": classes, **manifest}, separators=(",", ":")).encode()
        stored = storage().save(name, ContentFile(body))
        if stored != name:
            storage().delete(stored)
    return name


def load_split(name: str) -> dict | None:
    if not name or not storage().exists(name):
        return None
    with storage().open(name, "rb") as f:
        return json.loads(f.read())


def delete_content(content_hash: str) -> None:
    """Remove everything stored for a content hash, and this host's cached copy."""
    _delete_tree(content_dir(content_hash))
    with cache_lock(content_hash):
        shutil.rmtree(cache_path(content_hash), ignore_errors=True)
        _ready_marker(content_hash).unlink(missing_ok=True)
    (Path(settings.DATASET_CACHE_DIR) / f"{content_hash}.lock").unlink(missing_ok=True)


def delete_split(name: str) -> None:
    if name:
        storage().delete(name)


def _delete_tree(prefix: str) -> None:
    try:
        folders, files = storage().listdir(prefix)
    except (FileNotFoundError, NotImplementedError):
        return
    for f in files:
        storage().delete(f"{prefix}/{f}")
    for d in folders:
        _delete_tree(f"{prefix}/{d}")
    with contextlib.suppress(NotImplementedError, OSError):  # local storage leaves empty folders behind
        os.rmdir(storage().path(prefix))
