"""Leases on running experiments: the claim is a compare-and-set, the reaper requeues or fails lost runs,
and a resumed run trusts its checkpoint file (real database; the worker processes: test_reliability_workers)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from training import checkpoint as ckpt
from webapp.experiments.files import last_checkpoint_path
from webapp.experiments.models import EpochMetric, Experiment
from webapp.experiments.reaper import reap
from webapp.experiments.states import Status
from webapp.experiments.tasks import run_experiment

pytestmark = pytest.mark.django_db


def fresh(experiment: Experiment) -> Experiment:
    return Experiment.objects.get(pk=experiment.pk)


def expire(experiment: Experiment) -> None:
    Experiment.objects.filter(pk=experiment.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))


def test_a_claimed_run_holds_a_lease_that_a_duplicate_message_cannot_take(make_experiment):
    experiment = make_experiment()
    assert experiment.claim("w1@host", "w1@host/a")
    experiment = fresh(experiment)
    assert experiment.status == Status.RUNNING and experiment.lease_holder == "w1@host/a"
    assert experiment.lease_expires_at > timezone.now()
    # The same message delivered again (or to a second worker) while the lease is live: nothing.
    assert not fresh(experiment).claim("w2@host", "w2@host/b")
    assert fresh(experiment).lease_holder == "w1@host/a" and fresh(experiment).restarts == 0


def test_a_message_for_a_run_whose_lease_expired_takes_it_over_as_a_restart(make_experiment, settings):
    settings.TRAINYARD_MAX_RESTARTS = 1
    experiment = make_experiment()
    assert experiment.claim("w1@host", "w1@host/a")
    expire(experiment)
    assert fresh(experiment).claim("w2@host", "w2@host/b")
    experiment = fresh(experiment)
    assert (experiment.worker, experiment.lease_holder, experiment.restarts) == ("w2@host", "w2@host/b", 1)
    expire(experiment)
    assert not fresh(experiment).claim("w3@host", "w3@host/c")  # restarts used up: the reaper fails it


def test_the_reaper_requeues_a_lost_run_once_and_sends_its_task(make_experiment, django_capture_on_commit_callbacks):
    experiment = make_experiment()
    live = make_experiment()
    assert experiment.claim("w1@host", "w1@host/a") and live.claim("w1@host", "w1@host/b")
    Experiment.objects.filter(pk=experiment.pk).update(checkpoint_epoch=1)
    expire(experiment)
    with django_capture_on_commit_callbacks() as sent:
        assert reap() == [experiment.pk]
        assert reap() == []  # already back in the queue
    assert len(sent) == 1
    experiment = fresh(experiment)
    assert experiment.status == Status.QUEUED and experiment.restarts == 1 and experiment.lease_holder == ""
    assert "back to the queue, to resume from epoch 1 (restart 1 of 3)" in experiment.log
    assert fresh(live).status == Status.RUNNING  # its lease is live: left alone


def test_a_run_lost_more_often_than_max_restarts_fails_with_the_reason(make_experiment, settings):
    settings.TRAINYARD_MAX_RESTARTS = 2
    experiment = make_experiment()
    assert experiment.claim("w1@host", "w1@host/a")
    Experiment.objects.filter(pk=experiment.pk).update(restarts=2)
    expire(experiment)
    assert reap() == [experiment.pk]
    experiment = fresh(experiment)
    assert experiment.status == Status.FAILED and experiment.finished_at is not None
    assert "stopped renewing its lease" in experiment.error
    assert "TRAINYARD_MAX_RESTARTS=2" in experiment.error
    # A user's resume starts the count again.
    assert experiment.requeue() and fresh(experiment).restarts == 0


def test_a_user_resume_resets_nothing_but_the_restarts(make_experiment):
    experiment = make_experiment()
    Experiment.objects.filter(pk=experiment.pk).update(status=Status.FAILED, restarts=3)
    assert fresh(experiment).requeue()
    assert fresh(experiment).restarts == 0


@pytest.mark.django_db(transaction=True)
def test_resuming_with_a_missing_checkpoint_fails_with_a_clear_message(make_experiment):
    experiment = make_experiment()
    Experiment.objects.filter(pk=experiment.pk).update(checkpoint_epoch=1)
    assert run_experiment.apply(args=[experiment.pk]).get() == Status.FAILED
    experiment = fresh(experiment)
    assert "checkpoint of epoch 1" in experiment.error and "is missing" in experiment.error
    assert not EpochMetric.objects.filter(experiment=experiment).exists()  # nothing retrained from scratch


@pytest.mark.django_db(transaction=True)
def test_after_a_crash_between_checkpoint_file_and_row_the_file_epoch_is_trusted(make_experiment):
    experiment = make_experiment(epochs=2)
    assert run_experiment.apply(args=[experiment.pk]).get() == Status.SUCCEEDED
    path = last_checkpoint_path(experiment.pk)
    assert ckpt.load(path)["epoch"] == 2
    # As if the worker died after writing last.pt of epoch 2 but before the row said so.
    Experiment.objects.filter(pk=experiment.pk).update(checkpoint_epoch=1)
    experiment = fresh(experiment)
    assert experiment.requeue(extra_epochs=1)
    assert run_experiment.apply(args=[experiment.pk]).get() == Status.SUCCEEDED
    experiment = fresh(experiment)
    assert experiment.checkpoint_epoch == 3
    assert "resuming after epoch 2" in experiment.log
    assert list(EpochMetric.objects.filter(experiment=experiment).values_list("epoch", flat=True)) == [1, 2, 3]


@pytest.fixture
def purge_training_queues():
    """Messages this test leaves in Redis must not reach a worker of a later test."""
    yield
    from webapp.celery import app
    from webapp.core.queues import TRAINING_QUEUES, broker_queue

    with app.connection_for_write() as conn:
        for queue in TRAINING_QUEUES:
            conn.default_channel._purge(broker_queue(queue))


def test_queued_experiments_whose_message_was_lost_are_sent_again(
    make_experiment, purge_training_queues, django_capture_on_commit_callbacks
):
    from webapp.core.queues import pending_args
    from webapp.experiments.reaper import resend_lost
    from webapp.experiments.tasks import enqueue

    with_message, lost = make_experiment(), make_experiment()
    with django_capture_on_commit_callbacks(execute=True):
        enqueue(with_message)  # no worker consumes this queue in this test: the message waits in Redis
    assert with_message.pk in pending_args(run_experiment, ["cpu", "gpu"])
    with django_capture_on_commit_callbacks(execute=True):
        assert resend_lost() == [lost.pk]
    assert {with_message.pk, lost.pk} <= pending_args(run_experiment, ["cpu", "gpu"])
    assert "sent again" in fresh(lost).log and "sent again" not in fresh(with_message).log
    assert resend_lost() == []


@pytest.mark.django_db(transaction=True)
def test_extending_a_run_keeps_the_final_model_a_later_run_started_from(make_experiment, own_queues):
    from webapp.experiments import actions
    from webapp.experiments.files import final_model_path, versioned_model_path
    from webapp.experiments.tasks import _fit_keywords

    parent = make_experiment(epochs=2)
    assert run_experiment.apply(args=[parent.pk]).get() == Status.SUCCEEDED
    before = final_model_path(parent.pk).read_bytes()
    child = make_experiment(epochs=1)
    Experiment.objects.filter(pk=child.pk).delete()  # made again through the action, with init_from
    child.pk, child.init_from = None, fresh(parent)
    child = actions.create(child)
    assert child.init_from_epoch == 2

    parent = fresh(parent)
    assert parent.requeue(extra_epochs=1)
    assert run_experiment.apply(args=[parent.pk]).get() == Status.SUCCEEDED
    assert final_model_path(parent.pk).read_bytes() != before  # the extension's own final model
    assert versioned_model_path(parent.pk, 2).read_bytes() == before  # the one the child started from
    assert _fit_keywords(fresh(child))["init_from"] == versioned_model_path(parent.pk, 2)
    assert run_experiment.apply(args=[child.pk]).get() == Status.SUCCEEDED
