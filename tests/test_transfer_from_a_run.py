"""Transfer learning from the team's own runs: a finished experiment's weights start a new one."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.helpers import experiment_form, finished, folder_dataset
from webapp.experiments.files import final_model_path
from webapp.experiments.models import Experiment
from webapp.experiments.states import Status
from webapp.experiments.tasks import enqueue

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_an_experiment_starts_from_a_finished_runs_weights_on_other_classes(
    celery_worker, client, owner, team, make_experiment, django_capture_on_commit_callbacks
):
    source = make_experiment(epochs=2)
    enqueue(source)
    source = finished(source)
    assert source.status == Status.SUCCEEDED and final_model_path(source.pk).exists()

    other = folder_dataset(team, "Two colors", folder={"classes": 2, "seed": 7})

    client.force_login(owner)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("experiment_create"), experiment_form(other, init_from=source.pk, transfer_mode="lower_backbone_lr")
        )
    assert response.status_code == 302, response.context["form"].errors
    target = Experiment.objects.exclude(pk=source.pk).get()
    assert target.init_from == source
    target = finished(target)
    assert target.status == Status.SUCCEEDED, target.error
    assert len(target.test_metrics["confusion_matrix"]) == 2  # a new 2-class head on the 3-class run's backbone


def test_a_run_without_a_saved_final_model_is_refused_as_a_start(client, owner, make_experiment, tiny_dataset):
    source = make_experiment()
    Experiment.objects.filter(pk=source.pk).update(status=Status.SUCCEEDED)
    client.force_login(owner)
    response = client.post(reverse("experiment_create"), experiment_form(tiny_dataset, init_from=source.pk))
    assert "no saved final model" in " ".join(response.context["form"].errors["init_from"])


def test_a_transfer_mode_needs_something_to_transfer_from(client, owner, tiny_dataset):
    client.force_login(owner)
    response = client.post(reverse("experiment_create"), experiment_form(tiny_dataset, transfer_mode="feature_extract"))
    assert "needs a trained backbone" in " ".join(response.context["form"].errors["transfer_mode"])
    assert not Experiment.objects.exists()


def test_another_teams_run_cannot_be_the_start(client, outsider, make_experiment, tiny_dataset, other_team):
    source = make_experiment()
    Experiment.objects.filter(pk=source.pk).update(status=Status.SUCCEEDED)
    client.force_login(outsider)
    response = client.post(reverse("experiment_create"), experiment_form(tiny_dataset, init_from=source.pk))
    assert "init_from" in response.context["form"].errors


def test_a_viewer_of_another_team_cannot_start_from_its_runs(
    client, django_user_model, make_experiment, other_team, team
):
    from tests.conftest import PASSWORD
    from tests.helpers import folder_dataset
    from webapp.experiments.forms import ExperimentForm
    from webapp.teams.models import Role

    source = make_experiment()  # a run of `team`
    Experiment.objects.filter(pk=source.pk).update(status=Status.SUCCEEDED)
    user = django_user_model.objects.create_user("vera", password=PASSWORD)
    other_team.add_member(user, Role.MEMBER)
    team.add_member(user, Role.VIEWER)  # sees the run, may not write in its team
    own_dataset = folder_dataset(other_team, "Own data", folder={"classes": 2, "seed": 3})
    client.force_login(user)
    response = client.post(reverse("experiment_create"), experiment_form(own_dataset, init_from=source.pk))
    assert "Select a valid choice" in " ".join(response.context["form"].errors["init_from"])
    assert Experiment.objects.count() == 1
    # Made a member of the run's team, the same user may start from it.
    team.memberships.filter(user=user).update(role=Role.MEMBER)
    assert source in ExperimentForm(user=user).fields["init_from"].queryset
