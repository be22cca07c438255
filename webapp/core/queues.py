"""Broker queues, and sending a task to one once the transaction that made its work commits.

Experiments go to `gpu` or `cpu` by their device, or to `gpu-<class>` when they ask for a GPU class
(served by workers started with TRAINYARD_GPU_CLASS=<class>, which also serve `gpu`); dataset processing
goes to `datasets`, served by its own small worker so an upload never waits behind a training run.
"""

from __future__ import annotations

import base64
import json
from functools import partial
from typing import TYPE_CHECKING

from celery import Task
from django.conf import settings
from django.db import models, transaction

if TYPE_CHECKING:
    from training import TrainConfig


class Queue(models.TextChoices):
    GPU = "gpu", "GPU"
    CPU = "cpu", "CPU"
    DATASETS = "datasets", "Datasets"


TRAINING_QUEUES = (Queue.GPU, Queue.CPU)  # where experiments run; the rest is the datasets worker's
QUEUE_FOR_DEVICE = {"cuda": Queue.GPU, "cpu": Queue.CPU}  # `auto`: settings.TRAINYARD_AUTO_QUEUE


def queue_for(config: TrainConfig, gpu_class: str = "") -> Queue:
    """The queue whose workers can run this config (`gpu` whenever it asks for a GPU class)."""
    if gpu_class:
        return Queue.GPU
    return Queue(QUEUE_FOR_DEVICE.get(config.device, settings.TRAINYARD_AUTO_QUEUE))


def class_queue(gpu_class: str) -> str:
    """The queue of one GPU class: `gpu-a100`."""
    return f"{Queue.GPU.value}-{gpu_class}"


def route(queue: str, gpu_class: str = "") -> str:
    """The queue an experiment's message goes to: its GPU class's queue when it asked for one."""
    return class_queue(gpu_class) if gpu_class else queue


def serve_gpu_class(app) -> str | None:
    """In a worker started with TRAINYARD_GPU_CLASS that serves `gpu`: consume `gpu-<class>` as well, so
    experiments routed to that class reach it (celeryd_after_setup, before the worker consumes). Returns
    the class, or None where it serves no class."""
    gpu_class = settings.TRAINYARD_GPU_CLASS
    consumed = app.amqp.queues.consume_from or {}
    if not gpu_class or broker_queue(Queue.GPU) not in consumed:
        return None
    app.amqp.queues.select_add(broker_queue(class_queue(gpu_class)))
    return gpu_class


def broker_queue(queue: str) -> str:
    # A prefix keeps test sessions that share one Redis apart.
    return settings.TRAINYARD_QUEUE_PREFIX + queue


def send_after_commit(task: Task, *args, queue: str, priority: int | None = None) -> None:
    """Send `task(*args)` to `queue` once the current transaction commits (at once outside a transaction),
    so a worker never looks for a row that is not committed yet, and a rolled-back row sends nothing."""
    options = {"queue": broker_queue(queue)} | ({} if priority is None else {"priority": priority})
    transaction.on_commit(partial(task.apply_async, args=list(args), **options))


def pending_args(task: Task, queues: list[str]) -> set:
    """The first argument of every message for `task` that the broker holds for `queues` (waiting, or
    delivered and not yet acknowledged): what a restart of the broker must not have lost."""
    from webapp.celery import app

    with app.connection_for_write() as conn:
        channel = conn.default_channel
        names = {broker_queue(q) for q in queues}
        keys = [channel._q_for_pri(name, pri) for name in names for pri in channel.priority_steps]
        raw = [json.loads(m) for key in keys for m in channel.client.lrange(key, 0, -1)]
        # Unacknowledged messages of every queue share one hash: (message, exchange, routing key) each.
        unacked = [json.loads(v) for v in channel.client.hvals(channel.unacked_key)]
        raw += [message for message, _exchange, routing_key in unacked if routing_key in names]
    return {args[0] for m in raw if m.get("headers", {}).get("task") == task.name and (args := _message_args(m))}


def _message_args(message: dict) -> list:
    body = message["body"]
    if message.get("properties", {}).get("body_encoding") == "base64":
        body = base64.b64decode(body)
    return json.loads(body)[0]
