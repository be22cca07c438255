"""GPU classes (`a100`, `h200`, ...): which ones experiments may ask for.

A worker started with TRAINYARD_GPU_CLASS=<class> serves the queue `gpu-<class>` (webapp.core.queues) and
announces its class in Redis while it runs; the form offers the classes announced lately and those
configured in TRAINYARD_GPU_CLASSES (for a class whose workers are not up yet)."""

from __future__ import annotations

import logging
import time

from django.conf import settings
from kombu.exceptions import OperationalError
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

SERVED: str | None = None  # this worker process's class, set when the worker is set up
ANNOUNCE_SECONDS = 60.0  # how often a worker says it is there
SEEN_SECONDS = 600.0  # a class no worker announced for this long is no longer offered


def _key() -> str:
    return f"trainyard:{settings.TRAINYARD_QUEUE_PREFIX}gpu-classes"


def _redis():
    from webapp.celery import app

    return app.connection_for_write()


def announce(gpu_class: str | None = None) -> None:
    """Record that a worker of `gpu_class` (this worker's, by default) is online now."""
    gpu_class = gpu_class or SERVED
    if not gpu_class:
        return
    with _redis() as conn:
        conn.default_channel.client.hset(_key(), gpu_class, str(time.time()))


def seen() -> set[str]:
    """Classes whose workers announced themselves within SEEN_SECONDS (none when Redis does not answer)."""
    try:
        with _redis() as conn:
            client = conn.default_channel.client
            found = client.hgetall(_key())
            stale_before = time.time() - SEEN_SECONDS
            stale = [name for name, at in found.items() if float(at) < stale_before]
            if stale:
                client.hdel(_key(), *stale)
    except (OSError, OperationalError, RedisError):
        logger.warning("Redis did not answer; offering only TRAINYARD_GPU_CLASSES", exc_info=True)
        return set()
    as_text = {(n.decode() if isinstance(n, bytes) else n) for n in found}
    return as_text - {(n.decode() if isinstance(n, bytes) else n) for n in stale}


def offered() -> list[str]:
    """The classes an experiment may ask for: configured ones, then those seen online."""
    configured = list(settings.TRAINYARD_GPU_CLASSES)
    return configured + sorted(seen() - set(configured))
