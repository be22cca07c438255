"""The worker's training callback: one EpochMetric row per epoch, log lines, checkpoint bookkeeping,
cancel requests, and live messages to the page (sent by a `LiveSender` thread: the training thread
only queues them; `close()` once the run is over)."""

from __future__ import annotations

import logging
import threading
import time

from django.db import DatabaseError, close_old_connections

from training.callbacks import BatchProgress, EpochMetrics, FitStart, Throttled
from training.environment import environment
from webapp.experiments import live
from webapp.experiments.models import EpochMetric, Experiment

logger = logging.getLogger(__name__)

# Set when the worker begins a warm shutdown: the run stops at the next batch, keeping its checkpoint.
WORKER_SHUTTING_DOWN = threading.Event()


class ExperimentRecorder(Throttled):
    def __init__(
        self,
        experiment: Experiment,
        progress_per_second: float = live.PROGRESS_PER_SECOND,
        cancel_poll_seconds: float = 0.5,
        lease_lost: threading.Event | None = None,
    ) -> None:
        super().__init__(progress_per_second)
        self.experiment = experiment
        self._lease_lost = lease_lost or threading.Event()  # set when another worker took the run over
        self._cancel_poll = cancel_poll_seconds
        self._last_poll = 0.0
        self._cancelled = False
        self.sender = live.LiveSender(experiment.pk)

    def log(self, line: str) -> None:
        self.sender.post("log", {"line": self.experiment.append_log(line)})

    def close(self) -> None:
        """Wait until every queued message has gone out (before the final status)."""
        self.sender.close()

    def on_fit_start(self, info: FitStart) -> None:
        self.record_environment(info.device)
        what = f"resuming after epoch {info.start_epoch - 1}" if info.start_epoch > 1 else "starting"
        self.log(f"{what} on {info.device}: {info.sizes()}")

    def record_environment(self, device: str) -> None:
        """What this run runs on, with the seed and the exact data, for the page and the model card."""
        dataset = self.experiment.dataset
        record = {
            **environment(device),
            "worker": self.experiment.worker,
            "seed": self.experiment.config.get("seed"),
            "dataset": {
                "id": dataset.pk,
                "name": dataset.name,
                "version": dataset.version,
                "content_hash": dataset.content_hash,
            },
        }
        Experiment.objects.filter(pk=self.experiment.pk).update(environment=record)
        self.experiment.environment = record

    def on_batch_end(self, progress: BatchProgress) -> None:
        if self.due(progress):
            payload = live.progress_payload(progress.epoch, progress.batch, progress.batches, progress.loss)
            self.sender.post("progress", payload)

    def on_epoch_end(self, metrics: EpochMetrics) -> None:
        values = metrics.to_dict()
        epoch = values.pop("epoch")
        # update_or_create keeps one row per epoch even when a resumed run redoes an epoch.
        row, _ = EpochMetric.objects.update_or_create(
            experiment=self.experiment, epoch=epoch, defaults={k: values[k] for k in EpochMetric.FIELDS if k != "epoch"}
        )
        self.sender.post("epoch", {"metrics": row.to_dict()})
        val = (
            f", val loss {metrics.val_loss:.4f}, val acc {metrics.val_acc:.2%}" if metrics.val_loss is not None else ""
        )
        self.log(
            f"epoch {epoch}/{self.experiment.epochs}: train loss {metrics.train_loss:.4f}, "
            f"train acc {metrics.train_acc:.2%}{val} ({metrics.seconds:.1f}s)"
        )

    def on_checkpoint(self, path: str, epoch: int) -> None:
        Experiment.objects.filter(pk=self.experiment.pk).update(checkpoint_epoch=epoch)
        self.experiment.checkpoint_epoch = epoch

    def on_log(self, line: str) -> None:
        self.log(line)

    def should_stop(self) -> bool:
        if WORKER_SHUTTING_DOWN.is_set() or self._lease_lost.is_set():
            return True
        now = time.monotonic()
        if not self._cancelled and now - self._last_poll >= self._cancel_poll:
            self._last_poll = now
            try:  # best-effort: a database blip is asked again at the next poll, never ends the run
                # A deleted experiment counts as cancelled too.
                self._cancelled = not Experiment.objects.filter(pk=self.experiment.pk, cancel_requested=False).exists()
            except DatabaseError as exc:
                logger.warning("cancel poll of #%s failed: %s", self.experiment.pk, exc)
                close_old_connections()
        return self._cancelled
