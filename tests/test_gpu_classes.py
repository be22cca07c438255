"""Routing experiments to a GPU class: a worker started with TRAINYARD_GPU_CLASS=<class> also serves the
queue gpu-<class>; an experiment that asks for the class waits there, and only such workers take it.

There is no GPU here: the experiments ask for device "auto", which a worker without CUDA runs on its CPU,
so the real workers below run them while the routing (queue gpu-<class>) is exactly a GPU host's."""

from __future__ import annotations

import time

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.urls import reverse
from rest_framework.test import APIClient

from tests.helpers import TINY_CONFIG, Worker, experiment_form, finished, wait_until
from webapp.celery import app
from webapp.core.queues import Queue, broker_queue, pending_args
from webapp.env import env_gpu_class, env_gpu_classes
from webapp.experiments import gpu_classes
from webapp.experiments.models import Experiment
from webapp.experiments.reaper import resend_lost
from webapp.experiments.states import Status
from webapp.experiments.tasks import enqueue, run_experiment


@pytest.fixture
def classes(settings, own_queues):
    """TRAINYARD_GPU_CLASSES = a100, h200; queues and announced classes of this test's own."""
    settings.TRAINYARD_GPU_CLASSES = ["a100", "h200"]
    yield settings.TRAINYARD_GPU_CLASSES
    with app.connection_for_write() as conn:
        for queue in ("gpu", "cpu", "gpu-a100", "gpu-h200"):
            conn.default_channel._purge(broker_queue(queue))
    gpu_classes._redis().delete(gpu_classes._key())


def routed(make_experiment, gpu_class: str = "", **config) -> Experiment:
    experiment = make_experiment(device="auto", **config)
    experiment.queue, experiment.gpu_class = Queue.GPU, gpu_class
    experiment.save(update_fields=["queue", "gpu_class"])
    return experiment


def api_client(user) -> APIClient:
    api = APIClient()
    api.force_authenticate(user)
    return api


# --- settings ------------------------------------------------------------------------------------------
def test_class_names_from_the_environment_are_checked(monkeypatch):
    monkeypatch.setenv("TRAINYARD_GPU_CLASSES", "a100, h200,a100")
    assert env_gpu_classes("TRAINYARD_GPU_CLASSES", []) == ["a100", "h200"]
    monkeypatch.setenv("TRAINYARD_GPU_CLASSES", "a100,H200 SXM")
    with pytest.raises(ImproperlyConfigured, match="'H200 SXM' is not a GPU class name"):
        env_gpu_classes("TRAINYARD_GPU_CLASSES", [])
    monkeypatch.setenv("TRAINYARD_GPU_CLASS", "h200")
    assert env_gpu_class("TRAINYARD_GPU_CLASS") == "h200"
    monkeypatch.setenv("TRAINYARD_GPU_CLASS", "")
    assert env_gpu_class("TRAINYARD_GPU_CLASS") == ""  # the compose files' default: no class
    monkeypatch.setenv("TRAINYARD_GPU_CLASS", "a100,h200")
    with pytest.raises(ImproperlyConfigured, match="names one GPU class"):
        env_gpu_class("TRAINYARD_GPU_CLASS")


# --- the form and the API ------------------------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_the_form_routes_an_experiment_to_its_class_queue(client, owner, tiny_dataset, classes):
    client.force_login(owner)
    page = client.get(reverse("experiment_create")).content.decode()
    assert '<option value="" selected>any GPU</option>' in page and '<option value="h200">h200</option>' in page
    response = client.post(reverse("experiment_create"), experiment_form(tiny_dataset, device="auto", gpu_class="h200"))
    assert response.status_code == 302
    experiment = Experiment.objects.get()
    assert (experiment.gpu_class, experiment.queue, experiment.route) == ("h200", "gpu", "gpu-h200")
    # No worker of this test's queues runs: the message waits in the class's queue, and only there.
    assert pending_args(run_experiment, ["gpu-h200"]) == {experiment.pk}
    assert pending_args(run_experiment, ["gpu", "cpu", "gpu-a100"]) == set()
    assert experiment.summary_dict()["gpu_class"] == "h200"


@pytest.mark.django_db
def test_the_form_names_the_known_classes_when_one_is_unknown(client, owner, tiny_dataset, classes):
    client.force_login(owner)
    response = client.post(reverse("experiment_create"), experiment_form(tiny_dataset, device="auto", gpu_class="v100"))
    assert response.status_code == 200
    [error] = response.context["form"].errors["gpu_class"]
    assert "Unknown GPU class v100" in error and "a100, h200" in error
    assert not Experiment.objects.exists()


@pytest.mark.django_db
def test_a_class_needs_a_device_that_may_be_a_gpu(client, owner, tiny_dataset, classes):
    client.force_login(owner)
    response = client.post(reverse("experiment_create"), experiment_form(tiny_dataset, device="cpu", gpu_class="a100"))
    assert response.status_code == 200
    assert "set the device to auto or cuda" in response.context["form"].errors["gpu_class"][0]
    assert not Experiment.objects.exists()


@pytest.mark.django_db
def test_the_api_takes_a_class_and_refuses_an_unknown_one(owner, tiny_dataset, classes):
    api = api_client(owner)
    body = {"name": "api run", "dataset": tiny_dataset.pk, "presets": ["quick"], "config": {**TINY_CONFIG}}
    body["config"]["device"] = "auto"
    refused = api.post(reverse("api_experiment_list"), {**body, "gpu_class": "tpu"}, format="json")
    assert refused.status_code == 400, refused.json()
    assert "Unknown GPU class tpu" in refused.json()["errors"]["gpu_class"][0]
    created = api.post(reverse("api_experiment_list"), {**body, "gpu_class": "a100"}, format="json")
    assert created.status_code == 201, created.json()
    assert created.json()["gpu_class"] == "a100" and created.json()["queue"] == "gpu"
    preview = api.post(reverse("api_resolve_config"), experiment_form(tiny_dataset, device="auto", gpu_class="a100"))
    assert preview.json()["queue"] == "gpu-a100", preview.json()
    any_gpu = api.post(reverse("api_experiment_list"), body, format="json")
    assert any_gpu.status_code == 201 and any_gpu.json()["gpu_class"] == ""


@pytest.mark.django_db
def test_classes_of_workers_seen_lately_are_offered_and_old_ones_are_not(settings, classes):
    settings.TRAINYARD_GPU_CLASSES = []
    gpu_classes.announce("l40s")
    gpu_classes._redis().hset(gpu_classes._key(), "k80", str(time.time() - gpu_classes.SEEN_SECONDS - 1))
    assert gpu_classes.offered() == ["l40s"]


@pytest.mark.django_db
def test_without_redis_the_form_offers_the_configured_classes(client, owner, settings, classes):
    gpu_classes.announce("l40s")
    assert "l40s" in gpu_classes.offered()
    client.force_login(owner)
    working = settings.REDIS_URL
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there: refused at once
    try:
        assert gpu_classes.offered() == ["a100", "h200"]
        page = client.get(reverse("experiment_create")).content.decode()
    finally:
        settings.REDIS_URL = working  # before the fixture's clean-up
    assert '<option value="a100">a100</option>' in page and "l40s" not in page


# --- queue positions and recovery ----------------------------------------------------------------------
@pytest.mark.django_db
def test_a_class_queue_has_its_own_positions(client, owner, make_experiment, classes):
    first_any, on_a100, second_any = routed(make_experiment), routed(make_experiment, "a100"), routed(make_experiment)
    positions = Experiment.queue_positions()
    assert (positions[first_any.pk], positions[on_a100.pk], positions[second_any.pk]) == (1, 1, 2)
    client.force_login(owner)
    html = client.get(reverse("experiment_tables")).content.decode()
    assert 'data-position>1 <span class="muted small">on GPU a100</span>' in html
    assert 'data-position>2 <span class="muted small">on GPU</span>' in html
    page = client.get(on_a100.get_absolute_url()).content.decode()
    assert "(position 1 in the GPU a100 queue)" in page
    assert 'on <span class="tag">a100</span> GPUs only' in page


@pytest.mark.django_db(transaction=True)
def test_recovery_looks_through_the_class_queues(make_experiment, classes):
    with_message, lost = routed(make_experiment, "a100"), routed(make_experiment, "h200")
    enqueue(with_message)  # outside a transaction: sent at once; no worker consumes this test's queues
    assert pending_args(run_experiment, ["gpu-a100"]) == {with_message.pk}
    assert resend_lost() == [lost.pk]  # the a100 message was found in its class queue, not sent twice
    assert pending_args(run_experiment, ["gpu-h200"]) == {lost.pk}
    assert resend_lost() == []


# --- real workers --------------------------------------------------------------------------------------
@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_only_a_worker_of_the_class_takes_an_experiment_routed_to_it(client, make_experiment, owner, classes, tmp_path):
    from django.db import connection

    on_a100, any_gpu = routed(make_experiment, "a100"), routed(make_experiment)
    plain = Worker(connection.settings_dict, tmp_path)  # serves gpu and cpu, no class
    workers = [plain]
    try:
        plain.wait_ready()
        enqueue(on_a100)
        enqueue(any_gpu)
        # The plain worker runs the experiment for any GPU, and leaves the a100 one in its queue.
        assert finished(any_gpu).status == Status.SUCCEEDED and finished(any_gpu).worker == plain.name
        time.sleep(1)
        assert Experiment.objects.get(pk=on_a100.pk).status == Status.QUEUED
        assert pending_args(run_experiment, ["gpu-a100"]) == {on_a100.pk}

        a100 = Worker(connection.settings_dict, tmp_path, TRAINYARD_GPU_CLASS="a100")
        workers.append(a100)
        a100.wait_ready()
        done = finished(on_a100)
        assert done.status == Status.SUCCEEDED and done.worker == a100.name
        assert done.environment["device"] == "cpu"  # "auto" on a worker without CUDA

        client.force_login(owner)
        html = client.get(reverse("workers")).content.decode()
        assert '<span class="tag">a100</span>' in html and '<span class="tag">gpu-a100</span>' in html
        answer = {w["name"]: w for w in client.get(reverse("api_workers")).json()}
        assert answer[a100.name]["gpu_classes"] == ["a100"] and answer[plain.name]["gpu_classes"] == []
        assert "gpu-a100" in answer[a100.name]["queues"] and answer[a100.name]["device"] == "cpu"
        assert answer[a100.name]["host"]
        wait_until(lambda: "a100" in gpu_classes.seen(), message="the a100 worker to announce its class")
    finally:
        for worker in workers:
            worker.stop()


@pytest.mark.django_db
def test_the_workers_api_requires_sign_in(client):
    assert client.get(reverse("api_workers")).status_code == 403


# --- sweeps --------------------------------------------------------------------------------------------
@pytest.mark.django_db
def test_a_sweeps_trials_go_to_its_gpu_class(owner, tiny_dataset, classes, django_capture_on_commit_callbacks):
    from webapp.sweeps import driver
    from webapp.sweeps.models import Sweep

    api = api_client(owner)
    body = {
        "name": "on h200",
        "dataset": tiny_dataset.pk,
        "config": {**TINY_CONFIG, "device": "auto"},
        "space": {"lr": [0.01, 0.1]},
        "method": "grid",
        "objective": "val_acc",
        "pruner": "none",
        "max_trials": 2,
        "parallelism": 2,
    }
    refused = api.post("/api/sweeps/", {**body, "gpu_class": "tpu"}, format="json")
    assert refused.status_code == 400 and "Unknown GPU class tpu" in refused.json()["errors"]["gpu_class"][0]
    with django_capture_on_commit_callbacks():
        created = api.post("/api/sweeps/", {**body, "gpu_class": "h200"}, format="json")
    assert created.status_code == 201, created.json()
    sweep = Sweep.objects.get(pk=created.json()["id"])
    assert sweep.gpu_class == "h200" and sweep.to_dict()["gpu_class"] == "h200"
    with django_capture_on_commit_callbacks(execute=True):
        trials = driver.advance(sweep.pk)
    assert len(trials) == 2
    assert {(t.experiment.gpu_class, t.experiment.route) for t in trials} == {("h200", "gpu-h200")}
    assert pending_args(run_experiment, ["gpu-h200"]) == {t.experiment_id for t in trials}
