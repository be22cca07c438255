"""Sweeps on real worker processes: the driver task, the parallelism cap, grid, pruning, stop/resume."""

from __future__ import annotations

import itertools

import pytest

from tests.helpers import wait_until
from tests.sweep_helpers import active_trials, fresh, make_sweep, sweep_finished, trial_experiments
from training.search import widen_space
from webapp.experiments.files import last_checkpoint_path
from webapp.experiments.models import EpochMetric, Experiment
from webapp.experiments.states import ACTIVE, Status
from webapp.sweeps import driver
from webapp.sweeps.models import SweepStatus

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def leave_the_worker_idle():
    yield
    from webapp.sweeps.models import Sweep

    Sweep.objects.update(status=SweepStatus.STOPPED)
    Experiment.objects.filter(status=Status.QUEUED).update(status=Status.CANCELLED)
    Experiment.objects.filter(status=Status.RUNNING).update(cancel_requested=True)
    wait_until(
        lambda: not Experiment.objects.filter(status=Status.RUNNING).exists(), 60, message="the worker to go idle"
    )


def epochs_of(experiment: Experiment) -> list[int]:
    return list(EpochMetric.objects.filter(experiment=experiment).order_by("epoch").values_list("epoch", flat=True))


def test_a_grid_with_parallelism_3_runs_the_exact_cartesian_product_once_each_under_the_cap(
    celery_worker, owner, tiny_dataset
):
    space = {"lr": [0.01, 0.02, 0.05], "batch_size": [4, 8]}
    sweep = make_sweep(owner, tiny_dataset, space, max_trials=20, parallelism=3, config={"epochs": 1})
    most = []

    def watch():
        most.append(active_trials(sweep))
        assert most[-1] <= 3

    driver.send_advance(sweep)
    sweep = sweep_finished(sweep, watch=watch)
    experiments = trial_experiments(sweep)
    points = sorted((e.config["lr"], e.config["batch_size"]) for e in experiments)
    assert points == sorted(itertools.product([0.01, 0.02, 0.05], [4, 8]))
    assert [t.number for t in sweep.trial_rows()] == list(range(6))
    assert all(e.status == Status.SUCCEEDED for e in experiments), [e.error for e in experiments]
    assert max(most) >= 2  # trials were really handed out together, up to the cap


def test_a_hopeless_trial_is_pruned_at_its_first_rung_keeps_its_checkpoint_and_the_next_trial_starts(
    celery_worker, owner, tiny_dataset
):
    space = {"lr": [0.01, 10.0, 0.02]}
    sweep = make_sweep(
        owner,
        tiny_dataset,
        space,
        max_trials=3,
        pruner="asha",
        objective="val_loss",
        config={"epochs": 3, "optimizer": "sgd", "momentum": 0.9},
    )
    driver.send_advance(sweep)
    sweep = sweep_finished(sweep)
    good, hopeless, after = trial_experiments(sweep)
    assert hopeless.config["lr"] == 10.0
    assert hopeless.status == Status.PRUNED, (hopeless.status, hopeless.error)
    assert epochs_of(hopeless) == [1]
    assert "pruned" in hopeless.stop_reason or "rung" in hopeless.stop_reason, hopeless.stop_reason
    assert last_checkpoint_path(hopeless.pk).exists()
    assert good.status == Status.SUCCEEDED and epochs_of(good) == [1, 2, 3]
    assert after.started_at >= hopeless.finished_at  # the worker took the next trial once it stopped


EPOCHS = 60


def test_stop_drops_queued_trials_and_cancels_running_ones_and_resume_runs_each_trial_exactly_once(
    celery_worker, owner, tiny_dataset
):
    sweep = make_sweep(
        owner,
        tiny_dataset,
        {"lr": {"low": 0.005, "high": 0.05, "log": True}},
        method="random",
        max_trials=4,
        parallelism=2,
        config={"epochs": EPOCHS},  # long enough that a trial is still running when the sweep stops
    )
    driver.send_advance(sweep)
    wait_until(
        lambda: Experiment.objects.filter(trial__sweep=sweep, checkpoint_epoch__gte=1).exists(),
        message="a trial to checkpoint an epoch",
    )
    driver.stop(fresh(sweep))
    wait_until(lambda: active_trials(sweep) == 0, 60, message="the trials to stop")
    stopped = trial_experiments(sweep)
    assert len(stopped) == 2 and all(e.status == Status.CANCELLED for e in stopped)
    assert fresh(sweep).status == SweepStatus.STOPPED
    never_started = [e for e in stopped if e.started_at is None]
    interrupted = [e for e in stopped if e.started_at is not None]
    assert len(never_started) == 1 and len(interrupted) == 1
    checkpoint = interrupted[0].checkpoint_epoch

    assert driver.resume(fresh(sweep))
    sweep = sweep_finished(sweep)
    experiments = trial_experiments(sweep)
    assert [t.number for t in sweep.trial_rows()] == [0, 1, 2, 3]
    for e in experiments:
        assert e.status == Status.SUCCEEDED, e.error
        assert epochs_of(e) == list(range(1, EPOCHS + 1))
        # Each trial started from scratch once; the interrupted one went on from its checkpoint.
        assert e.log.count(" starting on ") == 1, e.log
    resumed = next(e for e in experiments if e.pk == interrupted[0].pk)
    assert f"resuming after epoch {checkpoint}" in resumed.log
    assert not Experiment.objects.filter(trial__sweep=sweep, status__in=ACTIVE).exists()


def test_a_finished_sweep_takes_more_trials_and_keeps_its_history(celery_worker, owner, tiny_dataset):
    sweep = make_sweep(owner, tiny_dataset, {"lr": [0.01, 0.02, 0.03]}, max_trials=1, config={"epochs": 1})
    driver.send_advance(sweep)
    first = sweep_finished(sweep)
    assert first.trials.count() == 1
    driver.add_trials(first, trials=5)  # a grid of 3 points: it stops once every point has run
    sweep = sweep_finished(sweep)
    assert sorted(e.config["lr"] for e in trial_experiments(sweep)) == [0.01, 0.02, 0.03]
    assert sweep.max_trials == 6


def test_a_finished_tpe_sweep_widened_keeps_its_trials_and_runs_new_ones_from_the_wider_range(
    celery_worker, owner, tiny_dataset
):
    space = {"lr": {"low": 0.01, "high": 0.02}}
    sweep = make_sweep(owner, tiny_dataset, space, method="tpe", max_trials=2, parallelism=2, config={"epochs": 1})
    driver.send_advance(sweep)
    first = sweep_finished(sweep)
    before = [(t.number, t.params, t.experiment_id) for t in first.trial_rows()]
    driver.widen(first, driver.Widening(widen_space(space, {"lr": {"high": 0.5}}), trials=2), by="alice")
    sweep = sweep_finished(sweep)
    rows = list(sweep.trial_rows())
    assert [(t.number, t.params, t.experiment_id) for t in rows[:2]] == before  # the history stays
    assert [t.number for t in rows] == [0, 1, 2, 3] and sweep.max_trials == 4
    assert all(t.experiment.status == Status.SUCCEEDED for t in rows), [t.experiment.error for t in rows]
    new = [t.experiment.config["lr"] for t in rows[2:]]
    assert all(0.01 <= lr <= 0.5 for lr in new) and any(lr > 0.02 for lr in new), new
    assert [entry["changes"] for entry in sweep.space_history] == [["lr: 0.01 to 0.02 -> 0.01 to 0.5"]]


def test_a_finished_grid_widened_runs_only_its_new_points(celery_worker, owner, tiny_dataset):
    sweep = make_sweep(owner, tiny_dataset, {"lr": [0.01, 0.02]}, max_trials=2, parallelism=2, config={"epochs": 1})
    driver.send_advance(sweep)
    first = sweep_finished(sweep)
    driver.widen(first, driver.Widening(widen_space(first.space, {"lr": [0.01, 0.02, 0.03]})))
    sweep = sweep_finished(sweep)
    assert sorted(e.config["lr"] for e in trial_experiments(sweep)) == [0.01, 0.02, 0.03]
    assert sweep.max_trials == 3 and sweep.status == SweepStatus.FINISHED
