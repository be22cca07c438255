"""What pages receive from a real run: every epoch exactly once, for every viewer, across reconnects."""

from __future__ import annotations

import asyncio

import pytest
from channels.db import database_sync_to_async

from tests.helpers import session_for, wait_until, ws_communicator
from webapp.experiments.models import EpochMetric, Experiment
from webapp.experiments.states import FINAL, Status
from webapp.experiments.tasks import enqueue

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

EPOCHS = 8


async def receive_until(communicator, done, timeout: float = 120) -> list[dict]:
    messages = []
    async with asyncio.timeout(timeout):
        while True:
            message = await communicator.receive_json_from(timeout=timeout)
            messages.append(message)
            if done(message, messages):
                return messages


def is_final(message, _messages) -> bool:
    return message["type"] in {"status", "history"} and message.get("status") in FINAL


def epochs_in(messages: list[dict]) -> list[int]:
    out = []
    for m in messages:
        if m["type"] == "epoch":
            out.append(m["metrics"]["epoch"])
        elif m["type"] == "history":
            out += [row["epoch"] for row in m["history"]]
    return out


def recorded_after(experiment_id: int, epoch: int) -> bool:
    """A later epoch is recorded, or the run has ended."""
    return (
        EpochMetric.objects.filter(experiment_id=experiment_id, epoch__gt=epoch).exists()
        or Experiment.objects.get(pk=experiment_id).status in FINAL
    )


async def connected(experiment_id: int, session: str):
    communicator = ws_communicator(experiment_id, session)
    ok, _ = await communicator.connect()
    assert ok
    return communicator


async def test_two_viewers_receive_the_same_complete_stream(celery_worker, make_experiment, owner, viewer):
    experiment = await database_sync_to_async(make_experiment)(epochs=EPOCHS)
    first = await connected(experiment.pk, await database_sync_to_async(session_for)(owner))
    second = await connected(experiment.pk, await database_sync_to_async(session_for)(viewer))
    await database_sync_to_async(enqueue)(experiment)
    a, b = await asyncio.gather(receive_until(first, is_final), receive_until(second, is_final))
    await first.disconnect()
    await second.disconnect()
    keep = lambda ms: [m for m in ms if m["type"] in {"epoch", "status"}]  # noqa: E731 (progress is throttled per sender, same for both)
    assert keep(a) == keep(b)
    assert epochs_in(a) == list(range(1, EPOCHS + 1))


async def test_a_page_that_reconnects_mid_run_ends_with_every_epoch_exactly_once(celery_worker, make_experiment, owner):
    experiment = await database_sync_to_async(make_experiment)(epochs=EPOCHS)
    session = await database_sync_to_async(session_for)(owner)
    page = await connected(experiment.pk, session)
    await page.send_json_to({"type": "backfill", "after_epoch": 0})
    await database_sync_to_async(enqueue)(experiment)
    before = await receive_until(page, lambda m, ms: m["type"] == "epoch" and m["metrics"]["epoch"] >= 2)
    await page.disconnect()  # the connection drops

    seen = max(epochs_in(before))
    await database_sync_to_async(wait_until)(  # epochs go on meanwhile: at least one is missed
        lambda: recorded_after(experiment.pk, seen), message=f"an epoch after {seen} to be recorded"
    )
    page = await connected(experiment.pk, session)
    await page.send_json_to({"type": "backfill", "after_epoch": seen})
    after = await receive_until(page, lambda m, ms: is_final(m, ms))
    await page.disconnect()

    received = epochs_in(before) + epochs_in(after)
    assert sorted(received) == list(range(1, EPOCHS + 1))
    assert len(received) == len(set(received))  # no duplicates
    rows = await database_sync_to_async(
        lambda: {r.epoch: r.to_dict() for r in EpochMetric.objects.filter(experiment_id=experiment.pk)}
    )()
    streamed = {m["metrics"]["epoch"]: m["metrics"] for m in before + after if m["type"] == "epoch"}
    streamed.update({row["epoch"]: row for m in after if m["type"] == "history" for row in m["history"]})
    assert streamed == rows
    status = await database_sync_to_async(lambda: Experiment.objects.get(pk=experiment.pk).status)()
    assert status == Status.SUCCEEDED


async def test_a_page_opened_mid_run_gets_history_then_live_epochs_without_overlap(
    celery_worker, make_experiment, owner
):
    experiment = await database_sync_to_async(make_experiment)(epochs=EPOCHS)
    session = await database_sync_to_async(session_for)(owner)
    await database_sync_to_async(enqueue)(experiment)

    await database_sync_to_async(wait_until)(
        lambda: recorded_after(experiment.pk, 0), interval=0.05, message="the first epoch to be recorded"
    )
    page = await connected(experiment.pk, session)
    await page.send_json_to({"type": "backfill", "after_epoch": 0})
    messages = await receive_until(page, is_final)
    await page.disconnect()
    assert messages[0]["type"] == "history" and messages[0]["history"]
    received = epochs_in(messages)
    assert received == list(range(1, EPOCHS + 1))
