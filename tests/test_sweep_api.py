"""/api/sweeps/ and the sweep pages: create (the form's validation, errors by field), list, detail with
trials, stop / resume / add trials, and team access (viewers read, outsiders get 404). No worker here:
the tasks sent are captured; tests/test_sweep_driver.py runs sweeps on real workers."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from tests.helpers import TINY_CONFIG
from tests.sweep_helpers import make_sweep
from webapp.experiments.models import EpochMetric, Experiment
from webapp.experiments.states import Status
from webapp.sweeps import driver
from webapp.sweeps.models import Sweep, SweepStatus, Trial

pytestmark = pytest.mark.django_db

SPACE = {
    "optimizer": ["sgd", "adamw"],
    "lr": {"low": 0.001, "high": 0.1, "log": True},
    "momentum": {"low": 0.8, "high": 0.99, "when": {"optimizer": ["sgd"]}},
}


def body(data_set, **changes) -> dict:
    return {
        "name": "lr search",
        "dataset": data_set.pk,
        "config": dict(TINY_CONFIG),
        "space": SPACE,
        "method": "tpe",
        "objective": "val_acc",
        "pruner": "asha",
        "max_trials": 6,
        "parallelism": 2,
        **changes,
    }


def post(client, url, data=None):
    return client.post(url, json.dumps(data or {}), content_type="application/json")


def add_trial(sweep, number: int, params: dict, status: str, curve: list[float]) -> Trial:
    config = {**sweep.config, **params}
    experiment = Experiment.objects.create(
        team=sweep.team, owner=sweep.owner, dataset=sweep.dataset, name=f"t{number}", config=config, status=status
    )
    for epoch, value in enumerate(curve, start=1):
        EpochMetric.objects.create(
            experiment=experiment,
            epoch=epoch,
            train_loss=1.0,
            train_acc=0.5,
            val_loss=1.0,
            val_acc=value,
            lr=0.01,
            seconds=0.5,
        )
    return Trial.objects.create(sweep=sweep, number=number, params=params, experiment=experiment)


def test_creating_a_sweep_stores_the_resolved_config_and_space_and_starts_it(
    client, owner, tiny_dataset, django_capture_on_commit_callbacks
):
    client.force_login(owner)
    with django_capture_on_commit_callbacks() as callbacks:
        response = post(client, "/api/sweeps/", body(tiny_dataset, presets=["quick"]))
    assert response.status_code == 201, response.json()
    sweep = Sweep.objects.get(pk=response.json()["id"])
    assert sweep.status == SweepStatus.RUNNING and sweep.team == tiny_dataset.team and sweep.owner == owner
    assert sweep.config["lr"] == TINY_CONFIG["lr"] and sweep.config["width"] == 8  # overrides over the preset
    assert sweep.presets == ["quick"]
    assert sweep.space["momentum"]["when"] == {"optimizer": ["sgd"]}
    assert len(callbacks) == 1  # the advance task, once the row is committed
    assert response.json()["trials"] == []


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"space": {"lr": {"low": 0.1, "high": 0.01}}}, "space", "lr"),
        ({"space": {"no_such_option": [1, 2]}}, "space", "no_such_option"),
        ({"space": {"lr": {"low": 0.001, "high": 0.1}}, "method": "grid"}, "space", "lr"),
        ({"method": "annealing"}, "method", "annealing"),
        ({"max_trials": 0}, "max_trials", "greater than or equal to 1"),
        ({"parallelism": "many"}, "parallelism", "whole number"),
        ({"dataset": 999999}, "dataset", "valid choice"),
        ({"config": {"no_such_field": 1}}, "config.no_such_field", "unknown"),
        ({"config": {"lr": -1}}, "lr", ""),
        ({"presets": ["no-such-preset"]}, "presets", "no-such-preset"),
    ],
)
def test_a_bad_sweep_is_refused_with_an_error_naming_the_field_and_nothing_is_made(
    client, owner, tiny_dataset, changes, field, words
):
    client.force_login(owner)
    response = post(client, "/api/sweeps/", body(tiny_dataset, **changes))
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert field in errors, errors
    assert words.lower() in " ".join(errors[field]).lower()
    assert not Sweep.objects.exists() and not Experiment.objects.exists()


def test_a_dataset_without_a_validation_split_is_refused(client, owner, tiny_dataset):
    tiny_dataset.split_counts = {k: v for k, v in tiny_dataset.split_counts.items() if k != "val"}
    tiny_dataset.save()
    client.force_login(owner)
    response = post(client, "/api/sweeps/", body(tiny_dataset))
    assert response.status_code == 400
    assert "validation split" in response.json()["errors"]["dataset"][0]


def test_the_detail_has_every_trial_the_best_one_and_the_importances(client, owner, tiny_dataset):
    sweep = make_sweep(owner, tiny_dataset, {"lr": {"low": 0.001, "high": 0.1, "log": True}}, method="random")
    for n, (lr, final) in enumerate([(0.001, 0.5), (0.01, 0.9), (0.05, 0.8), (0.1, 0.6)]):
        add_trial(sweep, n, {"lr": lr}, Status.SUCCEEDED, [0.4, final])
    add_trial(sweep, 4, {"lr": 0.09}, Status.PRUNED, [0.2])
    add_trial(sweep, 5, {"lr": 0.02}, Status.RUNNING, [0.7])
    client.force_login(owner)
    data = client.get(f"/api/sweeps/{sweep.pk}/").json()
    assert [t["number"] for t in data["trials"]] == list(range(6))
    assert data["best"]["number"] == 1 and data["best"]["value"] == 0.9
    by_number = {t["number"]: t for t in data["trials"]}
    assert by_number[4]["state"] == "pruned" and by_number[4]["value"] == 0.2 and by_number[4]["epochs_run"] == 1
    assert by_number[5]["state"] == "running" and by_number[5]["value"] is None
    assert by_number[1]["rank"] == 1 and by_number[4]["rank"] == 5
    assert set(data["importance"]) == {"lr"}
    listed = client.get("/api/sweeps/").json()
    assert [s["id"] for s in listed] == [sweep.pk] and listed[0]["trials"] == 6


def test_stop_resume_and_add_trials_through_the_api(client, owner, tiny_dataset, django_capture_on_commit_callbacks):
    sweep = make_sweep(owner, tiny_dataset, {"lr": [0.01, 0.02, 0.03]}, max_trials=3, parallelism=2)
    driver.advance(sweep.pk)  # here, as a worker would: two queued trials
    assert Experiment.objects.filter(trial__sweep=sweep, status=Status.QUEUED).count() == 2
    client.force_login(owner)
    response = post(client, f"/api/sweeps/{sweep.pk}/stop/")
    assert response.status_code == 200 and response.json()["status"] == "stopped"
    assert Experiment.objects.filter(trial__sweep=sweep, status=Status.CANCELLED).count() == 2
    assert post(client, f"/api/sweeps/{sweep.pk}/stop/").status_code == 409
    with django_capture_on_commit_callbacks() as callbacks:
        response = post(client, f"/api/sweeps/{sweep.pk}/resume/")
    assert response.status_code == 200 and response.json()["status"] == "running"
    assert Experiment.objects.filter(trial__sweep=sweep, status=Status.QUEUED).count() == 2
    assert len(callbacks) == 3  # both trials' tasks and the sweep's advance
    assert post(client, f"/api/sweeps/{sweep.pk}/resume/").status_code == 409
    response = post(client, f"/api/sweeps/{sweep.pk}/add/", {"trials": 4})
    assert response.status_code == 200 and response.json()["max_trials"] == 7
    response = post(client, f"/api/sweeps/{sweep.pk}/add/", {"trials": -1})
    assert response.status_code == 400 and "trials" in response.json()["errors"]


def test_a_viewer_reads_but_cannot_change_and_an_outsider_sees_nothing(client, owner, viewer, outsider, tiny_dataset):
    sweep = make_sweep(owner, tiny_dataset, {"lr": [0.01, 0.02]})
    client.force_login(viewer)
    assert client.get(f"/api/sweeps/{sweep.pk}/").status_code == 200
    page = client.get(f"/sweeps/{sweep.pk}/")
    assert page.status_code == 200 and b"stop-button" not in page.content and b"add-button" not in page.content
    assert client.post(f"/sweeps/{sweep.pk}/stop/").status_code == 403
    assert post(client, f"/api/sweeps/{sweep.pk}/stop/").status_code == 403
    assert post(client, f"/api/sweeps/{sweep.pk}/add/", {"trials": 1}).status_code == 403
    assert post(client, "/api/sweeps/", body(tiny_dataset)).status_code == 403
    client.force_login(outsider)
    assert client.get("/api/sweeps/").json() == []
    for url in (f"/api/sweeps/{sweep.pk}/", f"/sweeps/{sweep.pk}/"):
        assert client.get(url).status_code == 404
    for url in (f"/api/sweeps/{sweep.pk}/stop/", f"/api/sweeps/{sweep.pk}/resume/", f"/sweeps/{sweep.pk}/stop/"):
        assert client.post(url).status_code == 404
    assert Sweep.objects.get(pk=sweep.pk).status == SweepStatus.RUNNING


def test_the_api_needs_sign_in_and_a_csrf_token(owner, tiny_dataset):
    assert Client().get("/api/sweeps/").status_code == 403
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    response = post(client, "/api/sweeps/", body(tiny_dataset))
    assert response.status_code == 403 and not Sweep.objects.exists()


def test_the_pages_list_show_and_create_a_sweep_from_the_form(client, owner, tiny_dataset):
    client.force_login(owner)
    assert client.get("/sweeps/").status_code == 200
    page = client.get("/sweeps/new/")
    assert page.status_code == 200 and b"space-builder" in page.content
    form = {k: ("on" if v is True else "" if v is False else v) for k, v in page.context["form"].initial.items()}
    form.update({k: v for k, v in TINY_CONFIG.items()})
    form.update(
        name="from the form",
        dataset=tiny_dataset.pk,
        priority="normal",
        space=json.dumps(SPACE),
        method="random",
        objective="val_loss",
        pruner="median",
        max_trials=3,
        parallelism=1,
        seed=7,
    )
    response = client.post("/sweeps/new/", form)
    assert response.status_code == 302, response.context["form"].errors
    sweep = Sweep.objects.get(name="from the form")
    assert response.url == f"/sweeps/{sweep.pk}/"
    assert (sweep.method, sweep.objective, sweep.pruner, sweep.seed) == ("random", "val_loss", "median", 7)
    page = client.get(response.url)
    assert page.status_code == 200 and b"momentum" in page.content
    form["space"] = json.dumps({"lr": {"low": 1, "high": 0}})
    response = client.post("/sweeps/new/", form)
    assert response.status_code == 200 and "lr" in " ".join(response.context["form"].errors["space"])


def test_a_sweep_of_1000_trials_reports_them_all_and_marks_at_most_300_curves(client, owner, tiny_dataset):
    import random

    sweep = make_sweep(owner, tiny_dataset, {"lr": {"low": 0.001, "high": 0.1, "log": True}}, method="random")
    rng = random.Random(0)
    experiments = Experiment.objects.bulk_create(
        Experiment(
            team=sweep.team,
            owner=owner,
            dataset=tiny_dataset,
            name=f"t{n}",
            config=sweep.config,
            status=Status.SUCCEEDED if n % 3 else Status.PRUNED,
        )
        for n in range(1000)
    )
    Trial.objects.bulk_create(
        Trial(sweep=sweep, number=n, params={"lr": rng.uniform(0.001, 0.1)}, experiment=e)
        for n, e in enumerate(experiments)
    )
    EpochMetric.objects.bulk_create(
        EpochMetric(
            experiment=e,
            epoch=epoch,
            train_loss=1.0,
            train_acc=0.5,
            val_loss=1.0,
            val_acc=rng.random(),
            lr=0.01,
            seconds=0.5,
        )
        for e in experiments
        for epoch in (1, 2, 3)[: 3 if e.status == Status.SUCCEEDED else 1]
    )
    client.force_login(owner)
    data = client.get(f"/api/sweeps/{sweep.pk}/").json()
    assert client.get(f"/api/sweeps/{sweep.pk}/").json()["importance"] == data["importance"]  # cached
    assert len(data["trials"]) == 1000
    assert sum(t["curve"] for t in data["trials"]) == 300
    assert sorted(t["rank"] for t in data["trials"]) == list(range(1, 1001))
    assert set(data["importance"]) == {"lr"}
    assert client.get(f"/sweeps/{sweep.pk}/").status_code == 200


def test_a_point_whose_config_cannot_train_fails_at_once_with_the_reason_and_the_sweep_goes_on(
    owner, tiny_dataset, django_capture_on_commit_callbacks
):
    # warmup_epochs 5 cannot work in a 2-epoch run: that trial fails before it is queued.
    sweep = make_sweep(owner, tiny_dataset, {"warmup_epochs": [5, 0, 1]}, max_trials=3, parallelism=2)
    with django_capture_on_commit_callbacks() as callbacks:
        started = driver.advance(sweep.pk)
    trials = list(sweep.trial_rows())
    assert [t.experiment.status for t in trials] == [Status.FAILED, Status.QUEUED, Status.QUEUED]
    assert "warmup_epochs" in trials[0].experiment.error
    assert len(started) == 2 and len(callbacks) == 2  # only the trials that can run are sent


def test_the_epoch_budget_ends_the_sweep_once_nothing_runs(owner, tiny_dataset):
    sweep = make_sweep(owner, tiny_dataset, {"lr": [0.01, 0.02, 0.03]}, max_trials=3, max_epochs=4)
    add_trial(sweep, 0, {"lr": 0.01}, Status.SUCCEEDED, [0.5, 0.6])
    add_trial(sweep, 1, {"lr": 0.02}, Status.RUNNING, [0.5, 0.6])
    assert driver.advance(sweep.pk) == []  # 4 epochs used: no third trial
    assert Sweep.objects.get(pk=sweep.pk).status == SweepStatus.RUNNING  # trial 1 still runs
    Experiment.objects.filter(trial__sweep=sweep, trial__number=1).update(status=Status.SUCCEEDED)
    driver.advance(sweep.pk)
    sweep = Sweep.objects.get(pk=sweep.pk)
    assert sweep.status == SweepStatus.FINISHED and sweep.trials.count() == 2 and sweep.finished_at
