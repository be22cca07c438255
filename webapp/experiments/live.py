"""Sending live messages from outside a consumer (the worker, views).

Per experiment, to the group `experiment.<id>`: {"type": <kind>, "experiment": <id>, ...payload}
with kinds epoch (payload: "metrics", an EpochMetric's dictionary), status (the experiment's
`summary_dict()` and "started"), progress and log. Per team, to the group `team.<id>.experiments`:
{"type": "changed", "experiment": <id>, ...summary_dict()} of an experiment whose state changed, for
the lists. Per sweep, to the group `sweep.<id>`: {"type": "sweep", "sweep": <id>, ...} when the sweep
or one of its trials changed (the page reloads the sweep's data). Consumers have one handler per kind
and check permission before they forward anything.
"""

from __future__ import annotations

import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

KINDS = ("epoch", "status", "progress", "log")


def group_name(experiment_id: int) -> str:
    return f"experiment.{experiment_id}"


def team_group_name(team_id: int) -> str:
    return f"team.{team_id}.experiments"


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
    _group_send(
        sweep_group_name(sweep_id),
        {"type": "sweep.changed", "message": {"type": "sweep", "sweep": sweep_id, **payload}},
    )


def send(experiment_id: int, kind: str, payload: dict[str, Any]) -> None:
    if kind not in KINDS:
        raise ValueError(f"unknown live message kind {kind!r}")
    _group_send(
        group_name(experiment_id),
        {
            "type": f"{kind}.message",
            "message": {"type": kind, "experiment": experiment_id, **payload},
        },
    )


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
    send(experiment_id, "progress", {"epoch": epoch, "batch": batch, "batches": batches, "loss": loss})


def send_log(experiment_id: int, line: str) -> None:
    send(experiment_id, "log", {"line": line})
