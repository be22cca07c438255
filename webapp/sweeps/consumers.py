"""The live sweep stream: /ws/sweeps/<id>/."""

from __future__ import annotations

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.http import Http404

from webapp.experiments.consumers import DENIED
from webapp.experiments.live import sweep_group_name
from webapp.sweeps.access import sweep_for


class SweepConsumer(AsyncJsonWebsocketConsumer):
    """/ws/sweeps/<id>/: tells the sweep's page that the sweep or one of its trials changed (the page then
    reloads the sweep's data). Team access is checked at connect and before every send."""

    async def connect(self) -> None:
        self.sweep_id = self.scope["url_route"]["kwargs"]["pk"]
        self.group = None
        if not await self.allowed():
            await self.close(code=DENIED)
            return
        self.group = sweep_group_name(self.sweep_id)
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
            sweep_for(user, self.sweep_id)
        except Http404:
            return False
        return True

    async def sweep_changed(self, event: dict) -> None:
        if await self.allowed():
            await self.send_json(event["message"])
        else:
            await self.close(code=DENIED)
