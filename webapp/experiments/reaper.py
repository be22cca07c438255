"""The reaper: runs whose worker was lost (their lease expired) go back to the queue and resume from
their last checkpoint, at most TRAINYARD_MAX_RESTARTS times; then they fail with the reason."""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from webapp.core.queues import pending_args
from webapp.experiments import live
from webapp.experiments.models import Experiment
from webapp.experiments.states import Status
from webapp.experiments.tasks import enqueue, run_experiment


def reap() -> list[int]:
    """Requeue or fail every running experiment whose lease expired; return their ids."""
    now = timezone.now()
    expired = Experiment.objects.filter(status=Status.RUNNING, lease_expires_at__lt=now).select_related("team")
    return [e.pk for e in expired if _requeue(e, now) or _fail(e, now)]


def resend_lost() -> list[int]:
    """Queued experiments whose broker message is gone (a broker that lost its data) are sent again.
    A message sent twice is harmless: the claim lets one of them run it."""
    waiting = pending_args(run_experiment, Experiment.routes_in_use())
    lost = list(Experiment.objects.filter(status=Status.QUEUED).exclude(pk__in=waiting))
    for experiment in lost:
        enqueue(experiment)
        experiment.append_log("its message was not in the queue (the broker lost it); sent again")
    return [e.pk for e in lost]


def _held_as_seen(experiment: Experiment):
    """The row, only while it is still held as the reaper saw it (compare-and-set)."""
    return Experiment.objects.filter(
        pk=experiment.pk,
        status=Status.RUNNING,
        lease_holder=experiment.lease_holder,
        lease_expires_at=experiment.lease_expires_at,
    )


def _lost(experiment: Experiment) -> str:
    where = f" on {experiment.worker}" if experiment.worker else ""
    return f"its worker{where} stopped renewing its lease (last until {experiment.lease_expires_at:%H:%M:%S} UTC)"


def _requeue(experiment: Experiment, now) -> bool:
    limit = settings.TRAINYARD_MAX_RESTARTS
    if experiment.restarts >= limit:
        return False
    lost = _lost(experiment)
    with transaction.atomic():
        moved = _held_as_seen(experiment).update(
            status=Status.QUEUED, queued_at=now, lease_holder="", lease_expires_at=None, restarts=F("restarts") + 1
        )
        if moved:
            enqueue(experiment)
    if moved:
        at = f"epoch {experiment.checkpoint_epoch}" if experiment.checkpoint_epoch is not None else "the start"
        experiment.append_log(
            f"{lost}; back to the queue, to resume from {at} (restart {experiment.restarts + 1} of {limit})"
        )
        experiment.refresh_from_db()
        live.send_status(experiment)
    return bool(moved)


def _fail(experiment: Experiment, now) -> bool:
    error = (
        f"The run was lost: {_lost(experiment)}. It was already restarted {experiment.restarts} times "
        f"(TRAINYARD_MAX_RESTARTS={settings.TRAINYARD_MAX_RESTARTS}), so it is not restarted again; "
        "resume it to continue from its checkpoint."
    )
    failed = _held_as_seen(experiment).update(
        status=Status.FAILED, finished_at=now, error=error, lease_holder="", lease_expires_at=None
    )
    if failed:
        experiment.refresh_from_db()
        experiment.append_log(f"failed: {error}")
        live.send_status(experiment)
    return bool(failed)
