"""Leases on rows that a worker is busy with (a running experiment, a processing dataset).

The holder renews `lease_expires_at` on its row from a thread beside the work (`Heartbeat`); a row
whose lease expired has lost its worker (killed, its machine gone) and a reaper takes it over. Every
change of holder is a compare-and-set on the row, so two workers never both believe they hold it.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import DatabaseError, close_old_connections, connection
from django.db.models import QuerySet
from django.utils import timezone

logger = logging.getLogger(__name__)


def new_holder(worker: str) -> str:
    """A holder id for one claim: the worker's name and a token of its own (a worker may claim twice)."""
    return f"{worker}/{uuid.uuid4().hex[:12]}"


def lease_until() -> datetime:
    return timezone.now() + timedelta(seconds=settings.TRAINYARD_LEASE_SECONDS)


class Heartbeat:
    """Renews the lease of the rows in `rows` (filtered on the holder) every TRAINYARD_HEARTBEAT_SECONDS.

    Best-effort: a database error is logged and retried at the next beat (the lease outlasts several).
    `lost` is set when the row no longer belongs to this holder (taken over, or finished by someone else)."""

    def __init__(self, rows: QuerySet, interval: float | None = None) -> None:
        self.rows = rows
        self.interval = settings.TRAINYARD_HEARTBEAT_SECONDS if interval is None else interval
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="lease-heartbeat", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _beat(self) -> None:
        try:
            while not self._stop.wait(self.interval):
                try:
                    renewed = self.rows.update(lease_expires_at=lease_until())
                except DatabaseError as exc:
                    logger.warning("lease renewal failed (retried at the next beat): %s", exc)
                    close_old_connections()
                    continue
                if not renewed:
                    self.lost.set()
                    return
        finally:
            connection.close()  # this thread's own connection


def run_periodically(name: str, interval: float, work: Callable[[], object], stop: threading.Event) -> threading.Thread:
    """Call `work` now and every `interval` seconds until `stop` is set, in a daemon thread; errors are logged."""

    def loop() -> None:
        try:
            while True:
                try:
                    work()
                except Exception:  # a blip must never end the loop
                    logger.exception("%s failed; trying again in %.0f s", name, interval)
                    close_old_connections()
                if stop.wait(interval):
                    return
        finally:
            connection.close()

    thread = threading.Thread(target=loop, name=name, daemon=True)
    thread.start()
    return thread
