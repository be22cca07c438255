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
from webapp.core.queues import broker_queue
from webapp.experiments import live
from webapp.experiments.models import Experiment, Status
from webapp.experiments.recorder import WORKER_SHUTTING_DOWN, ExperimentRecorder

logger = logging.getLogger(__name__)

FINAL_STATUS = {"completed": Status.SUCCEEDED, "stopped_early": Status.STOPPED_EARLY, "cancelled": Status.CANCELLED}


def checkpoint_dir(experiment_id: int) -> Path:
    return Path(settings.CHECKPOINT_ROOT) / f"experiment-{experiment_id}"


@worker_shutting_down.connect
def _stop_running_experiment(**kwargs) -> None:
    WORKER_SHUTTING_DOWN.set()


def send(experiment: Experiment) -> None:
    run_experiment.apply_async(args=[experiment.pk], queue=broker_queue(experiment.queue))


def enqueue(experiment: Experiment) -> None:
    """Send the task once the transaction that created the row has committed."""
    transaction.on_commit(partial(send, experiment))


@shared_task(bind=True, name="experiments.run", ignore_result=True)
def run_experiment(self, experiment_id: int) -> str:
    experiment = Experiment.objects.select_related("dataset").filter(pk=experiment_id).first()
    if experiment is None:
        return "missing"
    if not experiment.claim(worker=self.request.hostname or ""):
        return f"not claimed ({experiment.status})"
    live.send_status(experiment)
    try:
        config = TrainConfig.from_dict(experiment.config)
        data = experiment.dataset.splits()
        result = fit(config, data, [ExperimentRecorder(experiment)], checkpoint_dir=checkpoint_dir(experiment.pk))
    except ConfigError as exc:
        experiment.finish(Status.FAILED, error=f"Invalid config: {exc}")
    except Exception as exc:  # any failure of a run must end as `failed` with the reason shown on the page
        logger.exception("experiment %s failed", experiment_id)
        experiment.finish(Status.FAILED, error=f"{type(exc).__name__}: {exc}")
    else:
        if result.status == "cancelled" and WORKER_SHUTTING_DOWN.is_set():
            experiment.finish(Status.FAILED, error=(
                f"The worker shut down during epoch {result.epochs_run + 1}; "
                f"the checkpoint of epoch {result.epochs_run} is kept."))
        else:
            experiment.finish(FINAL_STATUS[result.status], test_metrics=result.test)
    live.send_status(experiment)
    return experiment.status
