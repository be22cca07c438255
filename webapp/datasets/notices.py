"""Rejections of uploads that were processed in the background.

A rejected upload leaves no dataset row and no files, so its message is kept in a `Rejection` record
under the dataset's id: for the page that was following the upload, and for its uploader, to whom the
dataset list and the admin show it once. (In the database, so it needs no Redis and outlives a restart.)
"""

from __future__ import annotations

from django.contrib import messages
from django.db import transaction
from django.urls import reverse

from webapp.datasets.models import REJECTED, REJECTED_LABEL, Rejection


def remember(dataset, message: str) -> dict:
    record, _ = Rejection.objects.update_or_create(
        dataset_id=dataset.pk,
        defaults={
            "team_id": dataset.team_id,
            "name": dataset.name,
            "version": dataset.version,
            "user_id": dataset.created_by_id,
            "message": message,
            "shown": False,
        },
    )
    return record.to_notice()


def status_dict(notice: dict) -> dict:
    """What the status endpoint answers for a rejected upload's id: Dataset.status_dict()'s keys."""
    return {
        "id": notice["id"],
        "status": REJECTED,
        "status_label": REJECTED_LABEL,
        "stage": "",
        "progress": 0,
        "error": notice["message"],
        "url": reverse("dataset_detail", args=[notice["id"]]),
    }


def rejection(dataset_id: int) -> dict | None:
    record = Rejection.objects.filter(dataset_id=dataset_id).first()
    return record.to_notice() if record is not None else None


def pop_for(user) -> list[dict]:
    """The user's rejections not shown yet (each is shown once)."""
    if not user.is_authenticated:
        return []
    with transaction.atomic():
        pending = list(Rejection.objects.select_for_update().filter(user=user, shown=False))
        Rejection.objects.filter(pk__in=[r.pk for r in pending]).update(shown=True)
    return [r.to_notice() for r in pending]


def show_pending(request) -> None:
    """The user's rejections not shown yet, as error messages on the page being made (each is shown once)."""
    for notice in pop_for(request.user):
        messages.error(request, f"The upload of {notice['name']} was rejected: {notice['message']}")
