"""What a user can do with experiments, shared by the pages and the API: change the rows atomically,
send the task once that commits, and tell the live pages."""

from __future__ import annotations

from django.db import transaction

from webapp.experiments import live, signals
from webapp.experiments.models import Experiment
from webapp.experiments.states import CancelOutcome
from webapp.experiments.tasks import enqueue


def create(experiment: Experiment, tags: list[str] = ()) -> Experiment:
    """Save a new experiment (built by the form) as queued with its tags, and send its task once that commits."""
    if experiment.init_from_id is not None and experiment.init_from_epoch is None:
        experiment.init_from_epoch = experiment.init_from.checkpoint_epoch
    with transaction.atomic():
        experiment.save()
        experiment.set_tags(list(tags))
        enqueue(experiment)
    return experiment


def cancel(experiment: Experiment) -> CancelOutcome:
    outcome = experiment.request_cancel()
    live.send_status(experiment)
    if outcome == CancelOutcome.CANCELLED:  # it was queued: final now (a running one ends on its worker)
        signals.finished(experiment)
    return outcome


def requeue(experiment: Experiment, extra_epochs: int = 0) -> bool:
    """Resume a resumable experiment, or extend an extendable one; False when its state does not allow it."""
    with transaction.atomic():
        queued = experiment.requeue(extra_epochs)
        if queued:
            enqueue(experiment)
    live.send_status(experiment)
    return queued


def annotate(experiment: Experiment, notes: str, tags: list[str], pinned: bool) -> None:
    """Change its notes, tags and pin; the lists and its page learn of it."""
    with transaction.atomic():
        experiment.notes, experiment.pinned = notes, pinned
        experiment.save(update_fields=["notes", "pinned"])
        experiment.set_tags(tags)
    live.send_status(experiment)
