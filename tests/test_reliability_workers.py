"""Runs survive their worker: kill -9 and SIGTERM mid-epoch, duplicate delivery. Real worker processes,
real Redis, real database; leases short so the reaper acts within seconds."""

from __future__ import annotations

import contextlib
import re

import pytest

from tests.helpers import Worker, finished, wait_until
from webapp.core.queues import broker_queue
from webapp.experiments.models import EpochMetric, Experiment
from webapp.experiments.states import Status
from webapp.experiments.tasks import enqueue, run_experiment

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

FAST_LEASES = {
    "TRAINYARD_HEARTBEAT_SECONDS": "0.3",
    "TRAINYARD_LEASE_SECONDS": "3",
    "TRAINYARD_REAPER_SECONDS": "0.5",
}
LONG = 1000  # epochs: a run that cannot end before the test interrupts it


@pytest.fixture
def start_worker(django_db_setup, tmp_path, own_queues):
    """Start real worker processes with short leases; every one is stopped at the end."""
    from django.db import connection

    started: list[Worker] = []

    def start() -> Worker:
        worker = Worker(connection.settings_dict, tmp_path, env=FAST_LEASES)
        started.append(worker)
        worker.wait_ready()
        return worker

    yield start
    for worker in started:
        with contextlib.suppress(Exception):
            worker.stop()


def fresh(experiment: Experiment) -> Experiment:
    return Experiment.objects.get(pk=experiment.pk)


def wait_checkpoint(experiment: Experiment, epoch: int = 1) -> Experiment:
    return wait_until(
        lambda: (e := fresh(experiment)).checkpoint_epoch is not None and e.checkpoint_epoch >= epoch and e,
        message=f"#{experiment.pk} to checkpoint epoch {epoch}",
    )


def trained_once_each(experiment: Experiment) -> None:
    """Every epoch has one row; the log shows each stretch of training (split at "resuming after epoch k")
    going on in order, each resumed stretch from right after its checkpoint. A worker killed after it
    logged an epoch but before that epoch's checkpoint was stored trained it for nothing: that epoch is
    trained (and logged) again after the resume, and its row is the second one's."""
    rows = list(EpochMetric.objects.filter(experiment=experiment).order_by("epoch").values_list("epoch", flat=True))
    assert rows == list(range(1, experiment.epochs + 1))
    stretches = re.split(r"resuming after epoch (\d+)", experiment.log)
    starts = [0] + [int(k) for k in stretches[1::2]]
    trained = [[int(e) for e in re.findall(r"epoch (\d+)/\d+:", text)] for text in stretches[0::2]]
    for i, (start, epochs) in enumerate(zip(starts, trained, strict=True)):
        assert epochs == list(range(start + 1, start + 1 + len(epochs))), experiment.log
        if i + 1 < len(starts):
            assert starts[i + 1] <= start + len(epochs), experiment.log  # never resumed past what was trained
    assert starts[-1] + len(trained[-1]) == experiment.epochs, experiment.log


def cut_to(experiment: Experiment, epochs: int) -> None:
    """Shorten a long run's budget, so the test does not wait for all of LONG."""
    Experiment.objects.filter(pk=experiment.pk).update(config={**experiment.config, "epochs": epochs})


def test_a_run_whose_worker_is_killed_resumes_on_another_worker_by_itself(start_worker, make_experiment):
    experiment = make_experiment(epochs=LONG)
    first = start_worker()
    enqueue(experiment)
    wait_checkpoint(experiment)
    first.proc.kill()  # kill -9: no shutdown, no ack, the lease simply stops being renewed
    first.proc.wait()
    experiment = fresh(experiment)
    k = experiment.checkpoint_epoch
    assert experiment.status == Status.RUNNING  # until its lease runs out
    cut_to(experiment, k + 2)

    second = start_worker()
    experiment = finished(experiment)
    assert experiment.status == Status.SUCCEEDED, experiment.error
    assert experiment.restarts == 1 and experiment.worker == second.name
    assert "stopped renewing its lease" in experiment.log and "restart 1 of 3" in experiment.log
    assert f"resuming after epoch {k}" in experiment.log
    trained_once_each(experiment)


def test_sigterm_stops_at_the_next_batch_and_the_next_worker_continues(start_worker, make_experiment):
    experiment = make_experiment(epochs=LONG)
    first = start_worker()
    enqueue(experiment)
    wait_checkpoint(experiment)
    first.stop()  # SIGTERM: a deploy or `docker compose stop`
    assert first.proc.returncode == 0
    experiment = fresh(experiment)
    assert experiment.status == Status.QUEUED, experiment.error
    assert "the worker shut down during epoch" in experiment.log
    k = experiment.checkpoint_epoch
    cut_to(experiment, k + 2)

    second = start_worker()
    experiment = finished(experiment)
    assert experiment.status == Status.SUCCEEDED, experiment.error
    assert experiment.worker == second.name and f"resuming after epoch {k}" in experiment.log
    assert experiment.restarts == 0  # a redeploy is not a lost run
    trained_once_each(experiment)


def test_the_same_message_delivered_twice_at_once_runs_once(start_worker, make_experiment):
    experiment = make_experiment(epochs=3)
    start_worker(), start_worker()
    for _ in range(2):  # two copies of the message, one per worker
        run_experiment.apply_async(args=[experiment.pk], queue=broker_queue(experiment.queue))
    experiment = finished(experiment)
    assert experiment.status == Status.SUCCEEDED, experiment.error
    assert experiment.log.count("starting on") == 1 and experiment.restarts == 0
    trained_once_each(experiment)


def test_twenty_experiments_on_two_workers_all_complete_once(start_worker, make_experiment):
    experiments = [make_experiment(epochs=1) for _ in range(20)]
    names = {start_worker().name, start_worker().name}
    for experiment in experiments:
        enqueue(experiment)
    for experiment in experiments:
        experiment = finished(experiment, timeout=600)
        assert experiment.status == Status.SUCCEEDED, experiment.error
        assert experiment.worker in names and experiment.restarts == 0
        assert experiment.log.count("starting on") == 1  # none lost, none run twice
        trained_once_each(experiment)
