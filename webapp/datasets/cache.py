"""Each host's extracted copies of stored datasets, in settings.DATASET_CACHE_DIR:

    <hash>/          the images, extracted once from storage's images.zip and reused by every experiment
    <hash>.ready     written once <hash>/ is complete
    <hash>.lock      held (flock) by whoever fills, replaces or removes <hash>/ on this host
    .staging-*/      folders being validated, beside the cache so that they can be renamed into it

A copy is made atomically: extracted beside the cache, then renamed into place.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings

from webapp.datasets import storage


def cache_root() -> Path:
    root = Path(settings.DATASET_CACHE_DIR)
    root.mkdir(parents=True, exist_ok=True)
    return root


def cache_path(content_hash: str) -> Path:
    return Path(settings.DATASET_CACHE_DIR) / content_hash


def _ready_marker(content_hash: str) -> Path:
    return Path(settings.DATASET_CACHE_DIR) / f"{content_hash}.ready"


def _lock_file(content_hash: str) -> Path:
    return Path(settings.DATASET_CACHE_DIR) / f"{content_hash}.lock"


@contextmanager
def cache_lock(content_hash: str) -> Iterator[None]:
    """One process or thread at a time fills or replaces a hash's cache folder on this host."""
    cache_root()  # made if missing
    with open(_lock_file(content_hash), "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


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
    """A stored file as a local path: the file itself on local storage, else a temporary copy in the cache."""
    try:
        local = Path(storage.storage().path(name))
    except NotImplementedError:  # remote storage (S3 and the like)
        local = None
    if local is not None and local.is_file():  # some storages give paths that are not on this host
        yield local
        return
    fd, tmp = tempfile.mkstemp(suffix=Path(name).suffix, dir=cache_root())
    try:
        with os.fdopen(fd, "wb") as out, contextlib.closing(storage.stream(name)) as src:
            shutil.copyfileobj(src, out, 2**20)
        yield Path(tmp)
    finally:
        Path(tmp).unlink(missing_ok=True)


def _extract(archive: Path, dest: Path) -> None:
    with zipfile.ZipFile(archive) as zf:
        root = dest.resolve()
        for info in zf.infolist():
            target = (dest / info.filename).resolve()
            if not target.is_relative_to(root):  # our own archive, but never trust a path
                raise ValueError(f"unsafe path in {archive.name}: {info.filename}")
            if info.is_dir():
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as src, open(target, "wb") as out:
                shutil.copyfileobj(src, out, 2**20)


def ensure_local(content_hash: str) -> Path:
    """The extracted dataset on this host, made from storage on first use."""
    if is_cached(content_hash):
        return cache_path(content_hash)
    name = storage.archive_name(content_hash)
    with cache_lock(content_hash):
        if is_cached(content_hash):  # another worker thread made it while this one waited
            return cache_path(content_hash)
        if not storage.storage().exists(name):
            raise FileNotFoundError(f"the dataset's images ({name}) are missing from storage")
        tmp = staging_dir()
        try:
            with local_copy(name) as path:
                _extract(path, tmp)
            return adopt_into_cache(tmp, content_hash)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise


def forget(content_hash: str) -> None:
    """Remove this host's copy of a content hash (its folder, marker and lock file)."""
    with cache_lock(content_hash):
        shutil.rmtree(cache_path(content_hash), ignore_errors=True)
        _ready_marker(content_hash).unlink(missing_ok=True)
    _lock_file(content_hash).unlink(missing_ok=True)
