"""Where an experiment's files live: one folder per experiment under settings.CHECKPOINT_ROOT, with the
names the training library writes (the last epoch's checkpoint, the final model)."""

from __future__ import annotations

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
