"""The experiments list (dashboard and GET /api/experiments/): one FilterSet for both, sorting by metrics
with pinned experiments first, pages, and a number of queries that does not grow with the rows shown."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from tests.helpers import TINY_CONFIG
from tests.sweep_helpers import sweep_with_trial
from webapp.experiments.models import EpochMetric, Experiment, Tag
from webapp.experiments.states import Status

pytestmark = pytest.mark.django_db
STATUSES = [Status.SUCCEEDED, Status.FAILED, Status.QUEUED, Status.RUNNING, Status.CANCELLED]


def make_many(n: int, dataset, owner) -> list[Experiment]:
    """n experiments of every status, each with two epochs, a tag, and test results with predictions."""
    now = timezone.now()
    rows = Experiment.objects.bulk_create(
        Experiment(
            team=dataset.team,
            owner=owner,
            dataset=dataset,
            name=f"run {i}",
            config={**TINY_CONFIG, "arch": "small_cnn" if i % 2 else "resnet18"},
            status=STATUSES[i % len(STATUSES)],
            started_at=now - datetime.timedelta(seconds=100 + i),
            finished_at=now if STATUSES[i % len(STATUSES)] == Status.SUCCEEDED else None,
            test_metrics={"accuracy": i / (n + 1), "loss": 1 - i / (n + 1), "predictions": [[0, 1, 0.5]] * 50},
            log="a long log line\n" * 20,
        )
        for i in range(n)
    )
    EpochMetric.objects.bulk_create(
        EpochMetric(
            experiment=e,
            epoch=epoch,
            train_loss=1,
            train_acc=0.5,
            val_loss=1 / epoch,
            val_acc=0.1 * epoch,
            lr=0.1,
            seconds=1,
        )
        for e in rows
        for epoch in (1, 2)
    )
    tag = Tag.objects.get_or_create(team=dataset.team, name="bulk")[0]
    Experiment.tags.through.objects.bulk_create(Experiment.tags.through(experiment=e, tag=tag) for e in rows)
    return rows


def queries(client, url: str) -> tuple[int, object]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    assert not any('"experiments_experiment"."log"' in q["sql"] for q in captured.captured_queries)
    return len(captured.captured_queries), response


@pytest.mark.parametrize("url_name", ["dashboard", "api_experiment_list"])
def test_the_number_of_queries_does_not_grow_with_the_rows_shown(client, owner, tiny_dataset, url_name):
    client.force_login(owner)
    url = reverse(url_name) + "?page_size=500"
    make_many(10, tiny_dataset, owner)
    few, response = queries(client, url)
    shown = (
        len(response.json()["results"]) if url_name.startswith("api") else response.content.count(b"data-experiment=")
    )
    assert shown >= 10
    make_many(490, tiny_dataset, owner)
    many, response = queries(client, url)
    if url_name.startswith("api"):
        assert len(response.json()["results"]) == 500
    else:
        history = response.content.decode().split('id="history-list"')[1]
        assert history.count("data-experiment=") == 500
    assert few == many


def api(client, **params) -> list[dict]:
    response = client.get(reverse("api_experiment_list"), params)
    assert response.status_code == 200, response.json()
    return response.json()["results"]


def test_filters_search_and_sort(client, owner, teammate, tiny_dataset, make_experiment):
    rows = make_many(10, tiny_dataset, owner)
    mine = make_experiment()
    Experiment.objects.filter(pk=mine.pk).update(
        owner=teammate, name="Special one", created_at=timezone.now() - datetime.timedelta(days=30)
    )
    mine.set_tags(["keep"])
    client.force_login(owner)
    assert [e["id"] for e in api(client, q="special")] == [mine.pk]
    assert [e["id"] for e in api(client, owner="bob")] == [mine.pk]
    assert [e["id"] for e in api(client, tag="keep")] == [mine.pk]
    assert {e["status"] for e in api(client, status=["failed", "cancelled"])} == {"failed", "cancelled"}
    assert {e["arch"] for e in api(client, arch="resnet18")} == {"resnet18"}
    assert len(api(client, dataset=tiny_dataset.pk)) == 11
    old = (timezone.now() - datetime.timedelta(days=10)).date().isoformat()
    assert mine.pk not in [e["id"] for e in api(client, created_after=old)]
    assert [e["id"] for e in api(client, created_before=old)] == [mine.pk]
    by_test = api(client, sort="-test_accuracy")
    assert [e["id"] for e in by_test][:10] == [e.pk for e in reversed(rows)]
    assert by_test[-1]["test_accuracy"] is None  # no result: last, whichever the direction
    assert api(client, sort="test_accuracy")[-1]["test_accuracy"] is None
    assert api(client, sort="-val_accuracy")[0]["val_accuracy"] == pytest.approx(0.2)
    durations = [e["duration_seconds"] for e in api(client, sort="duration") if e["duration_seconds"] is not None]
    assert durations == sorted(durations) and durations


def test_a_sweeps_trials_are_listed_by_the_sweep_filter(client, owner, tiny_dataset):
    make_many(3, tiny_dataset, owner)
    sweep = sweep_with_trial(owner, tiny_dataset)
    client.force_login(owner)
    trial = sweep.trial_rows()[0].experiment
    assert [e["id"] for e in api(client, sweep=sweep.pk)] == [trial.pk]
    page = client.get(reverse("dashboard"), {"sweep": sweep.pk}).content.decode()
    assert "trial 0" in page


def test_pinned_experiments_come_first_whatever_the_sort(client, owner, tiny_dataset):
    rows = make_many(6, tiny_dataset, owner)
    Experiment.objects.filter(pk=rows[0].pk).update(pinned=True)
    client.force_login(owner)
    for sort in ("", "-test_accuracy", "name", "-created"):
        assert api(client, sort=sort)[0]["id"] == rows[0].pk
    page = client.get(reverse("dashboard"), {"sort": "-test_accuracy"}).content.decode()
    history = page.split('id="history-list"')[1]
    assert history.index(f'data-experiment="{rows[0].pk}"') < history.index(f'data-experiment="{rows[5].pk}"')


def test_bad_filters_are_named(client, owner, tiny_dataset):
    client.force_login(owner)
    for params, field in [
        ({"status": "nope"}, "status"),
        ({"sort": "log"}, "sort"),
        ({"dataset": 99999}, "dataset"),
        ({"created_after": "soon"}, "created_after"),
    ]:
        response = client.get(reverse("api_experiment_list"), params)
        assert response.status_code == 400 and field in response.json()["errors"], params
        page = client.get(reverse("dashboard"), params)
        assert page.status_code == 200


def test_pages_of_the_list(client, owner, tiny_dataset):
    make_many(7, tiny_dataset, owner)
    client.force_login(owner)
    first = client.get(reverse("api_experiment_list"), {"page_size": 5}).json()
    assert first["count"] == 7 and len(first["results"]) == 5 and first["next"]
    assert client.get(reverse("api_experiment_list"), {"page_size": 5, "page": 9}).status_code == 404
    page = client.get(reverse("dashboard"), {"page_size": 5, "page": 2}).content.decode()
    assert page.split('id="history-list"')[1].count("data-experiment=") == 2 and "Page 2 of 2" in page


def test_the_list_shows_no_experiment_of_another_team(client, outsider, owner, tiny_dataset):
    make_many(3, tiny_dataset, owner)
    client.force_login(outsider)
    assert api(client) == []
    assert client.get(reverse("api_experiment_list"), {"dataset": tiny_dataset.pk}).status_code == 400
