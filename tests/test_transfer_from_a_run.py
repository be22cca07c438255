"""Transfer learning from the team's own runs: a finished experiment's weights start a new one."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

from tests.helpers import wait_until
from tests.images import make_image_folder
from tests.test_experiment_pages import form_data
from webapp.datasets.models import Dataset
from webapp.experiments.models import Experiment, Status
from webapp.experiments.tasks import final_model_path, send

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]
FINAL = {Status.SUCCEEDED, Status.STOPPED_EARLY, Status.FAILED, Status.CANCELLED}


def finished(experiment: Experiment) -> Experiment:
    return wait_until(
        lambda: (e := Experiment.objects.get(pk=experiment.pk)).status in FINAL and e,
        message=f"#{experiment.pk} to finish",
    )


def test_an_experiment_starts_from_a_finished_runs_weights_on_other_classes(
    celery_worker, client, owner, team, make_experiment, django_capture_on_commit_callbacks
):
    source = make_experiment(epochs=2)
    send(source)
    source = finished(source)
    assert source.status == Status.SUCCEEDED and final_model_path(source.pk).exists()

    root = f"datasets/test/{uuid.uuid4().hex[:8]}"
    make_image_folder(Path(settings.MEDIA_ROOT) / root, classes=2, seed=7)
    other = Dataset(team=team, name="Two colors", root=root)
    other.scan()
    other.save()

    client.force_login(owner)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("experiment_create"), form_data(other, init_from=source.pk, transfer_mode="lower_backbone_lr")
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
    response = client.post(reverse("experiment_create"), form_data(tiny_dataset, init_from=source.pk))
    assert "no saved final model" in " ".join(response.context["form"].errors["init_from"])


def test_a_transfer_mode_needs_something_to_transfer_from(client, owner, tiny_dataset):
    client.force_login(owner)
    response = client.post(reverse("experiment_create"), form_data(tiny_dataset, transfer_mode="feature_extract"))
    assert "needs a trained backbone" in " ".join(response.context["form"].errors["transfer_mode"])
    assert not Experiment.objects.exists()


def test_another_teams_run_cannot_be_the_start(client, outsider, make_experiment, tiny_dataset, other_team):
    source = make_experiment()
    Experiment.objects.filter(pk=source.pk).update(status=Status.SUCCEEDED)
    client.force_login(outsider)
    response = client.post(reverse("experiment_create"), form_data(tiny_dataset, init_from=source.pk))
    assert "init_from" in response.context["form"].errors
