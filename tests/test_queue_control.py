"""Cancel, resume, extend and priority, with a real worker process and real Redis."""

from __future__ import annotations

import pytest

from tests.helpers import finished, wait_until
from webapp.experiments.files import last_checkpoint_path
from webapp.experiments.models import EpochMetric, Experiment, Priority
from webapp.experiments.states import CancelOutcome, Status
from webapp.experiments.tasks import enqueue

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

LONG = 1000  # epochs: runs until a test cancels it (tiny data, well under a second per epoch)


def fresh(experiment: Experiment) -> Experiment:
    return Experiment.objects.get(pk=experiment.pk)


def wait_epochs(experiment: Experiment, n: int) -> None:
    wait_until(
        lambda: fresh(experiment).checkpoint_epoch is not None and fresh(experiment).checkpoint_epoch >= n,
        message=f"#{experiment.pk} to checkpoint epoch {n}",
    )


def epochs_of(experiment: Experiment) -> list[int]:
    return list(EpochMetric.objects.filter(experiment=experiment).order_by("epoch").values_list("epoch", flat=True))


@pytest.fixture(autouse=True)
def leave_the_worker_idle():
    yield
    Experiment.objects.filter(status=Status.QUEUED).update(status=Status.CANCELLED)
    Experiment.objects.filter(status=Status.RUNNING).update(cancel_requested=True)
    wait_until(
        lambda: not Experiment.objects.filter(status=Status.RUNNING).exists(), 60, message="the worker to go idle"
    )


def test_a_queued_experiment_that_is_cancelled_never_runs(celery_worker, make_experiment):
    busy = make_experiment(epochs=LONG)
    enqueue(busy)
    wait_until(lambda: fresh(busy).status == Status.RUNNING, message="the first run to start")
    waiting = make_experiment(epochs=1)
    enqueue(waiting)
    assert fresh(waiting).request_cancel() == CancelOutcome.CANCELLED
    busy.request_cancel()
    finished(busy)
    # The worker is free now; give the cancelled message time to be picked up and dropped.
    later = make_experiment(epochs=1)
    enqueue(later)
    assert finished(later).status == Status.SUCCEEDED
    waiting = fresh(waiting)
    assert waiting.status == Status.CANCELLED and waiting.started_at is None
    assert epochs_of(waiting) == []


def test_a_running_experiment_stops_at_the_next_batch_and_keeps_its_checkpoint(celery_worker, make_experiment):
    experiment = make_experiment(epochs=LONG)
    enqueue(experiment)
    wait_epochs(experiment, 2)
    assert fresh(experiment).request_cancel() == CancelOutcome.STOPPING
    experiment = finished(experiment)
    assert experiment.status == Status.CANCELLED
    k = experiment.checkpoint_epoch
    assert 2 <= k < LONG
    assert last_checkpoint_path(experiment.pk).exists()
    assert epochs_of(experiment) == list(range(1, k + 1))
    # The worker logs the final status right after writing it.
    wait_until(lambda: "cancelled" in fresh(experiment).log, 30, message=lambda: fresh(experiment).log)


def test_a_cancelled_experiment_resumes_from_its_checkpoint_without_redoing_epochs(celery_worker, make_experiment):
    experiment = make_experiment(epochs=LONG)
    enqueue(experiment)
    wait_epochs(experiment, 2)
    fresh(experiment).request_cancel()
    experiment = finished(experiment)
    k = experiment.checkpoint_epoch
    before = {row.epoch: (row.pk, row.train_loss) for row in EpochMetric.objects.filter(experiment=experiment)}

    # Resume with the remaining budget cut down, so the test does not wait for 1000 epochs.
    Experiment.objects.filter(pk=experiment.pk).update(config={**experiment.config, "epochs": k + 3})
    experiment = fresh(experiment)
    assert experiment.requeue()
    enqueue(experiment)
    experiment = finished(experiment)
    assert experiment.status == Status.SUCCEEDED, experiment.error
    assert epochs_of(experiment) == list(range(1, k + 4))  # k+1 .. k+3 added, none twice
    after = {row.epoch: (row.pk, row.train_loss) for row in EpochMetric.objects.filter(experiment=experiment)}
    assert {e: after[e] for e in before} == before  # the first k epochs were not run again
    assert f"resuming after epoch {k}" in experiment.log


def test_a_finished_experiment_trains_n_more_epochs(celery_worker, make_experiment):
    experiment = make_experiment(epochs=2)
    enqueue(experiment)
    experiment = finished(experiment)
    assert experiment.status == Status.SUCCEEDED and experiment.checkpoint_epoch == 2
    first = list(EpochMetric.objects.filter(experiment=experiment).values_list("pk", "train_loss"))

    assert experiment.requeue(extra_epochs=3)
    assert experiment.epochs == 5
    enqueue(experiment)
    experiment = finished(experiment)
    assert experiment.status == Status.SUCCEEDED, experiment.error
    assert epochs_of(experiment) == [1, 2, 3, 4, 5]
    assert (
        list(EpochMetric.objects.filter(experiment=experiment, epoch__lte=2).values_list("pk", "train_loss")) == first
    )
    assert experiment.checkpoint_epoch == 5


def test_with_one_busy_worker_a_high_priority_experiment_queued_after_a_low_one_starts_first(
    celery_worker, make_experiment
):
    from django.utils import timezone

    busy = make_experiment(epochs=LONG)
    enqueue(busy)
    wait_until(lambda: fresh(busy).status == Status.RUNNING, message="the first run to start")
    low = make_experiment(epochs=1)
    Experiment.objects.filter(pk=low.pk).update(priority=Priority.LOW, queued_at=timezone.now())
    low = fresh(low)
    enqueue(low)
    high = make_experiment(epochs=1)
    Experiment.objects.filter(pk=high.pk).update(priority=Priority.HIGH, queued_at=timezone.now())
    high = fresh(high)
    enqueue(high)
    assert (high.queue_position(), low.queue_position()) == (1, 2)

    busy.request_cancel()
    high, low = finished(high), finished(low)
    assert high.status == low.status == Status.SUCCEEDED
    assert high.started_at < low.started_at
