"""A hundred people watching one run: 100 real websocket clients against a live ASGI server (Daphne,
Redis channel layer) all get every epoch exactly once; a viewer removed from the team is cut off."""

from __future__ import annotations

import asyncio
import json
import os
import uuid

import pytest
import websockets
from django.contrib.auth import get_user_model

from tests.browser import BrowserTestCase
from tests.conftest import PASSWORD
from tests.helpers import TINY_CONFIG, folder_dataset, session_for, settings_cookie_name
from training import TrainConfig
from webapp.experiments import live
from webapp.experiments.models import Experiment
from webapp.teams.models import Role, Team

WATCHERS = int(os.environ.get("WATCHERS", 100))
EPOCHS = 5
METRICS = {"train_loss": 1.0, "train_acc": 0.5, "val_loss": 1.1, "val_acc": 0.4, "lr": 0.01, "seconds": 1.0}


class Watcher:
    """One browser tab: a real websocket connection with its own session cookie."""

    def __init__(self, url: str, session: str) -> None:
        self.url, self.session = url, session
        self.messages: list[dict] = []
        self.closed_with: int | None = None

    async def open(self):
        headers = {"Cookie": f"{settings_cookie_name()}={self.session}", "Origin": "http://localhost"}
        self.socket = await websockets.connect(self.url, additional_headers=headers, open_timeout=60)
        return self

    async def listen(self) -> None:
        try:
            async for frame in self.socket:
                self.messages.append(json.loads(frame))
        except websockets.ConnectionClosed:
            pass
        self.closed_with = self.socket.close_code

    def epochs(self) -> list[int]:
        return [m["metrics"]["epoch"] for m in self.messages if m["type"] == "epoch"]


async def until(predicate, timeout: float = 120, what=lambda: "") -> None:
    try:
        async with asyncio.timeout(timeout):
            while not predicate():
                await asyncio.sleep(0.05)
    except TimeoutError:
        raise AssertionError(f"timed out: {what()}") from None


@pytest.mark.browser
class HundredWatchers(BrowserTestCase):
    def setUp(self) -> None:
        team = Team.objects.create(name="Review")
        users = get_user_model().objects
        self.owner = users.create_user("olga", password=PASSWORD)
        self.viewer = users.create_user("vic", password=PASSWORD)
        team.add_member(self.owner, Role.OWNER)
        team.add_member(self.viewer, Role.VIEWER)
        self.team = team
        dataset = folder_dataset(team, name=f"Colors {uuid.uuid4().hex[:8]}")
        self.experiment = Experiment.objects.create(
            team=team,
            owner=self.owner,
            dataset=dataset,
            name="watched",
            config=TrainConfig.from_dict(TINY_CONFIG).to_dict(),
        )
        # Many tabs of the owner, one of the viewer (who will be removed).
        self.sessions = [session_for(self.owner) for _ in range(WATCHERS - 1)] + [session_for(self.viewer)]

    def test_every_watcher_gets_every_epoch_once_and_a_removed_viewer_is_cut_off(self) -> None:
        asyncio.run(self.watch())

    async def watch(self) -> None:
        url = f"{self.live_server_ws_url}/ws/experiments/{self.experiment.pk}/"
        watchers = list(await asyncio.gather(*(Watcher(url, s).open() for s in self.sessions)))
        listening = [asyncio.ensure_future(w.listen()) for w in watchers]
        removed, others = watchers[-1], watchers[:-1]
        sender = live.LiveSender(self.experiment.pk)
        for epoch in range(1, EPOCHS + 1):
            for batch in range(1, 21):  # progress faster than any page needs: coalesced and rate-limited
                sender.post("progress", live.progress_payload(epoch, batch, 20, 0.5))
            sender.post("epoch", {"metrics": {"epoch": epoch, **METRICS}})
            if epoch == 3:
                await until(
                    lambda: all(w.epochs()[-1:] == [3] for w in watchers), what=lambda: [w.epochs() for w in watchers]
                )
                await asyncio.to_thread(lambda: self.team.memberships.filter(user=self.viewer).delete())
                await until(lambda: removed.closed_with is not None)  # within moments, not at the next message
        await asyncio.to_thread(sender.close)
        await until(lambda: all(w.epochs()[-1:] == [EPOCHS] for w in others))
        for w in others:
            await w.socket.close()
        await asyncio.gather(*listening)

        for w in others:
            assert w.epochs() == list(range(1, EPOCHS + 1))
            progress = [m for m in w.messages if m["type"] == "progress"]
            assert 1 <= len(progress) < EPOCHS * 20  # rate-limited, never all 100 frames
            assert all(m["experiment"] == self.experiment.pk for m in w.messages)
        assert removed.epochs() == [1, 2, 3]
        assert removed.closed_with == 4403
