"""A sweep survives a restart of its worker: the database is the source of truth.

This test runs its own worker process (not the session's), on queues of its own, so that it can stop
and start it."""

from __future__ import annotations

import pytest

from tests.helpers import Worker, wait_until
from tests.sweep_helpers import make_sweep, sweep_finished, trial_experiments
from webapp.experiments.models import EpochMetric, Experiment
from webapp.experiments.states import Status
from webapp.sweeps import driver

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_a_sweep_goes_on_after_its_worker_restarts_and_the_interrupted_trial_resumes(
    own_queues, owner, tiny_dataset, tmp_path
):
    from django.db import connection

    sweep = make_sweep(owner, tiny_dataset, {"lr": [0.01, 0.02]}, max_trials=2, config={"epochs": 10})
    worker = Worker(connection.settings_dict, tmp_path)
    try:
        worker.wait_ready()
        driver.send_advance(sweep)
        first = wait_until(
            lambda: Experiment.objects.filter(trial__sweep=sweep, checkpoint_epoch__gte=1).first(),
            message="the first trial to checkpoint an epoch",
        )
        worker.stop()  # a warm shutdown, as `docker compose restart` does
        first = Experiment.objects.get(pk=first.pk)
        # Back to the queue with its checkpoint (a redeploy is not a failure), for the next worker.
        assert first.status == Status.QUEUED and first.checkpoint_epoch, (first.status, first.error)
        stopped_at = first.checkpoint_epoch

        worker = Worker(connection.settings_dict, tmp_path)
        worker.wait_ready()
        sweep = sweep_finished(sweep, message_log=worker.read_log)
    finally:
        worker.stop()
    experiments = trial_experiments(sweep)
    assert sorted(e.config["lr"] for e in experiments) == [0.01, 0.02]
    for e in experiments:
        assert e.status == Status.SUCCEEDED, e.error
        epochs = list(EpochMetric.objects.filter(experiment=e).order_by("epoch").values_list("epoch", flat=True))
        assert epochs == list(range(1, 11))
    resumed = next(e for e in experiments if e.pk == first.pk)
    assert f"resuming after epoch {stopped_at}" in resumed.log
