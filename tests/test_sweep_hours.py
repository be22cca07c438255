"""A sweep's hours budget (`max_hours`): the trials' training time added up (their epochs' seconds, not
the clock). Once it is used no new trial starts; raising it on a finished sweep continues it, like
raising the trial budget. The form and the API take it and refuse bad values by field; the page shows
the budget used. No worker: the driver runs here, as a worker would."""

from __future__ import annotations

import json

import pytest

from tests.helpers import TINY_CONFIG
from tests.sweep_helpers import fresh, make_sweep, sweep_form
from webapp.experiments.models import EpochMetric, Experiment
from webapp.experiments.states import Status
from webapp.sweeps import driver
from webapp.sweeps.models import Sweep, SweepStatus, Trial

pytestmark = pytest.mark.django_db
SPACE = {"lr": {"low": 0.001, "high": 0.1, "log": True}}


def post(client, url, data):
    return client.post(url, json.dumps(data), content_type="application/json")


def trained(sweep: Sweep, number: int, seconds: list[float], status: str = Status.SUCCEEDED) -> Trial:
    """A trial whose epochs took `seconds` each (rows only)."""
    experiment = Experiment.objects.create(
        team=sweep.team, owner=sweep.owner, dataset=sweep.dataset, name=f"t{number}", config=sweep.config, status=status
    )
    for epoch, took in enumerate(seconds, start=1):
        EpochMetric.objects.create(
            experiment=experiment,
            epoch=epoch,
            train_loss=1.0,
            train_acc=0.5,
            val_loss=1.0,
            val_acc=0.5,
            lr=0.01,
            seconds=took,
        )
    return Trial.objects.create(sweep=sweep, number=number, params={"lr": 0.01}, experiment=experiment)


def test_no_new_trial_starts_once_the_trials_training_time_reaches_the_hours_budget(owner, tiny_dataset):
    sweep = make_sweep(owner, tiny_dataset, SPACE, method="random", max_trials=10, parallelism=2, max_hours=0.01)
    trained(sweep, 0, [10.0, 10.0])  # 20 s of the 36 s budget
    started = driver.advance(sweep.pk)
    assert [t.number for t in started] == [1, 2]  # room left: trials start
    Experiment.objects.filter(trial__sweep=sweep, status=Status.QUEUED).update(status=Status.RUNNING)
    EpochMetric.objects.create(
        experiment=started[0].experiment,
        epoch=1,
        train_loss=1,
        train_acc=0.5,
        val_loss=1,
        val_acc=0.5,
        lr=0.01,
        seconds=17.0,
    )  # 37 s in all, counting the running trial's finished epoch
    Experiment.objects.filter(trial__sweep=sweep, trial__number=2).update(status=Status.SUCCEEDED)
    assert driver.advance(sweep.pk) == []  # a slot is free, but the hours are used
    assert fresh(sweep).status == SweepStatus.RUNNING  # trial 1 still runs: it finishes
    Experiment.objects.filter(trial__sweep=sweep).update(status=Status.SUCCEEDED)
    driver.advance(sweep.pk)
    sweep = fresh(sweep)
    assert sweep.status == SweepStatus.FINISHED and sweep.trials.count() == 3


def test_raising_the_hours_budget_of_a_finished_sweep_continues_it(
    client, owner, tiny_dataset, django_capture_on_commit_callbacks
):
    sweep = make_sweep(owner, tiny_dataset, SPACE, method="random", max_trials=10, max_hours=0.001)
    trained(sweep, 0, [2.0, 2.0])  # 4 s: over the 3.6 s budget
    driver.advance(sweep.pk)
    assert fresh(sweep).status == SweepStatus.FINISHED
    client.force_login(owner)
    with django_capture_on_commit_callbacks() as callbacks:
        response = post(client, f"/api/sweeps/{sweep.pk}/add/", {"max_hours": 0.5})
    assert response.status_code == 200, response.json()
    data = response.json()
    assert data["status"] == "running" and data["max_hours"] == 0.5 and data["max_trials"] == 10
    assert len(callbacks) == 1
    assert [t.number for t in driver.advance(sweep.pk)] == [1]
    # From the page as well: a new hours budget (and nothing else) is a valid raise.
    response = client.post(f"/sweeps/{sweep.pk}/add/", {"max_hours": "2"})
    assert response.status_code == 302 and fresh(sweep).max_hours == 2.0


def test_the_form_and_the_api_take_an_hours_budget_and_refuse_a_bad_one(client, owner, tiny_dataset):
    client.force_login(owner)
    response = client.post("/sweeps/new/", sweep_form(tiny_dataset, {"lr": [0.01, 0.02]}, max_hours="1.5"))
    assert response.status_code == 302, response.context["form"].errors
    assert Sweep.objects.get().max_hours == 1.5
    body = {"name": "api", "dataset": tiny_dataset.pk, "config": TINY_CONFIG, "space": SPACE, "method": "random"}
    body |= {"objective": "val_acc", "pruner": "none", "parallelism": 1}
    response = post(client, "/api/sweeps/", body | {"max_trials": 3, "max_hours": 0.25})
    assert response.status_code == 201, response.json()
    assert response.json()["max_hours"] == 0.25
    for bad, words in [(0, "greater than or equal to 0.001"), ("soon", "number"), (-1, "greater than")]:
        response = post(client, "/api/sweeps/", body | {"max_trials": 3, "max_hours": bad})
        assert response.status_code == 400 and words in " ".join(response.json()["errors"]["max_hours"])
        response = post(client, f"/api/sweeps/{Sweep.objects.first().pk}/add/", {"max_hours": bad})
        assert response.status_code == 400 and words in " ".join(response.json()["errors"]["max_hours"])
    page = client.post("/sweeps/new/", sweep_form(tiny_dataset, {"lr": [0.01, 0.02]}, max_hours="soon"))
    assert page.status_code == 200 and page.context["form"].errors["max_hours"]
    assert Sweep.objects.count() == 2


def test_the_page_and_the_api_show_the_budget_used(client, owner, tiny_dataset):
    sweep = make_sweep(owner, tiny_dataset, SPACE, method="random", max_trials=10, max_epochs=20, max_hours=0.5)
    trained(sweep, 0, [20.0, 20.0])
    trained(sweep, 1, [20.0], status=Status.PRUNED)
    client.force_login(owner)
    used = client.get(f"/api/sweeps/{sweep.pk}/").json()["budget_used"]
    assert (used["trials"], used["epochs"], round(used["hours"], 4)) == (2, 3, 0.0167)
    assert used["text"] == "2 of 10 trials · 3 of 20 epochs · 60 s of 30 min of training"
    page = client.get(f"/sweeps/{sweep.pk}/").content.decode()
    assert '<span id="budget-used">2 of 10 trials · 3 of 20 epochs · 60 s of 30 min of training</span>' in page
    assert "/ 0.5 h of training" in page


def test_the_cost_estimate_stops_at_the_hours_budget(client, owner, tiny_dataset):
    history = make_sweep(owner, tiny_dataset, SPACE, method="random")
    trained(history, 0, [100.0, 100.0])  # the team's finished run like this one: 100 s an epoch
    client.force_login(owner)
    form = sweep_form(tiny_dataset, {"lr": [0.01, 0.02, 0.03]}, epochs=3, max_trials=3)
    full = client.post("/sweeps/estimate/", form).json()
    assert full["epochs"] == 9 and full["seconds"] == pytest.approx(900)
    capped = client.post("/sweeps/estimate/", form | {"max_hours": "0.1"}).json()
    assert capped["seconds"] == pytest.approx(360) and "cut short by the budget of 6 min" in capped["text"]
