"""The Celery task that runs one experiment. It takes the id, never an ORM object."""

from __future__ import annotations

import logging

from celery import shared_task
from celery.signals import worker_shutting_down
from django.conf import settings

from training import ConfigError, FitResult, Outcome, TrainConfig, fit
from webapp.core.queues import send_after_commit
from webapp.experiments import live
from webapp.experiments.files import checkpoint_dir, final_model_path, last_checkpoint_path
from webapp.experiments.models import EpochMetric, Experiment
from webapp.experiments.recorder import WORKER_SHUTTING_DOWN, ExperimentRecorder
from webapp.experiments.states import STATUS_OF_OUTCOME, Status

logger = logging.getLogger(__name__)


@worker_shutting_down.connect
def _stop_running_experiment(**kwargs) -> None:
    WORKER_SHUTTING_DOWN.set()


def enqueue(experiment: Experiment) -> None:
    """Send the task to the experiment's queue once the transaction that queued the row has committed."""
    send_after_commit(run_experiment, experiment.pk, queue=experiment.queue, priority=experiment.broker_priority)


def _fit_keywords(experiment: Experiment) -> dict:
    """Where to keep checkpoints, and where to continue from when the run was interrupted or extended."""
    keywords = {"checkpoint_dir": checkpoint_dir(experiment.pk)}
    last = last_checkpoint_path(experiment.pk)
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


def _record_result(experiment: Experiment, result: FitResult) -> None:
    extra = {"best_epoch": result.best_epoch, "stop_reason": result.stop_reason or ""}
    if result.status == Outcome.CANCELLED and WORKER_SHUTTING_DOWN.is_set():
        experiment.finish(
            Status.FAILED,
            error=(
                f"The worker shut down during epoch {result.epochs_run + 1}; the checkpoint of epoch "
                f"{result.epochs_run} is kept: resume to continue from it."
            ),
            **extra,
        )
    else:
        experiment.finish(STATUS_OF_OUTCOME[result.status], test_metrics=result.test, **extra)


@shared_task(bind=True, name="experiments.run", ignore_result=True)
def run_experiment(self, experiment_id: int) -> str:
    experiment = Experiment.objects.select_related("dataset", "team").filter(pk=experiment_id).first()
    if experiment is None:
        return "missing"
    claimed = experiment.claim_within_team_cap(self.request.hostname or "", settings.TRAINYARD_TEAM_MAX_RUNNING)
    if claimed is None:  # the team runs as many as it may: the row stays queued, the message comes back later
        raise self.retry(countdown=settings.TRAINYARD_TEAM_RETRY_SECONDS, max_retries=None)
    if not claimed:
        return f"not claimed ({experiment.status})"
    live.send_status(experiment, started=True)
    recorder = ExperimentRecorder(experiment)
    try:
        config = TrainConfig.from_dict(experiment.config)
        result = fit(config, experiment.dataset.splits(), [recorder], **_fit_keywords(experiment))
    except ConfigError as exc:
        experiment.finish(Status.FAILED, error=f"Invalid config: {exc}")
    except Exception as exc:  # any failure of a run must end as `failed` with the reason shown on the page
        logger.exception("experiment %s failed", experiment_id)
        experiment.finish(Status.FAILED, error=f"{type(exc).__name__}: {exc}")
    else:
        _record_result(experiment, result)
    experiment.refresh_from_db()
    recorder.log(f"{experiment.get_status_display().lower()}" + (f": {experiment.error}" if experiment.error else ""))
    live.send_status(experiment)
    return experiment.status
