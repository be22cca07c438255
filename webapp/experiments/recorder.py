"""The worker's training callback: one EpochMetric row per epoch, and live messages to the page."""
from __future__ import annotations

import threading

from training.callbacks import BatchProgress, EpochMetrics, Throttled
from webapp.experiments import live
from webapp.experiments.models import EpochMetric, Experiment


# Set when the worker begins a warm shutdown: the run stops at the next batch, keeping its checkpoint.
WORKER_SHUTTING_DOWN = threading.Event()


class ExperimentRecorder(Throttled):
    def __init__(self, experiment: Experiment, progress_per_second: float = 4.0) -> None:
        super().__init__(progress_per_second)
        self.experiment = experiment

    def on_batch_end(self, progress: BatchProgress) -> None:
        if self.due(progress):
            live.send_progress(self.experiment.pk, progress.epoch, progress.batch, progress.batches, progress.loss)

    def on_epoch_end(self, metrics: EpochMetrics) -> None:
        values = metrics.to_dict()
        epoch = values.pop("epoch")
        # update_or_create keeps one row per epoch even if an epoch is ever recorded twice.
        row, _ = EpochMetric.objects.update_or_create(experiment=self.experiment, epoch=epoch, defaults=values)
        live.send_epoch(self.experiment.pk, row.to_dict())

    def should_stop(self) -> bool:
        return WORKER_SHUTTING_DOWN.is_set()
