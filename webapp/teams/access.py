"""Team access: every team-owned object is reached through helpers built on these.

An outsider gets a 404 (the object's existence is not revealed); a member without write rights
who asks to change something gets a 403.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import PermissionDenied
from django.db.models import Model, QuerySet
from django.http import Http404

from webapp.teams.models import WRITE_ROLES, Membership, Role, Team


def _teams_where(user, roles: Iterable[str]) -> QuerySet[Team]:
    if not user.is_authenticated:
        return Team.objects.none()
    memberships = Membership.objects.filter(user=user, role__in=list(roles))
    return Team.objects.filter(pk__in=memberships.values("team_id"))


def teams_of(user) -> QuerySet[Team]:
    """The teams `user` belongs to, in any role: what they may see."""
    return _teams_where(user, Role.values)


def writable_teams(user) -> QuerySet[Team]:
    """The teams where `user` may create and change things (owners and members; not viewers)."""
    return _teams_where(user, WRITE_ROLES)


def can_write(user, team_id: int) -> bool:
    return writable_teams(user).filter(pk=team_id).exists()


def visible(queryset: QuerySet, user, team_field: str = "team") -> QuerySet:
    """The rows of a team-owned model that `user` may see."""
    return queryset.filter(**{f"{team_field}__in": teams_of(user)})


def object_for(queryset: QuerySet, user, pk, write: bool = False, team_field: str = "team") -> Model:
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        raise Http404(f"No such {queryset.model._meta.verbose_name}") from None
    obj = visible(queryset, user, team_field).filter(pk=pk).first()
    if obj is None:
        raise Http404(f"No such {queryset.model._meta.verbose_name}")
    if write and not can_write(user, getattr(obj, f"{team_field}_id")):
        raise PermissionDenied("Viewers cannot change this")
    return obj
