from __future__ import annotations

from django.db.models import QuerySet
from django.http import Http404

from webapp.datasets import notices
from webapp.datasets.models import Dataset
from webapp.teams.access import object_for, teams_of, visible


def datasets_for(user) -> QuerySet[Dataset]:
    return visible(Dataset.objects.select_related("team"), user)


def dataset_for(user, pk, write: bool = False) -> Dataset:
    return object_for(Dataset.objects.select_related("team"), user, pk, write=write)


def rejection_for(user, pk) -> dict | None:
    """The message of a rejected upload (its row is gone), for members of the team it was meant for."""
    notice = notices.rejection(pk)
    if notice is None or not teams_of(user).filter(pk=notice["team"]).exists():
        return None
    return notice


def dataset_or_rejection(user, pk) -> tuple[Dataset | None, dict | None]:
    """The dataset, or, where its upload was rejected (no row left), the rejection notice; else a 404."""
    try:
        return dataset_for(user, pk), None
    except Http404:
        notice = rejection_for(user, pk)
        if notice is None:
            raise
        return None, notice
