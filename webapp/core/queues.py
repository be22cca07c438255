"""Broker queues, and sending a task to one once the transaction that made its work commits.

Experiments go to `gpu` or `cpu` by their device; dataset processing goes to `datasets`, served by
its own small worker so an upload never waits behind a training run.
"""

from __future__ import annotations

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


def queue_for(config: TrainConfig) -> Queue:
    """The queue whose workers can run this config."""
    return Queue(QUEUE_FOR_DEVICE.get(config.device, settings.TRAINYARD_AUTO_QUEUE))


def broker_queue(queue: str) -> str:
    # A prefix keeps test sessions that share one Redis apart.
    return settings.TRAINYARD_QUEUE_PREFIX + queue


def send_after_commit(task: Task, *args, queue: str, priority: int | None = None) -> None:
    """Send `task(*args)` to `queue` once the current transaction commits (at once outside a transaction),
    so a worker never looks for a row that is not committed yet, and a rolled-back row sends nothing."""
    options = {"queue": broker_queue(queue)} | ({} if priority is None else {"priority": priority})
    transaction.on_commit(partial(task.apply_async, args=list(args), **options))
