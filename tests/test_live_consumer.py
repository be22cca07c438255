"""The websocket /ws/experiments/<id>/: who may listen, and what a (re)connecting page gets."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async

from tests.helpers import session_for, ws_communicator
from webapp.experiments import live
from webapp.experiments.models import EpochMetric
from webapp.experiments.states import Status

pytestmark = pytest.mark.django_db(transaction=True)

METRICS = {
    "train_loss": 1.0,
    "train_acc": 0.5,
    "val_loss": 1.1,
    "val_acc": 0.45,
    "lr": 0.01,
    "seconds": 1.0,
    "images_per_sec": 100.0,
}


async def test_it_refuses_anonymous_users(make_experiment):
    experiment = await database_sync_to_async(make_experiment)()
    connected, code = await ws_communicator(experiment.pk).connect()
    assert not connected


async def test_it_refuses_users_outside_the_team(make_experiment, outsider):
    experiment = await database_sync_to_async(make_experiment)()
    session = await database_sync_to_async(session_for)(outsider)
    connected, _ = await ws_communicator(experiment.pk, session).connect()
    assert not connected


async def test_it_refuses_a_page_from_another_origin(make_experiment, owner):
    experiment = await database_sync_to_async(make_experiment)()
    session = await database_sync_to_async(session_for)(owner)
    connected, _ = await ws_communicator(experiment.pk, session, origin="http://evil.example").connect()
    assert not connected


async def test_a_viewer_of_the_team_receives_the_stream(make_experiment, viewer):
    experiment = await database_sync_to_async(make_experiment)()
    session = await database_sync_to_async(session_for)(viewer)
    communicator = ws_communicator(experiment.pk, session)
    connected, _ = await communicator.connect()
    assert connected
    await database_sync_to_async(live.send_epoch)(experiment.pk, {"epoch": 1, **METRICS})
    message = await communicator.receive_json_from(timeout=5)
    assert message == {"type": "epoch", "experiment": experiment.pk, "metrics": {"epoch": 1, **METRICS}}
    await communicator.disconnect()


async def test_backfill_returns_only_the_epochs_after_the_one_asked_for(make_experiment, owner):
    experiment = await database_sync_to_async(make_experiment)()
    for epoch in (1, 2, 3):
        await database_sync_to_async(EpochMetric.objects.create)(experiment=experiment, epoch=epoch, **METRICS)
    session = await database_sync_to_async(session_for)(owner)
    communicator = ws_communicator(experiment.pk, session)
    assert (await communicator.connect())[0]
    await communicator.send_json_to({"type": "backfill", "after_epoch": 1})
    message = await communicator.receive_json_from(timeout=5)
    assert message["type"] == "history"
    assert [row["epoch"] for row in message["history"]] == [2, 3]
    summary = await database_sync_to_async(experiment.summary_dict)()
    assert message == {
        "type": "history",
        "experiment": experiment.pk,
        **summary,
        "history": message["history"],
        "log": [],
    }
    assert message["status"] == Status.QUEUED and message["epochs"] == experiment.epochs
    await communicator.disconnect()


async def test_a_malformed_request_gets_an_error_message(make_experiment, owner):
    experiment = await database_sync_to_async(make_experiment)()
    session = await database_sync_to_async(session_for)(owner)
    communicator = ws_communicator(experiment.pk, session)
    assert (await communicator.connect())[0]
    await communicator.send_json_to({"type": "backfill", "after_epoch": "lots"})
    message = await communicator.receive_json_from(timeout=5)
    assert message["type"] == "error" and "after_epoch" in message["error"]
    await communicator.disconnect()


async def test_a_member_removed_from_the_team_stops_receiving(make_experiment, teammate, team):
    experiment = await database_sync_to_async(make_experiment)()
    session = await database_sync_to_async(session_for)(teammate)
    communicator = ws_communicator(experiment.pk, session)
    assert (await communicator.connect())[0]
    await database_sync_to_async(team.memberships.filter(user=teammate).delete)()
    await database_sync_to_async(live.send_epoch)(experiment.pk, {"epoch": 1, **METRICS})
    output = await communicator.receive_output(timeout=5)
    assert output["type"] == "websocket.close"


async def test_a_frame_that_is_not_json_gets_an_error_message(make_experiment, owner):
    experiment = await database_sync_to_async(make_experiment)()
    session = await database_sync_to_async(session_for)(owner)
    communicator = ws_communicator(experiment.pk, session)
    assert (await communicator.connect())[0]
    await communicator.send_to(text_data="{not json")
    message = await communicator.receive_json_from(timeout=5)
    assert message["type"] == "error"
    await communicator.disconnect()
