"""A finished run's downloads: built from its `model.pt` by `training.export` on first request, cached in
`files.exports_dir` (and with object storage kept in storage too), and rebuilt when the model is newer than
the cached file (a run trained further)."""

from __future__ import annotations

from pathlib import Path

from training.engine import MODEL_NAME
from training.export import EXPORTS, build_export
from webapp.datasets import storage
from webapp.experiments import files
from webapp.experiments.files import exports_dir
from webapp.experiments.models import Experiment
from webapp.experiments.states import WITH_FINAL_MODEL

LABELS = {
    "onnx": "ONNX",
    "pt2": "torch.export (.pt2)",
    "weights": "Weights (state_dict)",
    "card_md": "Model card (Markdown)",
    "card_json": "Model card (JSON)",
}


class ExportUnavailable(Exception):
    """Why this experiment has nothing to download (yet)."""


def card_info(experiment: Experiment) -> dict:
    """What the model card says beyond the checkpoint: the run's name, its data, test metrics and environment."""
    dataset = experiment.dataset
    return {
        "name": experiment.name,
        "dataset": {"name": dataset.name, "version": dataset.version, "content_hash": dataset.content_hash},
        "test_metrics": experiment.test_summary or {},
        "environment": experiment.environment,
    }


def check_model(experiment: Experiment) -> None:
    """ExportUnavailable unless the run is finished and its final model is kept (here or in storage)."""
    if experiment.status not in WITH_FINAL_MODEL or not files.is_stored(experiment.pk, MODEL_NAME):
        raise ExportUnavailable("the experiment has no final model: only a finished run can be downloaded")


def model_path(experiment: Experiment) -> Path:
    """The final model on this host (downloaded from storage when this host has none, or an older one)."""
    check_model(experiment)
    model = files.fetch(experiment.pk, MODEL_NAME)
    if model is None:  # removed meanwhile
        raise ExportUnavailable("the experiment has no final model: only a finished run can be downloaded")
    return model


def export_file(experiment: Experiment, name: str) -> Path:
    """The export `name`'s file on this host, built now when it is missing or older than the final model."""
    if name not in EXPORTS:
        raise ExportUnavailable(f"unknown export {name!r}; choose one of: {', '.join(EXPORTS.names())}")
    model = model_path(experiment)
    cached = exports_dir(experiment.pk) / EXPORTS.get(name).filename
    if cached.exists() and cached.stat().st_mtime >= model.stat().st_mtime:
        return cached
    return build_export(name, model, exports_dir(experiment.pk), card_info(experiment))


def open_export(experiment: Experiment, name: str):
    """The export `name` opened for reading in chunks. With object storage it is kept there under
    `experiments/<id>/exports/`, served from there while it is newer than the stored final model, and
    otherwise built on this host and uploaded first."""
    if storage.is_local():
        return export_file(experiment, name).open("rb")
    check_model(experiment)
    if name not in EXPORTS:
        raise ExportUnavailable(f"unknown export {name!r}; choose one of: {', '.join(EXPORTS.names())}")
    stored = f"exports/{EXPORTS.get(name).filename}"
    built = files.stored_time(experiment.pk, stored)
    model = files.stored_time(experiment.pk, MODEL_NAME)
    if built is None or model is None or built < model:
        files.upload(experiment.pk, export_file(experiment, name), stored)
    try:
        return storage.stream(files.stored_name(experiment.pk, stored))
    except FileNotFoundError:
        raise ExportUnavailable("the export is missing from storage; ask for it again") from None


def download_name(experiment: Experiment, name: str) -> str:
    return f"experiment-{experiment.pk}-{EXPORTS.get(name).filename}"


def available(experiment: Experiment) -> list[dict]:
    """[{name, label, filename}] of the downloads, or [] when the run has no final model."""
    try:
        check_model(experiment)
    except ExportUnavailable:
        return []
    return [{"name": n, "label": LABELS.get(n, n), "filename": download_name(experiment, n)} for n in EXPORTS.names()]
