"""The live experiment stream: /ws/experiments/<id>/."""

from __future__ import annotations

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.http import Http404

from webapp.experiments.access import experiment_for
from webapp.experiments.live import group_name, team_group_name
from webapp.teams.access import teams_of

DENIED = 4403


class ExperimentConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self) -> None:
        self.experiment_id = self.scope["url_route"]["kwargs"]["pk"]
        self.group = None
        # Highest epoch this connection has sent: history and live messages can overlap around a
        # backfill, and each epoch must reach the page exactly once.
        self.sent_epoch = 0
        if not await self.allowed():
            await self.close(code=DENIED)
            return
        self.group = group_name(self.experiment_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    @database_sync_to_async
    def allowed(self) -> bool:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            return False
        try:
            experiment_for(user, self.experiment_id)
        except Http404:
            return False
        return True

    @database_sync_to_async
    def history(self, after_epoch: int) -> dict:
        """Its state (as status messages carry it), the epochs after `after_epoch` and the log's tail."""
        experiment = experiment_for(self.scope["user"], self.experiment_id)
        return {
            "type": "history",
            "experiment": experiment.pk,
            **experiment.summary_dict(),
            "history": experiment.history(after_epoch),
            "log": experiment.log_tail(),
        }

    @classmethod
    async def decode_json(cls, text_data):
        try:
            return await super().decode_json(text_data)
        except ValueError:
            return None  # answered with an error message below, the connection stays open

    async def receive_json(self, content, **kwargs) -> None:
        # {"type": "backfill", "after_epoch": n}: a (re)connecting page asks for what it missed.
        if not isinstance(content, dict) or content.get("type") != "backfill":
            await self.send_json({"type": "error", "error": 'expected {"type": "backfill", "after_epoch": n}'})
            return
        after = content.get("after_epoch", 0)
        if isinstance(after, bool) or not isinstance(after, int) or after < 0:
            await self.send_json({"type": "error", "error": "after_epoch must be a whole number >= 0"})
            return
        if await self.allowed():
            self.sent_epoch = max(after, self.sent_epoch)
            history = await self.history(self.sent_epoch)
            if history["history"]:
                self.sent_epoch = history["history"][-1]["epoch"]
            await self.send_json(history)
        else:
            await self.close(code=DENIED)

    async def forward(self, event: dict) -> None:
        # Membership can change while a page is open: check before every send.
        if await self.allowed():
            await self.send_json(event["message"])
        else:
            await self.close(code=DENIED)

    async def epoch_message(self, event: dict) -> None:
        epoch = event["message"]["metrics"]["epoch"]
        if epoch <= self.sent_epoch:
            return  # already sent with the history
        self.sent_epoch = epoch
        await self.forward(event)

    async def status_message(self, event: dict) -> None:
        # A resumed run redoes the epochs after its checkpoint: those may be sent again.
        if event["message"].get("started"):
            self.sent_epoch = min(self.sent_epoch, event["message"].get("checkpoint_epoch") or 0)
        await self.forward(event)

    progress_message = forward
    log_message = forward


class ExperimentListConsumer(AsyncJsonWebsocketConsumer):
    """/ws/experiments/: tells a list page which experiments of the user's teams changed."""

    async def connect(self) -> None:
        self.groups_joined: list[str] = []
        team_ids = await self.team_ids()
        if team_ids is None:
            await self.close(code=DENIED)
            return
        for team_id in team_ids:
            group = team_group_name(team_id)
            await self.channel_layer.group_add(group, self.channel_name)
            self.groups_joined.append(group)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        for group in self.groups_joined:
            await self.channel_layer.group_discard(group, self.channel_name)

    @database_sync_to_async
    def team_ids(self) -> list[int] | None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            return None
        return list(teams_of(user).values_list("pk", flat=True))

    async def experiment_changed(self, event: dict) -> None:
        # Still a member of that team? (checked before every send)
        team_ids = await self.team_ids()
        if team_ids is not None and event["team"] in team_ids:
            await self.send_json(event["message"])
