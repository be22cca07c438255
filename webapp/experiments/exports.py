"""A finished run's downloads: built from its `model.pt` by `training.export` on first request, cached in
`files.exports_dir`, and rebuilt when the model is newer than the cached file (a run trained further)."""

from __future__ import annotations

from pathlib import Path

from training.export import EXPORTS, build_export
from webapp.experiments.files import exports_dir, final_model_path
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


def model_path(experiment: Experiment) -> Path:
    model = final_model_path(experiment.pk)
    if experiment.status not in WITH_FINAL_MODEL or not model.exists():
        raise ExportUnavailable("the experiment has no final model: only a finished run can be downloaded")
    return model


def export_file(experiment: Experiment, name: str) -> Path:
    """The export `name`'s file, built now when it is missing or older than the final model."""
    if name not in EXPORTS:
        raise ExportUnavailable(f"unknown export {name!r}; choose one of: {', '.join(EXPORTS.names())}")
    model = model_path(experiment)
    cached = exports_dir(experiment.pk) / EXPORTS.get(name).filename
    if cached.exists() and cached.stat().st_mtime >= model.stat().st_mtime:
        return cached
    return build_export(name, model, exports_dir(experiment.pk), card_info(experiment))


def download_name(experiment: Experiment, name: str) -> str:
    return f"experiment-{experiment.pk}-{EXPORTS.get(name).filename}"


def available(experiment: Experiment) -> list[dict]:
    """[{name, label, filename}] of the downloads, or [] when the run has no final model."""
    try:
        model_path(experiment)
    except ExportUnavailable:
        return []
    return [{"name": n, "label": LABELS.get(n, n), "filename": download_name(experiment, n)} for n in EXPORTS.names()]
