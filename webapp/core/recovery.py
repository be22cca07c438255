"""Recovery of work whose worker or broker message was lost, for every kind of work: run by each
worker periodically (reap) and once when `manage.py up` starts (reap and resend)."""

from __future__ import annotations


def reap() -> dict[str, list[int]]:
    """Experiments and datasets whose lease expired: back to the queue, or failed after too many restarts."""
    from webapp.datasets.reaper import reap as reap_datasets
    from webapp.experiments.reaper import reap as reap_experiments

    return {"experiments": reap_experiments(), "datasets": reap_datasets()}


def periodically() -> None:
    """What every worker does every TRAINYARD_REAPER_SECONDS: reap lost work, and remove chunked uploads
    that expired (with their bytes)."""
    from webapp.datasets import chunked

    reap()
    chunked.reap()


def resend_lost() -> dict[str, list[int]]:
    """Queued work whose broker message is gone (a broker that lost its data): sent again."""
    from webapp.datasets.reaper import resend_lost as resend_datasets
    from webapp.experiments.reaper import resend_lost as resend_experiments

    return {"experiments": resend_experiments(), "datasets": resend_datasets()}
