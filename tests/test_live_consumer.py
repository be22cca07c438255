"""The websocket /ws/experiments/<id>/: who may listen, and what a (re)connecting page gets."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async

from tests.helpers import session_for, settings_cookie_name, ws_communicator
from webapp.experiments import live
from webapp.experiments.models import EpochMetric, Experiment
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
    communicator = ws_communicator(experiment.pk)
    connected, _ = await communicator.connect()
    await communicator.disconnect()  # the application ends here, not when the test's event loop closes
    assert not connected


async def test_it_refuses_users_outside_the_team(make_experiment, outsider):
    experiment = await database_sync_to_async(make_experiment)()
    session = await database_sync_to_async(session_for)(outsider)
    communicator = ws_communicator(experiment.pk, session)
    connected, _ = await communicator.connect()
    await communicator.disconnect()
    assert not connected


async def test_it_refuses_a_page_from_another_origin(make_experiment, owner):
    experiment = await database_sync_to_async(make_experiment)()
    session = await database_sync_to_async(session_for)(owner)
    communicator = ws_communicator(experiment.pk, session, origin="http://evil.example")
    connected, _ = await communicator.connect()
    await communicator.disconnect()
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
    await communicator.disconnect()
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


async def test_signing_out_ends_that_sessions_stream_only(make_experiment, owner):
    from django.test import Client

    experiment = await database_sync_to_async(make_experiment)()
    browser = Client()
    await database_sync_to_async(browser.force_login)(owner)
    leaving = ws_communicator(experiment.pk, browser.cookies[settings_cookie_name()].value)
    staying = ws_communicator(experiment.pk, await database_sync_to_async(session_for)(owner))
    assert (await leaving.connect())[0] and (await staying.connect())[0]
    await database_sync_to_async(browser.logout)()
    assert (await leaving.receive_output(timeout=5))["type"] == "websocket.close"
    await leaving.disconnect()
    await database_sync_to_async(live.send_epoch)(experiment.pk, {"epoch": 1, **METRICS})
    assert (await staying.receive_json_from(timeout=5))["type"] == "epoch"
    await staying.disconnect()


async def test_moving_the_experiment_to_another_team_cuts_off_the_old_teams_viewers(
    make_experiment, viewer, other_team
):
    experiment = await database_sync_to_async(make_experiment)()
    communicator = ws_communicator(experiment.pk, await database_sync_to_async(session_for)(viewer))
    assert (await communicator.connect())[0]

    def move() -> None:
        moved = Experiment.objects.get(pk=experiment.pk)
        moved.team = other_team
        moved.save()

    await database_sync_to_async(move)()
    closed = await communicator.receive_output(timeout=5)
    await communicator.disconnect()
    assert closed["type"] == "websocket.close"


def list_communicator(session_key: str):
    from channels.testing import WebsocketCommunicator

    from webapp.asgi import application

    headers = [(b"origin", b"http://localhost"), (b"host", b"localhost")]
    headers.append((b"cookie", f"{settings_cookie_name()}={session_key}".encode()))
    return WebsocketCommunicator(application, "/ws/experiments/", headers=headers)


async def test_the_list_stream_follows_the_users_teams_without_asking_per_message(
    make_experiment, teammate, team, other_team
):
    experiment = await database_sync_to_async(make_experiment)()
    communicator = list_communicator(await database_sync_to_async(session_for)(teammate))
    assert (await communicator.connect())[0]
    await database_sync_to_async(live.send_status)(experiment)
    assert (await communicator.receive_json_from(timeout=5))["experiment"] == experiment.pk

    await database_sync_to_async(other_team.add_member)(teammate)  # joined a team: its changes come too
    await communicator.receive_nothing(timeout=1)  # the socket has caught up with the change

    def other_experiment():
        moved = make_experiment()
        Experiment.objects.filter(pk=moved.pk).update(team=other_team)
        return Experiment.objects.get(pk=moved.pk)

    theirs = await database_sync_to_async(other_experiment)()
    await database_sync_to_async(live.send_status)(theirs)
    assert (await communicator.receive_json_from(timeout=5))["experiment"] == theirs.pk

    await database_sync_to_async(team.memberships.filter(user=teammate).delete)()  # left the first team
    await communicator.receive_nothing(timeout=1)
    await database_sync_to_async(live.send_status)(experiment)
    assert await communicator.receive_nothing(timeout=1)
    await communicator.disconnect()
    await communicator.disconnect()
