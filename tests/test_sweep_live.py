"""The websocket /ws/sweeps/<id>/: who may listen, and that a sweep on a real worker tells its page of
every trial's start, epochs and end."""

from __future__ import annotations

import asyncio

import pytest
from channels.db import database_sync_to_async

from tests.helpers import session_for
from tests.sweep_helpers import make_sweep, sweep_socket
from webapp.sweeps import driver

pytestmark = pytest.mark.django_db(transaction=True)


async def test_only_members_of_the_team_may_listen(owner, viewer, outsider, tiny_dataset):
    sweep = await database_sync_to_async(make_sweep)(owner, tiny_dataset, {"lr": [0.01]})
    for session in (None, await database_sync_to_async(session_for)(outsider)):
        refusing = sweep_socket(sweep.pk, session)
        connected, _ = await refusing.connect()
        await refusing.disconnect()  # the consumer ends here, not cancelled when the event loop closes
        assert not connected
    session = await database_sync_to_async(session_for)(viewer)
    communicator = sweep_socket(sweep.pk, session)
    connected, _ = await communicator.connect()
    assert connected
    await communicator.disconnect()


@pytest.mark.worker
async def test_the_page_hears_each_trial_start_its_epochs_and_its_end(celery_worker, owner, tiny_dataset):
    sweep = await database_sync_to_async(make_sweep)(
        owner, tiny_dataset, {"lr": [0.01, 0.02]}, max_trials=2, config={"epochs": 2}
    )
    session = await database_sync_to_async(session_for)(owner)
    communicator = sweep_socket(sweep.pk, session)
    assert (await communicator.connect())[0]
    await database_sync_to_async(driver.send_advance)(sweep)
    messages = []
    async with asyncio.timeout(240):
        while not (messages and messages[-1].get("status") == "finished"):
            messages.append(await communicator.receive_json_from(timeout=240))
    await communicator.disconnect()
    changes = [(m.get("trial"), m.get("change"), m.get("epoch")) for m in messages if "change" in m]
    for trial in (0, 1):
        assert [c for c in changes if c[0] == trial] == [
            (trial, "started", None),
            (trial, "epoch", 1),
            (trial, "epoch", 2),
            (trial, "finished", None),
        ]
    assert all(m["type"] == "sweep" and m["sweep"] == sweep.pk for m in messages)
