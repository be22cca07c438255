"""The live experiment stream: /ws/experiments/<id>/."""
from __future__ import annotations

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.http import Http404

from webapp.experiments.access import experiment_for
from webapp.experiments.live import group_name
from webapp.experiments.models import EpochMetric

DENIED = 4403


class ExperimentConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self) -> None:
        self.experiment_id = self.scope["url_route"]["kwargs"]["pk"]
        self.group = None
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
        experiment = experiment_for(self.scope["user"], self.experiment_id)
        rows = EpochMetric.objects.filter(experiment=experiment, epoch__gt=after_epoch).order_by("epoch")
        return {"type": "history", "experiment": experiment.pk, "status": experiment.status,
                "status_label": experiment.get_status_display(), "error": experiment.error,
                "test_metrics": experiment.test_metrics, "epochs": [row.to_dict() for row in rows]}

    async def receive_json(self, content, **kwargs) -> None:
        # {"type": "backfill", "after_epoch": n}: a (re)connecting page asks for what it missed.
        if not isinstance(content, dict) or content.get("type") != "backfill":
            await self.send_json({"type": "error", "error": "expected {\"type\": \"backfill\", \"after_epoch\": n}"})
            return
        after = content.get("after_epoch", 0)
        if isinstance(after, bool) or not isinstance(after, int) or after < 0:
            await self.send_json({"type": "error", "error": "after_epoch must be a whole number >= 0"})
            return
        if await self.allowed():
            await self.send_json(await self.history(after))
        else:
            await self.close(code=DENIED)

    async def forward(self, event: dict) -> None:
        # Membership can change while a page is open: check before every send.
        if await self.allowed():
            await self.send_json(event["message"])
        else:
            await self.close(code=DENIED)

    epoch_message = forward
    status_message = forward
    progress_message = forward
