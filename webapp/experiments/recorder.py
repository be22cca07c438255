"""The worker's training callback: one EpochMetric row per epoch, log lines, checkpoint bookkeeping,
cancel requests, and live messages to the page (sent by a `LiveSender` thread: the training thread
only queues them; `close()` once the run is over)."""

from __future__ import annotations

import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from django.conf import settings
from django.db import DatabaseError, close_old_connections, connection

from training.callbacks import BatchProgress, EpochMetrics, FitStart, Throttled
from training.engine import CHECKPOINT_NAME
from training.environment import environment
from webapp.datasets import storage
from webapp.experiments import files, live
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
        self.uploads: CheckpointUploads | None = None

    def log(self, line: str) -> None:
        self.sender.post("log", {"line": self.experiment.append_log(line)})

    def close(self) -> None:
        """Wait until every queued message and checkpoint upload has gone out (before the final status)."""
        self.wait_uploads()
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
        """`last.pt` of `epoch` is written on this host. With object storage it is uploaded every
        TRAINYARD_CHECKPOINT_UPLOAD_EVERY epochs, off the training thread, and only once the upload is
        done does the row say which epoch the stored checkpoint holds (where any host resumes from)."""
        if self._lease_lost.is_set():
            return  # another worker runs it now: its checkpoint must not be overwritten by this one
        if storage.is_local():
            self.stored_checkpoint(epoch)
        elif epoch % settings.TRAINYARD_CHECKPOINT_UPLOAD_EVERY == 0:
            if self.uploads is None:
                self.uploads = CheckpointUploads(self)
            self.uploads.submit(Path(path), epoch)

    def stored_checkpoint(self, epoch: int) -> None:
        Experiment.objects.filter(pk=self.experiment.pk).update(checkpoint_epoch=epoch)
        self.experiment.checkpoint_epoch = epoch

    def wait_uploads(self) -> None:
        """Until every checkpoint upload begun has finished (before the run's files are settled)."""
        if self.uploads is not None:
            self.uploads.wait()
            self.uploads = None

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


class CheckpointUploads:
    """Uploads of `last.pt` on a thread of their own, in epoch order, while training goes on. Each sends a
    hard link made when its epoch's checkpoint was written (the next epoch's atomic rename leaves it
    alone); only once it is stored does the row name its epoch."""

    def __init__(self, recorder: ExperimentRecorder) -> None:
        self.recorder = recorder
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"upload-{recorder.experiment.pk}")

    def submit(self, path: Path, epoch: int) -> None:
        snapshot = path.with_name(f".{CHECKPOINT_NAME}.epoch{epoch}.upload")
        snapshot.unlink(missing_ok=True)
        os.link(path, snapshot)
        self._pool.submit(self._upload, snapshot, epoch)

    def _upload(self, snapshot: Path, epoch: int) -> None:
        recorder = self.recorder
        try:
            if not recorder._lease_lost.is_set():
                files.upload(recorder.experiment.pk, snapshot, CHECKPOINT_NAME)
                recorder.stored_checkpoint(epoch)
        except Exception:  # storage or database unreachable: a later upload (at the latest the last) retries
            logger.exception("upload of #%s's checkpoint of epoch %s failed", recorder.experiment.pk, epoch)
        finally:
            snapshot.unlink(missing_ok=True)
            connection.close()  # this thread's own database connection

    def wait(self) -> None:
        self._pool.shutdown(wait=True)
