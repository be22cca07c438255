"""The sweep's control task, `sweeps.advance` (defined with the driver it runs; listed here for Celery's
task discovery)."""

from __future__ import annotations

from webapp.sweeps.driver import advance_sweep

__all__ = ["advance_sweep"]
