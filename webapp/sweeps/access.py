from __future__ import annotations

from django.db.models import QuerySet

from webapp.sweeps.models import Sweep
from webapp.teams.access import object_for, visible


def sweeps_for(user) -> QuerySet[Sweep]:
    return visible(Sweep.objects.select_related("team", "dataset", "owner"), user)


def sweep_for(user, pk, write: bool = False) -> Sweep:
    return object_for(Sweep.objects.select_related("team", "dataset", "owner"), user, pk, write=write)
