"""Where an experiment's files live: one folder per experiment under settings.CHECKPOINT_ROOT, with the
names the training library writes (the last epoch's checkpoint, the final model).

With object storage (settings.TRAINYARD_S3_BUCKET) that folder is this host's work copy, and what counts is
kept in storage under `experiments/<id>/<file>` (last.pt, model.pt, model-epochN.pt, exports/...): uploaded
by the worker, downloaded by whichever host needs a file. On the local file system (the embedded mode) the
folder is the one place they are kept and the functions below that upload or download do nothing.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from pathlib import Path

from django.conf import settings
from django.core.files import File

from training.engine import CHECKPOINT_NAME, MODEL_NAME
from webapp.datasets import storage

STORED_PREFIX = "experiments"


def checkpoint_dir(experiment_id: int) -> Path:
    return Path(settings.CHECKPOINT_ROOT) / f"experiment-{experiment_id}"


def last_checkpoint_path(experiment_id: int) -> Path:
    """The checkpoint of the last finished epoch: where a resumed or extended run continues from."""
    return checkpoint_dir(experiment_id) / CHECKPOINT_NAME


def final_model_path(experiment_id: int) -> Path:
    """The finished run's final weights (written by training at the end of a run)."""
    return checkpoint_dir(experiment_id) / MODEL_NAME


def delete_files(experiment_id: int) -> None:
    """Everything kept for an experiment (checkpoints, final model, exports): its folder and its stored objects."""
    shutil.rmtree(checkpoint_dir(experiment_id), ignore_errors=True)
    if not storage.is_local():
        delete_stored(experiment_id)


_FOLDER = re.compile(r"experiment-(\d+)")


def stored_experiment_ids() -> dict[int, Path]:
    """The experiments that have a folder under CHECKPOINT_ROOT, by id."""
    root = Path(settings.CHECKPOINT_ROOT)
    if not root.is_dir():
        return {}
    return {int(m.group(1)): p for p in root.iterdir() if p.is_dir() and (m := _FOLDER.fullmatch(p.name))}


def stored_object_ids() -> set[int]:
    """The experiments that have objects in object storage, by id (none on the local file system)."""
    if storage.is_local():
        return set()
    try:
        folders, _ = storage.storage().listdir(STORED_PREFIX)
    except FileNotFoundError:
        return set()
    return {int(f) for f in folders if f.isdigit()}


def delete_stored(experiment_id: int) -> None:
    storage.delete_tree(f"{STORED_PREFIX}/{experiment_id}")


def exports_dir(experiment_id: int) -> Path:
    """Downloads built from the final model (ONNX, .pt2, weights, model card), cached beside it."""
    return checkpoint_dir(experiment_id) / "exports"


def versioned_model_path(experiment_id: int, epoch: int) -> Path:
    """The final model as it was after `epoch`, kept when the run was extended past it."""
    return checkpoint_dir(experiment_id) / f"model-epoch{epoch}.pt"


def started_from_path(init_from_id: int, epoch: int | None) -> Path:
    """The final model a run that starts from run `init_from_id` (after `epoch`) loads, on this host."""
    if epoch is not None:
        kept = fetch(init_from_id, versioned_model_path(init_from_id, epoch).name)
        if kept is not None:
            return kept
    return fetch(init_from_id, MODEL_NAME) or final_model_path(init_from_id)


def keep_final_model(experiment_id: int, epoch: int) -> None:
    """Before an extension overwrites model.pt, keep the current one (a hard link, and in storage a copy)
    for the runs that started from it."""
    final, kept = final_model_path(experiment_id), versioned_model_path(experiment_id, epoch)
    if not storage.is_local():
        if is_stored(experiment_id, kept.name) or fetch(experiment_id, MODEL_NAME) is None:
            return
        kept.unlink(missing_ok=True)
    if final.exists() and not kept.exists():
        os.link(final, kept)
        upload(experiment_id, kept)


# --- object storage: what the worker uploads and any host downloads ----------------------------------
def stored_name(experiment_id: int, filename: str) -> str:
    return f"{STORED_PREFIX}/{experiment_id}/{filename}"


def upload(experiment_id: int, local: Path, filename: str | None = None) -> None:
    """Keep a local file of the experiment in storage (object storage only). An S3 PUT is atomic: a reader
    gets the previous object or this one, never part of it."""
    if storage.is_local():
        return
    with open(local, "rb") as f:
        storage.storage().save(stored_name(experiment_id, filename or local.name), File(f))


def is_stored(experiment_id: int, filename: str) -> bool:
    if storage.is_local():
        return (checkpoint_dir(experiment_id) / filename).exists()
    return storage.storage().exists(stored_name(experiment_id, filename))


def stored_time(experiment_id: int, filename: str) -> float | None:
    """When the kept file was last written (a timestamp), None when there is none."""
    if storage.is_local():
        local = checkpoint_dir(experiment_id) / filename
        return local.stat().st_mtime if local.exists() else None
    name = stored_name(experiment_id, filename)
    if not storage.storage().exists(name):
        return None
    return storage.storage().get_modified_time(name).timestamp()


def download(experiment_id: int, filename: str) -> Path | None:
    """The stored file copied to this host's folder (atomically: a temporary file renamed), None when it
    is not stored."""
    local = checkpoint_dir(experiment_id) / filename
    local.parent.mkdir(parents=True, exist_ok=True)
    try:
        source = storage.stream(stored_name(experiment_id, filename))
    except FileNotFoundError:
        return None
    fd, tmp = tempfile.mkstemp(prefix=f".{local.name}.", suffix=".download", dir=local.parent)
    try:
        with os.fdopen(fd, "wb") as out, contextlib.closing(source):
            shutil.copyfileobj(source, out, 2**20)
        os.replace(tmp, local)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return local


def fetch(experiment_id: int, filename: str) -> Path | None:
    """The experiment's file on this host, downloaded when this host has none or an older one than storage
    (a run trained further elsewhere); None when it is nowhere."""
    local = checkpoint_dir(experiment_id) / filename
    if storage.is_local():
        return local if local.exists() else None
    stored = stored_time(experiment_id, filename)
    if stored is None:
        return None
    if local.exists() and local.stat().st_mtime >= stored:
        return local
    return download(experiment_id, filename)
