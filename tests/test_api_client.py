"""A script's journey through the API, end to end: with a token it creates an experiment from presets
and overrides, follows it to its end on a real Celery worker, and reads its metrics."""

from __future__ import annotations

import pytest
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.helpers import TINY_CONFIG, wait_until
from webapp.experiments.states import FINAL, Status

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_a_token_client_creates_follows_and_reads_an_experiment(celery_worker, owner, tiny_dataset):
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=owner).key}")
    body = {
        "name": "scripted",
        "dataset": tiny_dataset.pk,
        "presets": ["quick"],
        "config": {**TINY_CONFIG, "epochs": 2},
        "tags": ["script"],
    }
    created = api.post(reverse("api_experiment_list"), body, format="json")
    assert created.status_code == 201, created.json()
    url = reverse("api_experiment_detail", args=[created.json()["id"]])

    def final():
        data = api.get(url).json()
        return data if data["status"] in FINAL else None

    done = wait_until(final, 240, message="the experiment to finish on the worker")
    assert done["status"] == Status.SUCCEEDED, done["error"]
    assert 0 <= done["test_metrics"]["accuracy"] <= 1 and done["tags"] == ["script"]
    metrics = api.get(reverse("api_experiment_metrics", args=[done["id"]])).json()
    assert [row["epoch"] for row in metrics["history"]] == [1, 2]
    assert all(0 <= row["val_acc"] <= 1 for row in metrics["history"])
    listed = api.get(reverse("api_experiment_list"), {"tag": "script", "sort": "-test_accuracy"}).json()
    assert [e["id"] for e in listed["results"]] == [done["id"]]
    assert listed["results"][0]["test_accuracy"] == pytest.approx(done["test_metrics"]["accuracy"])
    assert listed["results"][0]["val_accuracy"] == pytest.approx(max(r["val_acc"] for r in metrics["history"]))
