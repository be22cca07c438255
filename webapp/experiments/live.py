"""Sending live messages from outside a consumer (the worker, views).

Per experiment, to the group `experiment.<id>`: {"type": <kind>, "experiment": <id>, ...payload}
with kinds epoch (payload: "metrics", an EpochMetric's dictionary), status (the experiment's
`summary_dict()` and "started"), progress and log. Per team, to the group `team.<id>.experiments`:
{"type": "changed", "experiment": <id>, ...summary_dict()} of an experiment whose state changed, for
the lists. Per user, to the group `user.<id>`: {"type": "access.changed"} when their memberships
change or a session logs out, so open sockets check their access again (consumers check at connect
and then only when told, never per message).

A message is serialized once, here: the event carries its JSON text, which every consumer in the
group sends as is (100 viewers: one `json.dumps`, not 100).

The training thread never waits on the channel layer: `LiveSender` hands messages to a thread of
its own. Batch progress is coalesced there (the newest frame of an experiment replaces one not yet
sent); epoch, status and log messages are never dropped and keep their order.

Per sweep, to the group `sweep.<id>`: {"type": "sweep", "sweep": <id>, ...} when the sweep or one of
its trials changed (the page reloads the sweep's data).

Every send is best-effort: a Redis blip loses a frame (the pages backfill from the database), never a run.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import deque
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from redis.exceptions import RedisError

KINDS = ("epoch", "status", "progress", "log")
# Batch progress goes to an experiment's group at most this often: every frame sent to the group is
# fanned out by Redis to every watching socket's channel (100 viewers: 100 writes), whatever the
# per-socket limit then drops. Epoch, status and log messages are never throttled.
PROGRESS_PER_SECOND = 1.0
logger = logging.getLogger(__name__)


def group_name(experiment_id: int) -> str:
    return f"experiment.{experiment_id}"


def team_group_name(team_id: int) -> str:
    return f"team.{team_id}.experiments"


def user_group_name(user_id: int) -> str:
    return f"user.{user_id}"


def event(experiment_id: int, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
    """The channel-layer event for a message: the message (consumers read its epoch) and its JSON text."""
    if kind not in KINDS:
        raise ValueError(f"unknown live message kind {kind!r}")
    message = {"type": kind, "experiment": experiment_id, **payload}
    return {"type": f"{kind}.message", "message": message, "text": json.dumps(message)}


def _group_send(group: str, message: dict[str, Any]) -> None:
    """Best-effort: a Redis blip loses this frame (the page backfills from the database), never the run."""
    try:
        async_to_sync(get_channel_layer().group_send)(group, message)
    except (RedisError, OSError) as exc:
        logger.warning("live message to %s not sent: %s", group, exc)


def sweep_group_name(sweep_id: int) -> str:
    return f"sweep.{sweep_id}"


def send_sweep(sweep_id: int, payload: dict[str, Any]) -> None:
    """The sweep's page learns that the sweep (its status, or one of its trials) changed."""
    message = {"type": "sweep", "sweep": sweep_id, **payload}
    _group_send(sweep_group_name(sweep_id), {"type": "sweep.changed", "message": message})


def send(experiment_id: int, kind: str, payload: dict[str, Any]) -> None:
    _group_send(group_name(experiment_id), event(experiment_id, kind, payload))


def send_epoch(experiment_id: int, metrics: dict[str, Any]) -> None:
    send(experiment_id, "epoch", {"metrics": metrics})


def send_status(experiment, started: bool = False) -> None:
    """The experiment's page and its team's lists learn the new state. `started`: a worker has just
    (re)started the run, which redoes every epoch after `checkpoint_epoch`."""
    summary = experiment.summary_dict()
    send(experiment.pk, "status", {**summary, "started": started})
    _group_send(
        team_group_name(experiment.team_id),
        {
            "type": "experiment.changed",
            "team": experiment.team_id,
            "message": {"type": "changed", "experiment": experiment.pk, **summary},
        },
    )


def send_progress(experiment_id: int, epoch: int, batch: int, batches: int, loss: float) -> None:
    send(experiment_id, "progress", progress_payload(epoch, batch, batches, loss))


def progress_payload(epoch: int, batch: int, batches: int, loss: float) -> dict[str, Any]:
    return {"epoch": epoch, "batch": batch, "batches": batches, "loss": loss}


def send_log(experiment_id: int, line: str) -> None:
    send(experiment_id, "log", {"line": line})


def access_changed(user_id: int, session_key: str | None = None) -> None:
    """The user's open sockets check their access again (a session key: only that session's, at logout)."""
    _group_send(user_group_name(user_id), {"type": "access.changed", "session": session_key})


def experiment_access_changed(experiment_id: int) -> None:
    """Every socket on the experiment checks its access again (the experiment moved to another team)."""
    _group_send(group_name(experiment_id), {"type": "access.changed", "session": None})


class LiveSender:
    """Sends an experiment's live messages from a thread of its own, so the caller never blocks.

    `post` only queues; `close` waits until everything queued has gone out (call it before the
    final status, which must come after the last epoch)."""

    def __init__(self, experiment_id: int) -> None:
        self.experiment_id = experiment_id
        self._pending: deque[tuple[str, dict[str, Any]]] = deque()
        self._ready = threading.Condition()
        self._closed = False
        self.coalesced = 0  # progress frames replaced by a newer one before they were sent
        self._thread = threading.Thread(target=self._run, name=f"live-{experiment_id}", daemon=True)
        self._thread.start()

    def post(self, kind: str, payload: dict[str, Any]) -> None:
        with self._ready:
            if kind == "progress" and self._pending and self._pending[-1][0] == "progress":
                self._pending.pop()  # the newest progress wins; nothing else is ever dropped
                self.coalesced += 1
            self._pending.append((kind, payload))
            self._ready.notify()

    def _next(self) -> tuple[str, dict[str, Any]] | None:
        with self._ready:
            while not self._pending and not self._closed:
                self._ready.wait()
            return self._pending.popleft() if self._pending else None

    def _run(self) -> None:
        while (item := self._next()) is not None:
            try:
                send(self.experiment_id, *item)
            except Exception:  # a lost live message must never end the run; the page backfills from the database
                logger.warning("live %s message of experiment %s not sent", item[0], self.experiment_id, exc_info=True)

    def close(self, timeout: float = 30) -> None:
        with self._ready:
            self._closed = True
            self._ready.notify()
        self._thread.join(timeout)
