from __future__ import annotations

from django.db.models import QuerySet

from webapp.experiments.models import Experiment
from webapp.teams.access import object_for, visible


def experiments_for(user) -> QuerySet[Experiment]:
    return visible(Experiment.objects.select_related("team", "dataset", "owner"), user)


def experiment_for(user, pk, write: bool = False) -> Experiment:
    return object_for(Experiment.objects.select_related("team", "dataset", "owner"), user, pk, write=write)
