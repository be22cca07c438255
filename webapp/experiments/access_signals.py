"""Open sockets check their access again when it can have changed (see `consumers`): a membership
saved or deleted, a session logging out, an experiment moving to another team."""

from __future__ import annotations

from django.contrib.auth.signals import user_logged_out
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from webapp.experiments import live
from webapp.experiments.models import Experiment
from webapp.teams.models import Membership


@receiver([post_save, post_delete], sender=Membership, dispatch_uid="live_membership_changed")
def _membership_changed(sender, instance: Membership, **kwargs) -> None:
    user_id = instance.user_id
    transaction.on_commit(lambda: live.access_changed(user_id))


@receiver(user_logged_out, dispatch_uid="live_logged_out")
def _logged_out(sender, request, user, **kwargs) -> None:
    session_key = getattr(getattr(request, "session", None), "session_key", None)
    if user is not None and session_key:
        live.access_changed(user.pk, session_key)


@receiver(post_save, sender=Experiment, dispatch_uid="live_experiment_moved")
def _experiment_moved(sender, instance: Experiment, created: bool, **kwargs) -> None:
    loaded = getattr(instance, "_loaded_team_id", None)
    if not created and loaded is not None and loaded != instance.team_id:
        experiment_id = instance.pk
        transaction.on_commit(lambda: live.experiment_access_changed(experiment_id))
    instance._loaded_team_id = instance.team_id
