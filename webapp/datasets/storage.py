"""What is kept of a dataset, through Django's storage API (shared by every host of a deployment, keyed
by the content hash, so identical datasets share them):

    datasets/content/<hash>/images.zip                   the validated images in canonical layout
    datasets/content/<hash>/samples/<class>-<i>.png      a few images per class, at most 256 px
    datasets/content/<hash>/split-<seed>-<val>-<test>.json   which file is in which split
    datasets/uploads/<uuid>.zip                          an upload, until it is processed

Each host's extracted copy of the images is in `cache`.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import tempfile
import uuid
import zipfile
from pathlib import Path

from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, Storage, default_storage, storages
from PIL import Image

from training.data import to_rgb

SAMPLE_MAX_SIDE = 256
CONTENT_PREFIX = "datasets/content"
UPLOAD_PREFIX = "datasets/uploads"


def storage() -> Storage:
    return default_storage


def is_local() -> bool:
    """True when the default storage is this host's file system (the embedded mode), False for object
    storage (S3), which every host of a deployment shares."""
    return isinstance(storages["default"], FileSystemStorage)


def stream(name: str):
    """A stored file opened for reading in chunks, for FileResponse and copies: on S3 the object's body as it
    arrives (never the whole file in memory or on disk first); FileNotFoundError when it is not there."""
    store = storages["default"]
    if is_local() or not hasattr(store, "bucket"):
        return store.open(name, "rb")
    from botocore.exceptions import ClientError
    from storages.utils import clean_name

    try:
        return store.bucket.Object(store._normalize_name(clean_name(name))).get()["Body"]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in {"NoSuchKey", "404"}:
            raise FileNotFoundError(f"{name} is not in storage") from None
        raise


# --- names -----------------------------------------------------------------------------------------
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


# --- saving ----------------------------------------------------------------------------------------
def _save_once(name: str, content: File) -> str:
    """Store under exactly `name` unless it is there already (content-addressed: same name, same bytes)."""
    if not storage().exists(name):
        stored = storage().save(name, content)
        if stored != name:  # another worker stored the same content meanwhile
            storage().delete(stored)
    return name


def pack(folder: Path, targets: list[str], content_hash: str, scratch: Path) -> str:
    """Store the images as one zip (stored, not deflated: images are compressed already), built in `scratch`."""
    name = archive_name(content_hash)
    if storage().exists(name):
        return name
    fd, tmp = tempfile.mkstemp(suffix=".zip", dir=scratch)
    os.close(fd)
    try:
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
            for target in sorted(targets):
                zf.write(folder / target, target)
        with open(tmp, "rb") as f:
            return _save_once(name, File(f))
    finally:
        Path(tmp).unlink(missing_ok=True)


def _thumbnail_png(path: Path) -> bytes:
    with Image.open(path) as img:
        rgb = to_rgb(img)
    rgb.thumbnail((SAMPLE_MAX_SIDE, SAMPLE_MAX_SIDE), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    rgb.save(buffer, format="PNG")
    return buffer.getvalue()


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
                _save_once(name, ContentFile(_thumbnail_png(folder / target)))
            names[cls].append(name)
    return names


def save_split(
    manifest: dict, classes: list[str], content_hash: str, seed: int, val_fraction: float, test_fraction: float
) -> str:
    name = split_name(content_hash, seed, val_fraction, test_fraction)
    if not storage().exists(name):
        body = json.dumps({"classes": classes, **manifest}, separators=(",", ":")).encode()
        _save_once(name, ContentFile(body))
    return name


def load_split(name: str) -> dict | None:
    if not name or not storage().exists(name):
        return None
    with storage().open(name, "rb") as f:
        return json.loads(f.read())


# --- deleting (see DatasetQuerySet.delete_unused_files: only what no row uses) --------------------------
def delete(name: str) -> None:
    if name:
        storage().delete(name)


def delete_content(content_hash: str) -> None:
    """Remove everything stored for a content hash (images, samples, splits)."""
    delete_tree(content_dir(content_hash))


def delete_tree(prefix: str) -> None:
    """Remove every stored file under `prefix` (a folder's name)."""
    try:
        folders, files = storage().listdir(prefix)
    except (FileNotFoundError, NotImplementedError):
        return
    for f in files:
        storage().delete(f"{prefix}/{f}")
    for d in folders:
        delete_tree(f"{prefix}/{d}")
    with contextlib.suppress(NotImplementedError, OSError):  # local storage leaves empty folders behind
        os.rmdir(storage().path(prefix))
