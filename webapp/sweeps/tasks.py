"""The sweep's control task: the worker that runs it decides the next trials (see `driver`)."""

from __future__ import annotations

from celery import shared_task

from webapp.sweeps import driver


@shared_task(name="sweeps.advance", ignore_result=True)
def advance_sweep(sweep_id: int) -> int:
    """Start what the sweep may start now; returns how many trials it started."""
    return len(driver.advance(sweep_id))
