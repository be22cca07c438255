"""The Celery task that runs one experiment. It takes the id, never an ORM object."""

from __future__ import annotations

import logging
from functools import partial
from pathlib import Path

from celery import shared_task
from celery.signals import worker_shutting_down
from django.conf import settings
from django.db import transaction

from training import ConfigError, TrainConfig, fit
from training.engine import CHECKPOINT_NAME, MODEL_NAME
from webapp.core.queues import broker_queue
from webapp.experiments import live
from webapp.experiments.models import EpochMetric, Experiment, Status
from webapp.experiments.recorder import WORKER_SHUTTING_DOWN, ExperimentRecorder

logger = logging.getLogger(__name__)

FINAL_STATUS = {"completed": Status.SUCCEEDED, "stopped_early": Status.STOPPED_EARLY, "cancelled": Status.CANCELLED}


@worker_shutting_down.connect
def _stop_running_experiment(**kwargs) -> None:
    WORKER_SHUTTING_DOWN.set()


def checkpoint_dir(experiment_id: int) -> Path:
    return Path(settings.CHECKPOINT_ROOT) / f"experiment-{experiment_id}"


def final_model_path(experiment_id: int) -> Path:
    """The finished run's final weights (written by training at the end of a run)."""
    return checkpoint_dir(experiment_id) / MODEL_NAME


def send(experiment: Experiment) -> None:
    run_experiment.apply_async(
        args=[experiment.pk], queue=broker_queue(experiment.queue), priority=experiment.broker_priority
    )


def enqueue(experiment: Experiment) -> None:
    """Send the task once the transaction that queued the row has committed."""
    transaction.on_commit(partial(send, experiment))


def _fit_keywords(experiment: Experiment) -> dict:
    """Where to keep checkpoints, and where to continue from when the run was interrupted or extended."""
    folder = checkpoint_dir(experiment.pk)
    keywords = {"checkpoint_dir": folder}
    last = folder / CHECKPOINT_NAME
    if experiment.checkpoint_epoch is not None and last.exists():
        keywords["resume_from"] = last
        # Epochs recorded after the checkpoint are redone; their rows are replaced, never duplicated.
        EpochMetric.objects.filter(experiment=experiment, epoch__gt=experiment.checkpoint_epoch).delete()
    else:
        EpochMetric.objects.filter(experiment=experiment).delete()
        if experiment.init_from_id is not None:
            keywords["init_from"] = final_model_path(experiment.init_from_id)
    stats = experiment.dataset.channel_stats()
    if stats is not None:
        keywords["stats"] = stats
    return keywords


@shared_task(bind=True, name="experiments.run", ignore_result=True)
def run_experiment(self, experiment_id: int) -> str:
    experiment = Experiment.objects.select_related("dataset", "team").filter(pk=experiment_id).first()
    if experiment is None:
        return "missing"
    if not experiment.claim(worker=self.request.hostname or ""):
        return f"not claimed ({experiment.status})"
    live.send_status(experiment, started=True)
    recorder = ExperimentRecorder(experiment)
    try:
        config = TrainConfig.from_dict(experiment.config)
        data = experiment.dataset.splits()
        result = fit(config, data, [recorder], **_fit_keywords(experiment))
    except ConfigError as exc:
        experiment.finish(Status.FAILED, error=f"Invalid config: {exc}")
    except Exception as exc:  # any failure of a run must end as `failed` with the reason shown on the page
        logger.exception("experiment %s failed", experiment_id)
        experiment.finish(Status.FAILED, error=f"{type(exc).__name__}: {exc}")
    else:
        extra = {"best_epoch": result.best_epoch, "stop_reason": result.stop_reason or ""}
        if result.status == "cancelled" and WORKER_SHUTTING_DOWN.is_set():
            experiment.finish(
                Status.FAILED,
                error=(
                    f"The worker shut down during epoch {result.epochs_run + 1}; the checkpoint of epoch "
                    f"{result.epochs_run} is kept: resume to continue from it."
                ),
                **extra,
            )
        else:
            experiment.finish(FINAL_STATUS[result.status], test_metrics=result.test, **extra)
    experiment.refresh_from_db()
    recorder.log(f"{experiment.get_status_display().lower()}" + (f": {experiment.error}" if experiment.error else ""))
    live.send_status(experiment)
    return experiment.status
