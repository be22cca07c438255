"""Sending to an experiment's websocket group from outside a consumer (the worker, views).

Every message is {"type": <kind>, "experiment": <id>, ...payload}; the consumer has one handler
per kind and checks permission before it forwards anything.
"""
from __future__ import annotations

from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

KINDS = ("epoch", "status", "progress")


def group_name(experiment_id: int) -> str:
    return f"experiment.{experiment_id}"


def send(experiment_id: int, kind: str, payload: dict[str, Any]) -> None:
    if kind not in KINDS:
        raise ValueError(f"unknown live message kind {kind!r}")
    layer = get_channel_layer()
    async_to_sync(layer.group_send)(group_name(experiment_id), {
        "type": f"{kind}.message", "message": {"type": kind, "experiment": experiment_id, **payload},
    })


def send_epoch(experiment_id: int, metrics: dict[str, Any]) -> None:
    send(experiment_id, "epoch", {"metrics": metrics})


def send_status(experiment) -> None:
    send(experiment.pk, "status", {"status": experiment.status, "status_label": experiment.get_status_display(),
                                   "error": experiment.error, "test_metrics": experiment.test_metrics})


def send_progress(experiment_id: int, epoch: int, batch: int, batches: int, loss: float) -> None:
    send(experiment_id, "progress", {"epoch": epoch, "batch": batch, "batches": batches, "loss": loss})
