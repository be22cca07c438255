"""Rejections of uploads that were processed in the background.

A rejected upload leaves no row and no files, so its message cannot live on the dataset. It is kept
for a week in the `datasets` cache (Redis): under the dataset's id, for the page that was following
the upload, and in a list per uploader, which the dataset list and the admin show once.
"""

from __future__ import annotations

import logging

from django.contrib import messages
from django.core.cache import caches
from django.urls import reverse

from webapp.datasets.models import REJECTED, REJECTED_LABEL

logger = logging.getLogger(__name__)

KEEP_SECONDS = 7 * 24 * 3600
MAX_PER_USER = 20


def _cache():
    return caches["datasets"]


def remember(dataset, message: str) -> dict:
    notice = {
        "id": dataset.pk,
        "team": dataset.team_id,
        "name": dataset.name,
        "version": dataset.version,
        "user": dataset.created_by_id,
        "message": message,
    }
    try:
        _cache().set(f"rejected:{dataset.pk}", notice, KEEP_SECONDS)
        if dataset.created_by_id:
            key = f"rejected-for:{dataset.created_by_id}"
            pending = _cache().get(key, [])
            _cache().set(key, (pending + [notice])[-MAX_PER_USER:], KEEP_SECONDS)
    except Exception:  # the rejection must still remove the upload; the log keeps the message
        logger.warning("cannot keep the rejection of dataset %s: %s", dataset.pk, message, exc_info=True)
    return notice


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
    try:
        return _cache().get(f"rejected:{dataset_id}")
    except Exception:  # Redis down: pages still work, they just cannot show the rejection
        logger.warning("cannot read dataset rejection %s from the cache", dataset_id, exc_info=True)
        return None


def pop_for(user) -> list[dict]:
    """The user's rejections not shown yet (each is shown once)."""
    if not user.is_authenticated:
        return []
    key = f"rejected-for:{user.pk}"
    try:
        pending = _cache().get(key, [])
        if pending:
            _cache().delete(key)
    except Exception:  # Redis down: the page still shows, without the notices
        logger.warning("cannot read dataset rejections of user %s from the cache", user.pk, exc_info=True)
        return []
    return pending


def show_pending(request) -> None:
    """The user's rejections not shown yet, as error messages on the page being made (each is shown once)."""
    for notice in pop_for(request.user):
        messages.error(request, f"The upload of {notice['name']} was rejected: {notice['message']}")
