"""The workers page: who is online, on what device, serving which queues, running what."""

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

        client.force_login(outsider)
        html = client.get(reverse("workers")).content.decode()
        assert celery_worker.name in html
        assert "tiny run" not in html
        assert "another team's experiment" in html
    finally:
        Experiment.objects.get(pk=experiment.pk).request_cancel()
        assert finished(experiment).status == Status.CANCELLED
