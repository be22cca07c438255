"""The workers page and GET /api/workers/: who is online, on what device, serving which queues, running what."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.helpers import finished, wait_until
from webapp.experiments.models import Experiment
from webapp.experiments.states import Status
from webapp.experiments.tasks import enqueue

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_it_requires_sign_in(client):
    assert client.get(reverse("workers")).status_code == 302


def test_it_lists_the_online_worker_with_its_device_queues_and_current_experiment(
    client, celery_worker, make_experiment, owner, outsider
):
    experiment = make_experiment(epochs=1000)
    enqueue(experiment)
    wait_until(lambda: Experiment.objects.get(pk=experiment.pk).status == Status.RUNNING, message="the run to start")
    try:
        client.force_login(owner)
        html = client.get(reverse("workers")).content.decode()
        assert celery_worker.name in html
        assert "CPU (" in html
        assert '<span class="tag">gpu</span>' in html and '<span class="tag">cpu</span>' in html
        assert f"#{experiment.pk} tiny run" in html

        [seen] = [w for w in client.get(reverse("api_workers")).json() if w["name"] == celery_worker.name]
        assert seen["device"] == "cpu" and seen["cpus"] and seen["gpus"] == [] and seen["host"]
        assert {"gpu", "cpu"} <= set(seen["queues"]) and seen["gpu_classes"] == []
        url = experiment.get_absolute_url()
        assert seen["running"] == [{"visible": True, "id": experiment.pk, "name": "tiny run", "url": url}]

        client.force_login(outsider)
        html = client.get(reverse("workers")).content.decode()
        assert celery_worker.name in html
        assert "tiny run" not in html
        assert "another team's experiment" in html
        [seen] = [w for w in client.get(reverse("api_workers")).json() if w["name"] == celery_worker.name]
        assert seen["running"] == [{"visible": False}]  # busy, nothing more
    finally:
        Experiment.objects.get(pk=experiment.pk).request_cancel()
        assert finished(experiment).status == Status.CANCELLED
