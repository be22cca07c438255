"""The live stream /ws/experiments/<id>/ and the lists' /ws/experiments/.

Access is checked when a socket connects and again only when it can have changed: the user's
memberships change, a session logs out, or the experiment moves team (see `access_signals`, which send
"access.changed" to the user's group `user.<id>` or the experiment's group). Never per message: a
run watched by a hundred viewers would otherwise cost a hundred queries per message.

Messages arrive serialized once (`live.event`); epoch, status and log messages are always sent;
batch progress is rate-limited per socket (at most one frame every PROGRESS_INTERVAL seconds, the
newest one wins).
"""

from __future__ import annotations

import asyncio
import time

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.http import Http404

from webapp.experiments.access import experiment_for
from webapp.experiments.live import group_name, team_group_name, user_group_name
from webapp.teams.access import teams_of

DENIED = 4403
PROGRESS_INTERVAL = 0.5  # seconds between progress frames on one socket


class AccessChecked(AsyncJsonWebsocketConsumer):
    """Joins the user's group at connect; `access.changed` there (or in another joined group) asks
    `still_allowed()` again and closes the socket when the answer is no."""

    joined: list[str]

    async def join(self, *groups: str) -> None:
        user_group = user_group_name(self.scope["user"].pk)
        for group in (*groups, user_group):
            await self.channel_layer.group_add(group, self.channel_name)
            self.joined.append(group)

    async def disconnect(self, code: int) -> None:
        for group in getattr(self, "joined", []):
            await self.channel_layer.group_discard(group, self.channel_name)
        self.joined = []

    async def access_changed(self, event: dict) -> None:
        session = event.get("session")
        own_session = getattr(self.scope.get("session"), "session_key", None)
        if session is not None:  # a logout: only that session's sockets end
            if session == own_session:
                await self.deny()
            return
        if not await self.still_allowed():
            await self.deny()

    async def deny(self) -> None:
        await self.disconnect(DENIED)
        await self.close(code=DENIED)

    async def still_allowed(self) -> bool:
        raise NotImplementedError


def _authenticated(scope) -> bool:
    user = scope.get("user")
    return user is not None and user.is_authenticated


class ExperimentConsumer(AccessChecked):
    async def connect(self) -> None:
        self.experiment_id = self.scope["url_route"]["kwargs"]["pk"]
        self.joined = []
        # Highest epoch this connection has sent: history and live messages can overlap around a
        # backfill, and each epoch must reach the page exactly once.
        self.sent_epoch = 0
        self.last_progress = 0.0
        self.pending_progress: str | None = None
        self.progress_flush: asyncio.Task | None = None
        if not await self.still_allowed():
            await self.close(code=DENIED)
            return
        await self.join(group_name(self.experiment_id))
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if getattr(self, "progress_flush", None):
            self.progress_flush.cancel()
        await super().disconnect(code)

    @database_sync_to_async
    def still_allowed(self) -> bool:
        if not _authenticated(self.scope):
            return False
        try:
            experiment_for(self.scope["user"], self.experiment_id)
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
        try:
            history = await self.history(max(after, self.sent_epoch))
        except Http404:
            await self.deny()
            return
        self.sent_epoch = max(after, self.sent_epoch, *(row["epoch"] for row in history["history"]))
        await self.send_json(history)

    async def forward(self, event: dict) -> None:
        await self.send(text_data=event["text"])

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

    log_message = forward

    async def progress_message(self, event: dict) -> None:
        """At most one frame per PROGRESS_INTERVAL; one that comes sooner waits, and a newer one replaces it."""
        self.pending_progress = event["text"]
        if self.progress_flush is None or self.progress_flush.done():
            wait = self.last_progress + PROGRESS_INTERVAL - time.monotonic()
            if wait <= 0:
                await self._send_progress()
            else:
                self.progress_flush = asyncio.ensure_future(self._send_progress_after(wait))

    async def _send_progress_after(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
        await self._send_progress()

    async def _send_progress(self) -> None:
        text, self.pending_progress = self.pending_progress, None
        if text is not None:
            self.last_progress = time.monotonic()
            await self.send(text_data=text)


class ExperimentListConsumer(AccessChecked):
    """/ws/experiments/: tells a list page which experiments of the user's teams changed."""

    async def connect(self) -> None:
        self.joined = []
        self.team_ids: set[int] = set()
        if not await self.still_allowed():
            await self.close(code=DENIED)
            return
        await self.join(*(team_group_name(team_id) for team_id in self.team_ids))
        await self.accept()

    @database_sync_to_async
    def _team_ids(self) -> set[int] | None:
        if not _authenticated(self.scope):
            return None
        return set(teams_of(self.scope["user"]).values_list("pk", flat=True))

    async def still_allowed(self) -> bool:
        """The user's teams, read again, and their groups joined and left to match."""
        team_ids = await self._team_ids()
        if team_ids is None:
            return False
        if self.joined:  # connected: follow the change (at connect, `join` adds them all)
            for gone in self.team_ids - team_ids:
                await self.channel_layer.group_discard(team_group_name(gone), self.channel_name)
                self.joined.remove(team_group_name(gone))
            for new in team_ids - self.team_ids:
                await self.channel_layer.group_add(team_group_name(new), self.channel_name)
                self.joined.append(team_group_name(new))
        self.team_ids = team_ids
        return True

    async def experiment_changed(self, event: dict) -> None:
        if event["team"] in self.team_ids:
            await self.send_json(event["message"])
