"""An experiment's states and what each allows: defined here once, and used by the models, the task,
the pages (the scripts get them through `json_script`, see `for_pages`) and the tests."""

from __future__ import annotations

from django.db import models

from training.callbacks import Outcome


class Status(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    STOPPED_EARLY = "stopped_early", "Stopped early"
    PRUNED = "pruned", "Pruned"  # a search trial ended by its pruning rule (checkpoint kept, no test)
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


ACTIVE = frozenset({Status.QUEUED, Status.RUNNING})  # a worker has it, or will: it can be cancelled
FINAL = frozenset(Status) - ACTIVE  # nothing happens to it until a user acts
RESUMABLE = frozenset({Status.CANCELLED, Status.FAILED})  # back to the queue, from its checkpoint
# Ran to an end of its own with a final model: another run may start from its weights.
WITH_FINAL_MODEL = frozenset({Status.SUCCEEDED, Status.STOPPED_EARLY})
# N more epochs from its last checkpoint. A pruned trial may be trained further as well.
EXTENDABLE = WITH_FINAL_MODEL | {Status.PRUNED}

# How `training.fit` ended -> the experiment's status (a failure raises instead).
STATUS_OF_OUTCOME = {
    Outcome.COMPLETED: Status.SUCCEEDED,
    Outcome.STOPPED_EARLY: Status.STOPPED_EARLY,
    Outcome.CANCELLED: Status.CANCELLED,
    Outcome.PRUNED: Status.PRUNED,
}


class CancelOutcome(models.TextChoices):
    """What asking to cancel did."""

    CANCELLED = "cancelled", "Cancelled"  # it was queued: it will never start
    STOPPING = "stopping", "Stopping"  # it is running: the worker stops at the next batch
    FINISHED = "finished", "Already finished"  # nothing to cancel


def for_pages() -> dict:
    """The statuses and sets, for the scripts (`json_script`): they compare with these, never with literals."""
    sets = {"active": ACTIVE, "final": FINAL, "resumable": RESUMABLE, "extendable": EXTENDABLE}
    return {
        "status": {s.name: s.value for s in Status},
        **{name: sorted(members) for name, members in sets.items()},
    }
