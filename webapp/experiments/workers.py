"""Online workers, from Celery's own remote inspection (ping, stats, active queues, active tasks) and
a custom inspect command that reports each worker's device (registered by the app's `ready()`)."""

from __future__ import annotations

import os
import platform
from typing import Any

from celery.worker.control import inspect_command
from django.conf import settings

from webapp.celery import app
from webapp.core.queues import class_queue
from webapp.experiments import gpu_classes
from webapp.experiments.access import experiments_for
from webapp.experiments.tasks import run_experiment

GPU_CLASS_QUEUE = class_queue("")  # "gpu-"


def register_inspect_commands() -> None:
    """Make `trainyard_device` answerable by every worker process (called from ExperimentsConfig.ready)."""
    inspect_command()(trainyard_device)


def trainyard_device(state) -> dict[str, Any]:
    """Runs inside the worker: what it trains on."""
    import torch

    if torch.cuda.is_available():
        gpus = []
        for i in range(torch.cuda.device_count()):
            props = torch.cuda.get_device_properties(i)
            gpus.append({"index": i, "name": props.name, "memory_gb": round(props.total_memory / 2**30, 1)})
        return {"device": "cuda", "gpus": gpus, "host": platform.node(), "gpu_class": gpu_classes.SERVED or ""}
    return {"device": "cpu", "gpus": [], "cpus": os.cpu_count(), "host": platform.node(), "gpu_class": ""}


def _strip_prefix(queue: str) -> str:
    prefix = settings.TRAINYARD_QUEUE_PREFIX
    return queue[len(prefix) :] if prefix and queue.startswith(prefix) else queue


def _pool_name(implementation: str) -> str:
    # "celery.concurrency.thread:TaskPool" -> "thread"
    return implementation.split(":")[0].rsplit(".", 1)[-1]


def _duration(seconds: int) -> str:
    minutes, sec = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    return (
        f"{days}d {hours}h"
        if days
        else f"{hours}h {minutes}m"
        if hours
        else f"{minutes}m {sec}s"
        if minutes
        else f"{sec}s"
    )


def online_workers(timeout: float = 1.0) -> list[dict[str, Any]]:
    """One dict per worker that answered: name, host, device (GPU models and memory), queues, GPU classes,
    pool, uptime, running experiment ids."""
    inspect = app.control.inspect(timeout=timeout)
    stats = inspect.stats() or {}
    if not stats:
        return []
    names = list(stats)
    inspect = app.control.inspect(destination=names, timeout=timeout)
    queues = inspect.active_queues() or {}
    active = inspect.active() or {}
    devices = inspect._request(trainyard_device.__name__) or {}
    prefix = settings.TRAINYARD_QUEUE_PREFIX
    workers = []
    for name in sorted(names):
        worker_queues = [q["name"] for q in queues.get(name, [])]
        if prefix and not any(q.startswith(prefix) for q in worker_queues):
            continue  # a worker of another site (or test session) sharing this Redis
        running = [
            task["args"][0]
            for task in active.get(name, [])
            if task.get("name") == run_experiment.name and task.get("args")
        ]
        info = stats[name]
        served = [_strip_prefix(q) for q in worker_queues]
        workers.append(
            {
                "name": name,
                "host": name.split("@", 1)[-1],
                "queues": served,
                # The classes whose queue it serves (a worker of TRAINYARD_GPU_CLASS=a100 serves gpu-a100).
                "gpu_classes": [q.removeprefix(GPU_CLASS_QUEUE) for q in served if q.startswith(GPU_CLASS_QUEUE)],
                "device": devices.get(name, {}),
                "pool": _pool_name(info.get("pool", {}).get("implementation", "")),
                "concurrency": info.get("pool", {}).get("max-concurrency"),
                "uptime": info.get("uptime"),
                "uptime_text": _duration(info.get("uptime") or 0),
                "pid": info.get("pid"),
                "running": running,
            }
        )
    return workers


def workers_seen_by(user) -> list[dict[str, Any]]:
    """The online workers, each with "experiments": what it runs, as Experiment rows where `user` may see
    them and None where not (another team's run is shown as busy, nothing more)."""
    found = online_workers()
    running = [i for worker in found for i in worker["running"]]
    visible = {e.pk: e for e in experiments_for(user).filter(pk__in=running)}
    for worker in found:
        worker["experiments"] = [visible.get(i) for i in worker["running"]]
    return found


def worker_to_dict(worker: dict[str, Any]) -> dict[str, Any]:
    """A worker of `workers_seen_by` for the API: another team's run is only `{"visible": false}`."""
    device = worker["device"]
    return {
        **{k: worker[k] for k in ("name", "queues", "gpu_classes", "pool", "concurrency", "uptime", "pid")},
        "host": device.get("host") or worker["host"],
        "device": device.get("device") or "unknown",
        "gpus": device.get("gpus", []),
        "cpus": device.get("cpus"),
        "running": [
            {"visible": True, "id": e.pk, "name": e.name, "url": e.get_absolute_url()}
            if e is not None
            else {"visible": False}
            for e in worker["experiments"]
        ],
    }
