"""The Celery task that runs one experiment. It takes the id, never an ORM object."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from celery import shared_task
from celery.signals import worker_ready, worker_shutting_down
from django.conf import settings

from training import ConfigError, FitResult, Outcome, TrainConfig, fit
from training import checkpoint as ckpt
from training.engine import CHECKPOINT_NAME
from webapp.core import leases
from webapp.core.queues import send_after_commit
from webapp.datasets import storage
from webapp.experiments import files, gpu_classes, live, signals
from webapp.experiments.files import checkpoint_dir, keep_final_model, last_checkpoint_path, started_from_path
from webapp.experiments.models import EpochMetric, Experiment
from webapp.experiments.recorder import WORKER_SHUTTING_DOWN, ExperimentRecorder
from webapp.experiments.samples import relative_predictions
from webapp.experiments.states import STATUS_OF_OUTCOME, Status

logger = logging.getLogger(__name__)


_REAPER_STOP = threading.Event()


@worker_shutting_down.connect
def _stop_running_experiment(**kwargs) -> None:
    WORKER_SHUTTING_DOWN.set()
    _REAPER_STOP.set()


@worker_ready.connect
def _start_reaper(**kwargs) -> None:
    """Every worker reaps lost runs and expired uploads, now and every TRAINYARD_REAPER_SECONDS (each change
    is a compare-and-set)."""
    from webapp.core.recovery import periodically

    leases.run_periodically("lease-reaper", settings.TRAINYARD_REAPER_SECONDS, periodically, _REAPER_STOP)
    if gpu_classes.SERVED:  # the form offers the classes of workers seen online
        leases.run_periodically("gpu-class", gpu_classes.ANNOUNCE_SECONDS, gpu_classes.announce, _REAPER_STOP)


class MissingCheckpoint(Exception):
    pass


def enqueue(experiment: Experiment) -> None:
    """Send the task to the experiment's queue once the transaction that queued the row has committed."""
    send_after_commit(run_experiment, experiment.pk, queue=experiment.route, priority=experiment.broker_priority)


def _checkpoint_epoch(path: Path) -> int:
    return int(ckpt.load(path)["epoch"])


def _resume_point(experiment: Experiment) -> Path | None:
    """The checkpoint to continue from, on this host; None when there is none to continue from.

    On the local file system `last.pt` is written (atomically) before the row's checkpoint_epoch: after a
    crash between the two the file is the newer, so its epoch is the one trusted. With object storage the
    stored `last.pt` is the one trusted (this host's copy may be older, or newer but never stored): this
    host's copy is used only when it holds the stored epoch, else the stored one is downloaded."""
    last = last_checkpoint_path(experiment.pk)
    if storage.is_local():
        return last if last.exists() else None
    stored_epoch = experiment.checkpoint_epoch
    if stored_epoch is not None and last.exists() and _checkpoint_epoch(last) == stored_epoch:
        return last
    return files.download(experiment.pk, CHECKPOINT_NAME)


def _fit_keywords(experiment: Experiment) -> dict:
    """Where to keep checkpoints, and where to continue from when the run was interrupted or extended."""
    keywords = {"checkpoint_dir": checkpoint_dir(experiment.pk)}
    last = _resume_point(experiment)
    if last is not None:
        epoch = _checkpoint_epoch(last)
        if epoch != experiment.checkpoint_epoch:
            Experiment.objects.filter(pk=experiment.pk).update(checkpoint_epoch=epoch)
            experiment.checkpoint_epoch = epoch
        keywords["resume_from"] = last
        if experiment.descendants.exists():  # an extension: keep the final model other runs started from
            keep_final_model(experiment.pk, epoch)
        # Epochs recorded after the checkpoint are redone; their rows are replaced, never duplicated.
        EpochMetric.objects.filter(experiment=experiment, epoch__gt=epoch).delete()
    elif experiment.checkpoint_epoch is not None:
        where = "in storage" if not storage.is_local() else f"({last_checkpoint_path(experiment.pk)})"
        raise MissingCheckpoint(
            f"The checkpoint of epoch {experiment.checkpoint_epoch} {where} is missing, so the run cannot "
            "continue from it. Clone the experiment to train it again from the start."
        )
    else:
        EpochMetric.objects.filter(experiment=experiment).delete()
        if experiment.init_from_id is not None:
            keywords["init_from"] = started_from_path(experiment.init_from_id, experiment.init_from_epoch)
    stats = experiment.dataset.channel_stats()
    if stats is not None:
        keywords["stats"] = stats
    return keywords


def _store_files(experiment: Experiment, recorder: ExperimentRecorder, result: FitResult) -> None:
    """With object storage, what another host needs once this run stops or ends: the last checkpoint
    (when its epoch was not uploaded yet, see TRAINYARD_CHECKPOINT_UPLOAD_EVERY) and the final model."""
    if storage.is_local():
        return
    recorder.wait_uploads()
    last = last_checkpoint_path(experiment.pk)
    if last.exists():
        epoch = _checkpoint_epoch(last)
        if epoch != experiment.checkpoint_epoch:
            files.upload(experiment.pk, last)
            recorder.stored_checkpoint(epoch)
    if result.model_path:
        files.upload(experiment.pk, Path(result.model_path))


def _record_result(experiment: Experiment, result: FitResult, heartbeat: leases.Heartbeat) -> None:
    extra = {"best_epoch": result.best_epoch, "stop_reason": result.stop_reason or ""}
    if heartbeat.lost.is_set():
        return  # another worker took the run over: it is theirs to record
    if result.status == Outcome.CANCELLED and WORKER_SHUTTING_DOWN.is_set() and experiment.release():
        # A redeploy: back to the queue; the next worker continues from the checkpoint by itself.
        Experiment.objects.filter(pk=experiment.pk).update(**extra)
        experiment.append_log(
            f"the worker shut down during epoch {result.epochs_run + 1}; back to the queue, to resume "
            f"from epoch {experiment.checkpoint_epoch or 0}"
        )
        enqueue(experiment)
    else:
        test = relative_predictions(result.test, experiment.dataset.path)
        experiment.finish(STATUS_OF_OUTCOME[result.status], test_metrics=test, **extra)


def _train(experiment: Experiment, recorder: ExperimentRecorder, heartbeat: leases.Heartbeat) -> None:
    try:
        config = TrainConfig.from_dict(experiment.config)
        callbacks = [recorder, *signals.extra_callbacks(experiment)]
        result = fit(config, experiment.dataset.splits(), callbacks, **_fit_keywords(experiment))
        if not heartbeat.lost.is_set():
            _store_files(experiment, recorder, result)
    except ConfigError as exc:
        experiment.finish(Status.FAILED, error=f"Invalid config: {exc}")
    except MissingCheckpoint as exc:
        experiment.finish(Status.FAILED, error=str(exc))
    except Exception as exc:  # any failure of a run must end as `failed` with the reason shown on the page
        logger.exception("experiment %s failed", experiment.pk)
        if not heartbeat.lost.is_set():
            experiment.finish(Status.FAILED, error=f"{type(exc).__name__}: {exc}")
    else:
        _record_result(experiment, result, heartbeat)


@shared_task(bind=True, name="experiments.run", ignore_result=True)
def run_experiment(self, experiment_id: int) -> str:
    experiment = Experiment.objects.select_related("dataset", "team").filter(pk=experiment_id).first()
    if experiment is None:
        return "missing"
    worker = self.request.hostname or ""
    cap = settings.TRAINYARD_TEAM_MAX_RUNNING
    claimed = experiment.claim_within_team_cap(worker, leases.new_holder(worker), cap)
    if claimed is None:  # the team runs as many as it may: the row stays queued, the message comes back later
        raise self.retry(countdown=settings.TRAINYARD_TEAM_RETRY_SECONDS, max_retries=None)
    if not claimed:
        return f"not claimed ({experiment.status})"
    live.send_status(experiment, started=True)
    held = Experiment.objects.filter(pk=experiment.pk, status=Status.RUNNING, lease_holder=experiment.lease_holder)
    with leases.Heartbeat(held) as heartbeat:
        recorder = ExperimentRecorder(experiment, lease_lost=heartbeat.lost)
        _train(experiment, recorder, heartbeat)
    if heartbeat.lost.is_set():
        recorder.log(f"this worker lost its lease on the run ({worker}); another worker has taken it over")
        recorder.close()
        return "lease lost"
    experiment.refresh_from_db()
    recorder.log(f"{experiment.get_status_display().lower()}" + (f": {experiment.error}" if experiment.error else ""))
    recorder.close()  # every epoch and log line out before the final status
    live.send_status(experiment)
    signals.finished(experiment, on_worker=True)
    return experiment.status
