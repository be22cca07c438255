"""GPU classes (`a100`, `h200`, ...): which ones experiments may ask for.

A worker started with TRAINYARD_GPU_CLASS=<class> serves the queue `gpu-<class>` (webapp.core.queues) and
announces its class in Redis while it runs; the form offers the classes announced lately and those
configured in TRAINYARD_GPU_CLASSES (for a class whose workers are not up yet)."""

from __future__ import annotations

import functools
import logging
import time

import redis
from django.conf import settings
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

SERVED: str | None = None  # this worker process's class, set when the worker is set up
ANNOUNCE_SECONDS = 60.0  # how often a worker says it is there
SEEN_SECONDS = 600.0  # a class no worker announced for this long is no longer offered


def _key() -> str:
    return f"trainyard:{settings.TRAINYARD_QUEUE_PREFIX}gpu-classes"


@functools.cache
def _client(url: str) -> redis.Redis:
    # Short timeouts: the experiment form asks on every render, and must not hang on a Redis that is down.
    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2, decode_responses=True)


def _redis() -> redis.Redis:
    return _client(settings.REDIS_URL)


def announce(gpu_class: str | None = None) -> None:
    """Record that a worker of `gpu_class` (this worker's, by default) is online now."""
    gpu_class = gpu_class or SERVED
    if gpu_class:
        _redis().hset(_key(), gpu_class, str(time.time()))


def seen() -> set[str]:
    """Classes whose workers announced themselves within SEEN_SECONDS (none when Redis does not answer)."""
    try:
        found = _redis().hgetall(_key())
        stale = [name for name, at in found.items() if float(at) < time.time() - SEEN_SECONDS]
        if stale:
            _redis().hdel(_key(), *stale)
    except (OSError, RedisError):
        logger.warning("Redis did not answer; offering only TRAINYARD_GPU_CLASSES", exc_info=True)
        return set()
    return set(found) - set(stale)


def offered() -> list[str]:
    """The classes an experiment may ask for: configured ones, then those seen online."""
    configured = list(settings.TRAINYARD_GPU_CLASSES)
    return configured + sorted(seen() - set(configured))
