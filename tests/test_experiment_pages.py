"""Experiment pages and API: who sees what, and creating an experiment from the form."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.helpers import experiment_form
from webapp.core.queues import Queue
from webapp.experiments.models import Experiment
from webapp.experiments.states import Status

pytestmark = pytest.mark.django_db


def test_pages_require_sign_in(client, make_experiment):
    experiment = make_experiment()
    for url in [reverse("dashboard"), reverse("experiment_create"), experiment.get_absolute_url()]:
        response = client.get(url)
        assert response.status_code == 302 and response.url.startswith(reverse("login"))


def test_the_api_requires_sign_in(client, make_experiment):
    experiment = make_experiment()
    assert client.get(reverse("api_experiment_metrics", args=[experiment.pk])).status_code == 403


def test_a_team_member_sees_the_experiment_page_and_its_metrics(client, make_experiment, teammate):
    experiment = make_experiment()
    experiment.epoch_metrics.create(
        epoch=1, train_loss=0.9, train_acc=0.6, val_loss=1.0, val_acc=0.5, lr=0.01, seconds=2
    )
    client.force_login(teammate)
    page = client.get(experiment.get_absolute_url())
    assert page.status_code == 200
    assert b"tiny run" in page.content
    assert b"vendor/plotly/plotly.min.js" in page.content
    data = client.get(reverse("api_experiment_metrics", args=[experiment.pk])).json()
    assert data["status"] == Status.QUEUED and data["epochs"] == experiment.epochs
    assert data["history"] == [
        {
            "epoch": 1,
            "train_loss": 0.9,
            "train_acc": 0.6,
            "val_loss": 1.0,
            "val_acc": 0.5,
            "lr": 0.01,
            "seconds": 2.0,
            "images_per_sec": 0.0,
        }
    ]


def test_an_outsider_gets_404_everywhere(client, make_experiment, outsider):
    experiment = make_experiment()
    client.force_login(outsider)
    assert client.get(experiment.get_absolute_url()).status_code == 404
    assert client.get(reverse("api_experiment_detail", args=[experiment.pk])).status_code == 404
    assert client.get(reverse("api_experiment_metrics", args=[experiment.pk])).status_code == 404
    assert experiment.name not in client.get(reverse("dashboard")).content.decode()
    assert client.get(reverse("api_experiment_list")).json()["results"] == []


def test_the_dashboard_lists_the_teams_experiments(client, make_experiment, owner):
    make_experiment()
    client.force_login(owner)
    page = client.get(reverse("dashboard")).content.decode()
    assert "tiny run" in page and "Queued" in page


def test_creating_an_experiment_stores_the_full_config_and_queues_it(
    client, owner, tiny_dataset, django_capture_on_commit_callbacks
):
    client.force_login(owner)
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(reverse("experiment_create"), experiment_form(tiny_dataset, epochs=3))
    experiment = Experiment.objects.get()
    assert response.status_code == 302 and response.url == experiment.get_absolute_url()
    assert experiment.status == Status.QUEUED
    assert experiment.queue == Queue.CPU  # device "cpu" goes to the cpu queue
    assert experiment.config["epochs"] == 3
    from training import TrainConfig

    assert set(experiment.config) == set(TrainConfig.field_names())  # the full resolved config, not a diff
    assert experiment.team == tiny_dataset.team and experiment.owner == owner
    assert len(callbacks) == 1  # the task is sent once the row is committed


def test_a_cuda_experiment_goes_to_the_gpu_queue(client, owner, tiny_dataset, django_capture_on_commit_callbacks):
    client.force_login(owner)
    with django_capture_on_commit_callbacks():
        client.post(reverse("experiment_create"), experiment_form(tiny_dataset, device="cuda"))
    assert Experiment.objects.get().queue == Queue.GPU


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("epochs", 0, "greater than or equal to 1"),
        ("lr", -1, "greater than or equal to"),
        ("arch", "alexnet-9000", "Select a valid choice"),
        ("batch_size", "many", "Enter a whole number"),
    ],
)
def test_bad_values_get_an_error_next_to_the_field(client, owner, tiny_dataset, field, value, message):
    client.force_login(owner)
    response = client.post(reverse("experiment_create"), experiment_form(tiny_dataset, **{field: value}))
    assert response.status_code == 200
    assert message in " ".join(response.context["form"].errors[field])
    assert not Experiment.objects.exists()


def test_schema_checks_across_fields_show_on_the_field(client, owner, tiny_dataset):
    client.force_login(owner)
    from training.models import min_input_size

    needed = min_input_size("inception_v3")
    response = client.post(
        reverse("experiment_create"), experiment_form(tiny_dataset, arch="inception_v3", image_size=needed - 1)
    )
    assert response.status_code == 200
    assert f"at least {needed}" in " ".join(response.context["form"].errors["image_size"])
    assert not Experiment.objects.exists()


def test_a_viewer_cannot_create_experiments(client, viewer, tiny_dataset):
    client.force_login(viewer)
    response = client.post(reverse("experiment_create"), experiment_form(tiny_dataset))
    assert response.status_code == 200
    assert "dataset" in response.context["form"].errors
    assert not Experiment.objects.exists()


def test_nobody_can_train_on_another_teams_dataset(client, outsider, tiny_dataset):
    client.force_login(outsider)
    response = client.post(reverse("experiment_create"), experiment_form(tiny_dataset))
    assert "dataset" in response.context["form"].errors
    assert not Experiment.objects.exists()


def test_the_create_form_needs_a_csrf_token(owner, tiny_dataset):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    assert client.post(reverse("experiment_create"), experiment_form(tiny_dataset)).status_code == 403


def test_the_api_and_the_page_describe_an_experiment_with_one_dictionary(client, make_experiment, owner):
    experiment = make_experiment()
    client.force_login(owner)
    summary = experiment.summary_dict()
    detail = client.get(reverse("api_experiment_detail", args=[experiment.pk])).json()
    assert detail == experiment.to_dict() and detail.items() >= summary.items()
    assert detail["epochs"] == experiment.config["epochs"] and detail["queue_position"] == 1
    listed = client.get(reverse("api_experiment_list")).json()["results"]
    shared = ("id", "name", "url", "status", "status_label", "queue", "priority", "queue_position", "owner", "tags")
    assert len(listed) == 1 and {k: listed[0][k] for k in shared} == {k: detail[k] for k in shared}
    metrics = client.get(reverse("api_experiment_metrics", args=[experiment.pk])).json()
    assert metrics == {**summary, "history": []}


def test_the_page_and_the_api_show_the_runs_length_in_optimizer_steps(client, make_experiment, owner):
    experiment = make_experiment(epochs=5)  # batch 8 on 24 training images
    client.force_login(owner)
    page = client.get(experiment.get_absolute_url()).content.decode()
    assert "15 optimizer steps in total (3 per epoch: 24 training images in batches of 8, 5 epochs)." in page
    data = client.get(reverse("api_experiment_detail", args=[experiment.pk])).json()
    assert data["steps"]["total"] == 15
