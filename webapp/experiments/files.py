"""Where an experiment's files live: one folder per experiment under settings.CHECKPOINT_ROOT, with the
names the training library writes (the last epoch's checkpoint, the final model)."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from django.conf import settings

from training.engine import CHECKPOINT_NAME, MODEL_NAME


def checkpoint_dir(experiment_id: int) -> Path:
    return Path(settings.CHECKPOINT_ROOT) / f"experiment-{experiment_id}"


def last_checkpoint_path(experiment_id: int) -> Path:
    """The checkpoint of the last finished epoch: where a resumed or extended run continues from."""
    return checkpoint_dir(experiment_id) / CHECKPOINT_NAME


def final_model_path(experiment_id: int) -> Path:
    """The finished run's final weights (written by training at the end of a run)."""
    return checkpoint_dir(experiment_id) / MODEL_NAME


def delete_files(experiment_id: int) -> None:
    """Everything kept for an experiment (checkpoints, final model, exports): its folder, gone."""
    shutil.rmtree(checkpoint_dir(experiment_id), ignore_errors=True)


_FOLDER = re.compile(r"experiment-(\d+)")


def stored_experiment_ids() -> dict[int, Path]:
    """The experiments that have a folder under CHECKPOINT_ROOT, by id."""
    root = Path(settings.CHECKPOINT_ROOT)
    if not root.is_dir():
        return {}
    return {int(m.group(1)): p for p in root.iterdir() if p.is_dir() and (m := _FOLDER.fullmatch(p.name))}


def exports_dir(experiment_id: int) -> Path:
    """Downloads built from the final model (ONNX, .pt2, weights, model card), cached beside it."""
    return checkpoint_dir(experiment_id) / "exports"


def versioned_model_path(experiment_id: int, epoch: int) -> Path:
    """The final model as it was after `epoch`, kept when the run was extended past it."""
    return checkpoint_dir(experiment_id) / f"model-epoch{epoch}.pt"


def started_from_path(init_from_id: int, epoch: int | None) -> Path:
    """The final model a run that starts from run `init_from_id` (after `epoch`) loads."""
    if epoch is not None and versioned_model_path(init_from_id, epoch).exists():
        return versioned_model_path(init_from_id, epoch)
    return final_model_path(init_from_id)


def keep_final_model(experiment_id: int, epoch: int) -> None:
    """Before an extension overwrites model.pt, keep the current one (a hard link) for the runs that
    started from it."""
    final, kept = final_model_path(experiment_id), versioned_model_path(experiment_id, epoch)
    if final.exists() and not kept.exists():
        os.link(final, kept)
