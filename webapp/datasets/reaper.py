"""Datasets whose processing worker was lost (their lease expired) are processed again from the start,
at most TRAINYARD_MAX_RESTARTS times; then they end as a failed upload would, with the reason."""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from webapp.core.queues import Queue, pending_args
from webapp.datasets.models import WAITING, Dataset, DatasetStatus
from webapp.datasets.processing import _fail
from webapp.datasets.tasks import enqueue, process_dataset


def reap() -> list[int]:
    """Requeue or fail every processing dataset whose lease expired; return their ids."""
    expired = Dataset.objects.filter(status=DatasetStatus.PROCESSING, lease_expires_at__lt=timezone.now())
    return [d.pk for d in expired if _requeue(d) or _fail_lost(d)]


def resend_lost() -> list[int]:
    """Datasets waiting for a worker whose message is gone are sent again (a duplicate is harmless)."""
    waiting = pending_args(process_dataset, [Queue.DATASETS])
    lost = list(
        Dataset.objects.filter(status=DatasetStatus.PROCESSING, stage=WAITING)
        .exclude(pk__in=waiting)
        .values_list("pk", flat=True)
    )
    for pk in lost:
        enqueue(pk)
    return lost


def _held_as_seen(dataset: Dataset):
    return Dataset.objects.filter(
        pk=dataset.pk,
        status=DatasetStatus.PROCESSING,
        lease_holder=dataset.lease_holder,
        lease_expires_at=dataset.lease_expires_at,
    )


def _requeue(dataset: Dataset) -> bool:
    if dataset.restarts >= settings.TRAINYARD_MAX_RESTARTS:
        return False
    with transaction.atomic():
        moved = _held_as_seen(dataset).update(
            stage=WAITING, progress=0, lease_holder="", lease_expires_at=None, restarts=F("restarts") + 1
        )
        if moved:
            enqueue(dataset.pk)
    return bool(moved)


def _fail_lost(dataset: Dataset) -> bool:
    # Take it first (compare-and-set), so that only one reaper ends it.
    if not _held_as_seen(dataset).update(lease_holder="reaper", lease_expires_at=None):
        return False
    _fail(
        dataset,
        f"Processing stopped {dataset.restarts + 1} times because its worker was lost (TRAINYARD_MAX_RESTARTS="
        f"{settings.TRAINYARD_MAX_RESTARTS}). Upload it again, or ask an admin to check the dataset workers.",
        dataset.upload.name or "",
    )
    return True
