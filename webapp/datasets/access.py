from __future__ import annotations

from django.db.models import QuerySet

from webapp.datasets.models import Dataset
from webapp.teams.access import object_for, visible


def datasets_for(user) -> QuerySet[Dataset]:
    return visible(Dataset.objects.select_related("team"), user)


def dataset_for(user, pk, write: bool = False) -> Dataset:
    return object_for(Dataset.objects.select_related("team"), user, pk, write=write)
