"""Where an experiment's files live: one folder per experiment under settings.CHECKPOINT_ROOT, with the
names the training library writes (the last epoch's checkpoint, the final model)."""

from __future__ import annotations

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


def exports_dir(experiment_id: int) -> Path:
    """Downloads built from the final model (ONNX, .pt2, weights, model card), cached beside it."""
    return checkpoint_dir(experiment_id) / "exports"
