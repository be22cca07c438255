"""End to end through a real Celery worker process, real Redis and the real channel layer."""

from __future__ import annotations

import asyncio

import pytest
from channels.db import database_sync_to_async

from tests.helpers import finished, session_for, ws_communicator
from webapp.experiments.models import EpochMetric, Experiment
from webapp.experiments.states import FINAL, Status
from webapp.experiments.tasks import enqueue

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


async def collect_until_final(communicator, timeout: float = 120) -> list[dict]:
    messages = []
    async with asyncio.timeout(timeout):
        while True:
            message = await communicator.receive_json_from(timeout=timeout)
            messages.append(message)
            if message["type"] == "status" and message["status"] in FINAL:
                return messages


async def test_an_experiment_trains_on_the_worker_and_streams_every_epoch(celery_worker, make_experiment, owner):
    experiment = await database_sync_to_async(make_experiment)(epochs=2)
    session = await database_sync_to_async(session_for)(owner)
    communicator = ws_communicator(experiment.pk, session)
    assert (await communicator.connect())[0]

    await database_sync_to_async(enqueue)(experiment)
    messages = await collect_until_final(communicator)
    await communicator.disconnect()

    experiment = await database_sync_to_async(Experiment.objects.get)(pk=experiment.pk)
    assert experiment.status == Status.SUCCEEDED, experiment.error
    rows = await database_sync_to_async(
        lambda: [r.to_dict() for r in EpochMetric.objects.filter(experiment=experiment)]
    )()
    assert [r["epoch"] for r in rows] == [1, 2]
    streamed = [m["metrics"] for m in messages if m["type"] == "epoch"]
    assert streamed == rows  # the same values the page would have loaded from the database
    statuses = [m["status"] for m in messages if m["type"] == "status"]
    assert statuses == [Status.RUNNING, Status.SUCCEEDED]
    assert messages[-1] == {
        "type": "status",
        "experiment": experiment.pk,
        **experiment.summary_dict(),
        "started": False,
    }
    assert any(m["type"] == "progress" for m in messages)
    assert 0 <= experiment.test_metrics["accuracy"] <= 1
    assert experiment.worker == celery_worker.name


async def test_a_failing_run_ends_failed_with_the_reason(celery_worker, make_experiment, owner, tiny_dataset):
    experiment = await database_sync_to_async(make_experiment)()
    # The dataset's files vanish from under it (a broken share, say): the run must fail with a reason.
    tiny_dataset.root = "datasets/test/no-such-folder"
    await database_sync_to_async(tiny_dataset.save)()
    session = await database_sync_to_async(session_for)(owner)
    communicator = ws_communicator(experiment.pk, session)
    assert (await communicator.connect())[0]
    await database_sync_to_async(enqueue)(experiment)
    messages = await collect_until_final(communicator)
    await communicator.disconnect()
    final = messages[-1]
    assert final["status"] == Status.FAILED
    assert "no-such-folder" in final["error"]
    experiment = await database_sync_to_async(Experiment.objects.get)(pk=experiment.pk)
    assert experiment.status == Status.FAILED and "no-such-folder" in experiment.error


def test_a_message_for_an_experiment_that_is_not_queued_does_nothing(celery_worker, make_experiment):
    experiment = make_experiment()
    Experiment.objects.filter(pk=experiment.pk).update(status=Status.CANCELLED)
    enqueue(experiment)
    # A queued experiment sent after it runs on the same single worker, so once it has finished the
    # earlier message has been handled.
    later = make_experiment(epochs=1)
    enqueue(later)
    assert finished(later, 120).status == Status.SUCCEEDED
    assert Experiment.objects.get(pk=experiment.pk).status == Status.CANCELLED
    assert not EpochMetric.objects.filter(experiment=experiment).exists()
