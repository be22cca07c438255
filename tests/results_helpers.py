"""Finished runs made directly as rows, for pages that only read results (compare); and a tiny run trained
in this process, for what needs its final model (downloads, predict, test images)."""

from __future__ import annotations

from webapp.experiments.models import EpochMetric, Experiment
from webapp.experiments.states import Status


def finish_with(experiment: Experiment, accuracy: float, epochs: int = 2) -> Experiment:
    """A run's stored results, as a worker leaves them (rows written directly: this page only reads)."""
    for epoch in range(1, epochs + 1):
        EpochMetric.objects.create(
            experiment=experiment,
            epoch=epoch,
            train_loss=1 / epoch,
            train_acc=accuracy,
            val_loss=1.1 / epoch,
            val_acc=accuracy - 0.05,
            lr=0.01,
            seconds=2.0,
        )
    experiment.finish(
        Status.SUCCEEDED,
        test_metrics={
            "accuracy": accuracy,
            "loss": 0.5,
            "macro_f1": accuracy,
            "classes": ["a", "b"],
            "confusion_matrix": [[3, 1], [0, 4]],
            "per_class": [],
            "predictions": [],
        },
        best_epoch=epochs,
    )
    return experiment


def trained_run(dataset, owner, name: str = "done") -> Experiment:
    """A tiny run of `dataset` trained here, in this process (no worker): its final model, test report and
    test images are real."""
    from tests.helpers import TINY_CONFIG
    from training import TrainConfig
    from webapp.experiments.tasks import run_experiment

    config = TrainConfig.from_dict({**TINY_CONFIG, "epochs": 1}).to_dict()
    run = Experiment.objects.create(team=dataset.team, owner=owner, dataset=dataset, name=name, config=config)
    run_experiment.apply(args=[run.pk])
    run.refresh_from_db()
    assert run.status == Status.SUCCEEDED, run.error
    assert run.test_metrics["predictions"], "the run has no test images"
    return run
