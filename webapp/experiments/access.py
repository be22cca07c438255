from __future__ import annotations

from django.db.models import QuerySet

from webapp.experiments.models import Experiment
from webapp.teams.access import object_for, visible, writable_teams


def experiments_for(user) -> QuerySet[Experiment]:
    return visible(Experiment.objects.select_related("team", "dataset", "owner"), user)


def experiment_for(user, pk, write: bool = False) -> Experiment:
    return object_for(Experiment.objects.select_related("team", "dataset", "owner"), user, pk, write=write)


def writable_experiments(user) -> QuerySet[Experiment]:
    """Runs of the teams where `user` may write: the only ones whose weights they may start from (a viewer
    of a team reads its results but does not take its models elsewhere)."""
    return experiments_for(user).filter(team__in=writable_teams(user))
