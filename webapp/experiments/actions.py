"""What a user can do to an existing experiment, shared by the pages and the API: change the row
atomically, send the task once that commits, and tell the live pages."""

from __future__ import annotations

from django.db import transaction

from webapp.experiments import live
from webapp.experiments.models import Experiment
from webapp.experiments.tasks import enqueue


def cancel(experiment: Experiment) -> str:
    """ "cancelled" (it was queued), "stopping" (the worker stops at the next batch) or "finished"."""
    outcome = experiment.request_cancel()
    live.send_status(experiment)
    return outcome


def requeue(experiment: Experiment, extra_epochs: int = 0) -> bool:
    """Resume a cancelled/failed experiment, or extend a finished one; False when its state does not allow it."""
    with transaction.atomic():
        queued = experiment.requeue(extra_epochs)
        if queued:
            enqueue(experiment)
    live.send_status(experiment)
    return queued
