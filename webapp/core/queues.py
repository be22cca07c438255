"""Broker queue names. Experiments go to `gpu` or `cpu` by their device; dataset processing goes to
`datasets`, served by its own small worker so an upload never waits behind a training run."""

from __future__ import annotations

from django.conf import settings

GPU, CPU, DATASETS = "gpu", "cpu", "datasets"


def broker_queue(queue: str) -> str:
    # A prefix keeps test sessions that share one Redis apart.
    return settings.TRAINYARD_QUEUE_PREFIX + queue
