"""Widening the space of a finished (or stopped) sweep, from its page and /api/sweeps/<id>/widen/: the
trials so far stay (and count), new ones come from the wider space, a grid runs only its new points, a
narrowing or bad input is refused by field, and only the team's members may do it. No worker here: the
driver runs in the test, as a worker would (tests/test_sweep_driver.py widens on a real worker)."""

from __future__ import annotations

import json

import pytest

from tests.sweep_helpers import fresh, make_sweep
from training.search import SpaceError, widen_space
from webapp.experiments.models import EpochMetric, Experiment
from webapp.experiments.states import Status
from webapp.sweeps import driver
from webapp.sweeps.models import Sweep, SweepStatus, Trial

pytestmark = pytest.mark.django_db


def post(client, url, data=None):
    return client.post(url, json.dumps(data if data is not None else {}), content_type="application/json")


def ran(sweep: Sweep, number: int, params: dict, value: float = 0.5, seconds: float = 0.5) -> Trial:
    """A trial that ran two epochs and succeeded (rows only)."""
    experiment = Experiment.objects.create(
        team=sweep.team,
        owner=sweep.owner,
        dataset=sweep.dataset,
        name=f"t{number}",
        config={**sweep.config, **params},
        status=Status.SUCCEEDED,
    )
    for epoch in (1, 2):
        EpochMetric.objects.create(
            experiment=experiment,
            epoch=epoch,
            train_loss=1.0,
            train_acc=0.5,
            val_loss=1.0,
            val_acc=value,
            lr=0.01,
            seconds=seconds,
        )
    return Trial.objects.create(sweep=sweep, number=number, params=params, experiment=experiment)


def finished_sweep(owner, dataset, space: dict, points: list[dict], **fields) -> Sweep:
    sweep = make_sweep(owner, dataset, space, max_trials=len(points), **fields)
    for number, params in enumerate(points):
        ran(sweep, number, params, value=0.5 + number / 100)
    sweep.status = SweepStatus.FINISHED
    sweep.save()
    return sweep


NARROW_LR = [{"lr": 0.01}, {"lr": 0.015}, {"lr": 0.02}]


@pytest.mark.parametrize("method", ["random", "tpe"])
def test_widening_a_finished_sweep_keeps_its_trials_and_new_ones_come_from_the_wider_range(
    client, owner, tiny_dataset, django_capture_on_commit_callbacks, method
):
    space = {"lr": {"low": 0.01, "high": 0.02}}
    sweep = finished_sweep(owner, tiny_dataset, space, NARROW_LR, method=method, parallelism=4)
    client.force_login(owner)
    with django_capture_on_commit_callbacks() as callbacks:
        response = post(client, f"/api/sweeps/{sweep.pk}/widen/", {"space": {"lr": {"high": 1.0}}, "trials": 4})
    assert response.status_code == 200, response.json()
    data = response.json()
    assert data["status"] == "running" and data["max_trials"] == 7 and len(callbacks) == 1  # the advance task
    assert data["space"]["lr"] == {"type": "float", "low": 0.01, "high": 1.0, "log": False}
    [entry] = data["space_history"]
    assert entry["by"] == "alice" and entry["after_trials"] == 3 and entry["space"] == space
    assert entry["changes"] == ["lr: 0.01 to 0.02 -> 0.01 to 1"]

    new = driver.advance(sweep.pk)  # as the worker does
    assert [t.number for t in new] == [3, 4, 5, 6]
    lrs = [t.params["lr"] for t in new]
    assert all(0.01 <= lr <= 1.0 for lr in lrs) and any(lr > 0.02 for lr in lrs), lrs
    report = client.get(f"/api/sweeps/{sweep.pk}/").json()
    assert [t["number"] for t in report["trials"]] == list(range(7))  # the old trials stay, and count
    assert [t["params"] for t in report["trials"][:3]] == NARROW_LR
    assert report["best"]["number"] == 2
    assert report["budget_used"]["trials"] == 7 and driver.advance(sweep.pk) == []  # the budget is used


def test_widening_a_grid_runs_only_its_new_points_and_raises_the_trial_budget_as_needed(client, owner, tiny_dataset):
    sweep = finished_sweep(
        owner,
        tiny_dataset,
        {"lr": [0.01, 0.02], "batch_size": [4]},
        [{"lr": 0.01, "batch_size": 4}, {"lr": 0.02, "batch_size": 4}],
        parallelism=5,
    )
    client.force_login(owner)
    response = post(
        client, f"/api/sweeps/{sweep.pk}/widen/", {"space": {"lr": [0.01, 0.02, 0.05], "batch_size": [4, 8]}}
    )
    assert response.status_code == 200, response.json()
    assert response.json()["max_trials"] == 6  # 2 run + 4 new points
    new = driver.advance(sweep.pk)
    points = sorted((t.params["lr"], t.params["batch_size"]) for t in new)
    assert points == [(0.01, 8), (0.02, 8), (0.05, 4), (0.05, 8)]  # never a point twice
    assert driver.advance(sweep.pk) == []


def test_a_narrowing_is_refused_with_a_field_error_by_the_api_and_on_the_page(client, owner, tiny_dataset):
    sweep = finished_sweep(owner, tiny_dataset, {"lr": {"low": 0.01, "high": 0.02}}, NARROW_LR, method="random")
    client.force_login(owner)
    response = post(client, f"/api/sweeps/{sweep.pk}/widen/", {"space": {"lr": {"low": 0.015}}, "trials": 2})
    assert response.status_code == 400
    [message] = response.json()["errors"]["space"]
    assert message.startswith("lr: ") and "does not hold the old range 0.01 to 0.02" in message

    page = client.post(f"/sweeps/{sweep.pk}/widen/", {"lr__low": "0.015", "lr__high": "0.5", "trials": "2"})
    assert page.status_code == 400
    assert "does not hold the old range" in " ".join(page.context["widen_form"].errors["lr__low"])
    assert b"does not hold the old range" in page.content and b'id="widen" open' in page.content
    sweep = fresh(sweep)
    assert sweep.space == {"lr": {"low": 0.01, "high": 0.02}} and sweep.space_history == []
    assert sweep.status == SweepStatus.FINISHED and sweep.max_trials == 3


def test_the_page_widens_from_its_fields_and_shows_the_change(client, owner, tiny_dataset):
    sweep = finished_sweep(
        owner,
        tiny_dataset,
        {"optimizer": ["sgd", "adamw"], "lr": {"low": 0.01, "high": 0.02}},
        [{"optimizer": "sgd", "lr": 0.01}],
        method="random",
    )
    client.force_login(owner)
    page = client.get(f"/sweeps/{sweep.pk}/")
    assert page.status_code == 200
    form = page.context["widen_form"]
    assert form["optimizer__values"].value() == "sgd, adamw" and form["lr__low"].value() == 0.01
    response = client.post(
        f"/sweeps/{sweep.pk}/widen/",
        {"optimizer__values": "sgd, adamw, adam", "lr__low": "0.001", "lr__high": "0.02", "trials": "2"},
    )
    assert response.status_code == 302 and response.url == f"/sweeps/{sweep.pk}/"
    sweep = fresh(sweep)
    assert sweep.space["optimizer"]["values"] == ["sgd", "adamw", "adam"] and sweep.space["lr"]["low"] == 0.001
    assert sweep.status == SweepStatus.RUNNING and sweep.max_trials == 3
    page = client.get(f"/sweeps/{sweep.pk}/")
    assert b"Space history" in page.content and b"lr: 0.01 to 0.02 -&gt; 0.001 to 0.02" in page.content
    assert b"Widened (" in page.content  # the message
    unchanged = client.post(
        f"/sweeps/{sweep.pk}/widen/", {"optimizer__values": "sgd, adamw, adam", "lr__low": "0.001", "lr__high": "0.02"}
    )
    assert unchanged.status_code == 400 and b"Nothing changes" in unchanged.content


def test_widening_a_stopped_sweep_resumes_it(client, owner, tiny_dataset, django_capture_on_commit_callbacks):
    sweep = make_sweep(owner, tiny_dataset, {"lr": [0.01, 0.02]}, max_trials=2, parallelism=3)
    driver.advance(sweep.pk)
    driver.stop(fresh(sweep))
    assert Experiment.objects.filter(trial__sweep=sweep, status=Status.CANCELLED).count() == 2
    client.force_login(owner)
    with django_capture_on_commit_callbacks() as callbacks:
        response = post(client, f"/api/sweeps/{sweep.pk}/widen/", {"space": {"lr": [0.01, 0.02, 0.03]}})
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "running" and response.json()["max_trials"] == 3
    assert Experiment.objects.filter(trial__sweep=sweep, status=Status.QUEUED).count() == 2
    assert len(callbacks) == 3  # both trials back to the queue, and the sweep's advance
    assert [t.params["lr"] for t in driver.advance(sweep.pk)] == [0.03]


@pytest.mark.parametrize(
    ("data", "field", "words"),
    [
        ([1, 2], "__all__", "JSON object"),
        ({}, "space", "name the parameters to widen"),
        ({"space": "wider"}, "space", "name the parameters to widen"),
        ({"space": {"lr": {"low": "tiny"}}, "trials": 2}, "space", "lr: low"),
        ({"space": {"momentum": [0.9]}, "trials": 2}, "space", "not a parameter of this sweep"),
        ({"space": {"lr": {"high": 1.0}}, "trials": -1}, "trials", "greater than or equal to 0"),
        ({"space": {"lr": {"high": 1.0}}, "trials": "many"}, "trials", "whole number"),
        ({"space": {"lr": {"high": 1.0}}, "trials": 2, "max_hours": "soon"}, "max_hours", "number"),
        ({"space": {"lr": {"high": 1.0}}, "trials": 2, "max_hours": 0}, "max_hours", "greater than"),
        ({"space": {"lr": {"high": 1.0}}}, "trials", "the sweep has run 3 of its 3 trials: add trials"),
        ({"space": {"lr": {"high": 1.0}}, "trials": 2, "max_epochs": 6}, "max_epochs", "used 6 of 6 epochs"),
    ],
)
def test_bad_input_gets_a_400_naming_the_field_and_changes_nothing(client, owner, tiny_dataset, data, field, words):
    sweep = finished_sweep(owner, tiny_dataset, {"lr": {"low": 0.01, "high": 0.02}}, NARROW_LR, method="random")
    client.force_login(owner)
    response = post(client, f"/api/sweeps/{sweep.pk}/widen/", data)
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert field in errors, errors
    assert words in " ".join(errors[field]), errors
    assert fresh(sweep).space_history == [] and fresh(sweep).status == SweepStatus.FINISHED


def test_only_members_may_widen_a_sweep(client, owner, viewer, outsider, tiny_dataset):
    sweep = finished_sweep(owner, tiny_dataset, {"lr": {"low": 0.01, "high": 0.02}}, NARROW_LR, method="random")
    change = {"space": {"lr": {"high": 1.0}}, "trials": 2}
    assert post(client, f"/api/sweeps/{sweep.pk}/widen/", change).status_code == 403  # not signed in
    client.force_login(viewer)
    assert post(client, f"/api/sweeps/{sweep.pk}/widen/", change).status_code == 403
    assert client.post(f"/sweeps/{sweep.pk}/widen/", {"lr__low": 0.01, "lr__high": 1}).status_code == 403
    assert b"widen-form" not in client.get(f"/sweeps/{sweep.pk}/").content
    client.force_login(outsider)
    assert post(client, f"/api/sweeps/{sweep.pk}/widen/", change).status_code == 404
    assert client.post(f"/sweeps/{sweep.pk}/widen/", {"lr__low": 0.01, "lr__high": 1}).status_code == 404
    assert fresh(sweep).space == {"lr": {"low": 0.01, "high": 0.02}}


def test_the_widen_endpoint_is_in_the_openapi_schema(client):
    schema = client.get("/api/schema/?format=json").json()
    operation = schema["paths"]["/api/sweeps/{id}/widen/"]["post"]
    assert operation["operationId"] == "sweeps_widen"
    body = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    assert {"space", "trials", "max_epochs", "max_hours"} <= set(schema["components"]["schemas"][body]["properties"])


def test_a_widening_checked_against_an_older_space_is_refused_under_the_lock(owner, tiny_dataset):
    sweep = finished_sweep(owner, tiny_dataset, {"lr": {"low": 0.01, "high": 0.02}}, NARROW_LR, method="random")
    first = driver.Widening(widen_space(sweep.space, {"lr": {"high": 1.0}}), trials=2)
    second = driver.Widening(widen_space(sweep.space, {"lr": {"high": 0.5}}), trials=2)  # made before `first` ran
    driver.widen(sweep, first, by="alice")
    with pytest.raises(SpaceError) as caught:
        driver.widen(sweep, second, by="bob")
    assert caught.value.errors == {
        "space": "lr: 0.01 to 0.5 does not hold the old range 0.01 to 1; a sweep's range can only be widened"
    }
    with pytest.raises(SpaceError) as caught:
        driver.widen(sweep, first, by="alice")
    assert caught.value.errors == {"space": "nothing changes: give a parameter a wider range or more values"}
    assert [entry["by"] for entry in fresh(sweep).space_history] == ["alice"]
