"""What a sweep does next, decided from the database alone (so it survives restarts of anything).

`advance(sweep_id)` runs under a row lock on the sweep: it rebuilds the trials' records, asks the search
method (Optuna ask-and-tell via training.search) for points until the parallelism cap or the budget,
and creates each trial as an ordinary experiment through `experiments.actions.create` (same queues and
priorities). It runs as the Celery task `sweeps.advance`, sent when a sweep starts or resumes and
whenever one of its trials reaches a final status.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from celery import shared_task
from django.db import transaction
from django.utils import timezone

from training import ConfigError
from training.search import (
    Budget,
    SearchSpace,
    SpaceError,
    apply_point,
    check_widens,
    describe_changes,
    point_key,
    suggest,
)
from training.search.records import ACTIVE_STATES
from webapp.core.queues import Queue, queue_for, send_after_commit
from webapp.core.serialize import iso
from webapp.experiments import actions, live
from webapp.experiments.models import BROKER_PRIORITY, Experiment, Priority
from webapp.experiments.states import ACTIVE
from webapp.experiments.states import Status as ExperimentStatus
from webapp.sweeps.models import Method, Sweep, SweepStatus, Trial

logger = logging.getLogger(__name__)

CONTROL_QUEUE = Queue.CPU  # the default queue: every training worker serves it
MAX_ROUNDS = 50  # points whose config cannot train fail at once; this bounds one call's retries


def advance(sweep_id: int) -> list[Trial]:
    """Start the trials the sweep may start now; finish it when nothing runs and nothing can start.
    Returns the new trials."""
    with transaction.atomic():
        sweep = Sweep.objects.select_for_update().filter(pk=sweep_id).first()
        if sweep is None or sweep.status != SweepStatus.RUNNING:
            return []
        created = _start_trials(sweep)
        records = sweep.records()
        if not any(r.state in ACTIVE_STATES for r in records) and not created:
            sweep.status, sweep.finished_at = SweepStatus.FINISHED, timezone.now()
            sweep.save(update_fields=["status", "finished_at"])
    _tell(sweep)
    return created


@shared_task(name="sweeps.advance", ignore_result=True)
def advance_sweep(sweep_id: int) -> int:
    """The Celery task: start what the sweep may start now; returns how many trials it started."""
    return len(advance(sweep_id))


def _start_trials(sweep: Sweep) -> list[Trial]:
    created: list[Trial] = []
    for _ in range(MAX_ROUNDS):
        records = sweep.records()
        count = sweep.budget.trials_to_start(records, sweep.parallelism)
        if count <= 0:
            break
        suggestions = suggest(sweep.search_space, sweep.method, sweep.seed, records, count, objective=sweep.goal)
        if not suggestions:  # a grid that has handed out every point
            break
        created += [_create_trial(sweep, s.number, s.params) for s in suggestions]
    return [t for t in created if t.experiment.status != ExperimentStatus.FAILED]


TRIAL_TAGS = ["sweep"]  # every trial is tagged, so the experiments list can show or hide them


def _create_trial(sweep: Sweep, number: int, params: dict) -> Trial:
    """The trial's experiment, queued; failed at once (with the reason) when its config cannot train."""
    experiment = Experiment(
        team=sweep.team,
        owner=sweep.owner,
        dataset=sweep.dataset,
        name=f"{sweep.name} · trial {number}",
        description=f"Trial {number} of sweep #{sweep.pk}: " + ", ".join(f"{k}={v}" for k, v in params.items()),
        priority=sweep.priority,
        presets=sweep.presets,
        gpu_class=sweep.gpu_class,
    )
    try:
        config = apply_point(sweep.base_config, params)
    except (ConfigError, SpaceError) as exc:
        experiment.config = {**sweep.config, **params}
        experiment.status, experiment.error = ExperimentStatus.FAILED, f"Invalid config: {exc}"
        experiment.finished_at = timezone.now()
        experiment.save()
        experiment.set_tags(TRIAL_TAGS)
    else:
        experiment.config, experiment.queue = config.to_dict(), queue_for(config, sweep.gpu_class)
        actions.create(experiment, tags=TRIAL_TAGS)
    return Trial.objects.create(sweep=sweep, number=number, params=params, experiment=experiment)


def start(sweep: Sweep) -> Sweep:
    """Save a new sweep (built by the form) and send its first `advance` once that commits."""
    with transaction.atomic():
        sweep.save()
        send_advance(sweep)
    return sweep


def stop(sweep: Sweep) -> None:
    """No new trials; queued ones are dropped (cancelled before they start), running ones cancelled at
    their next batch (checkpoints kept). `resume` takes them up again."""
    with transaction.atomic():
        Sweep.objects.select_for_update().filter(pk=sweep.pk).update(status=SweepStatus.STOPPED, finished_at=None)
    for experiment in Experiment.objects.filter(trial__sweep=sweep, status__in=ACTIVE):
        actions.cancel(experiment)
    sweep.refresh_from_db()
    _tell(sweep)


def resume(sweep: Sweep) -> bool:
    """Back to running: cancelled trials continue from their checkpoints (or start, if they never did),
    then the sweep hands out what its budget still allows. False when it was not stopped."""
    with transaction.atomic():
        if (
            not Sweep.objects.select_for_update()
            .filter(pk=sweep.pk, status=SweepStatus.STOPPED)
            .update(status=SweepStatus.RUNNING)
        ):
            return False
        _requeue_cancelled(sweep)
        send_advance(sweep)
    sweep.refresh_from_db()
    _tell(sweep)
    return True


def _requeue_cancelled(sweep: Sweep) -> None:
    """The trials a stop cancelled go back to the queue: from their checkpoints, or from the start."""
    for experiment in Experiment.objects.filter(trial__sweep=sweep, status=ExperimentStatus.CANCELLED):
        actions.requeue(experiment)


def add_trials(sweep: Sweep, trials: int = 0, max_epochs: int | None = None, max_hours: float | None = None) -> None:
    """More trials (and optionally a larger epoch or hours budget) for a sweep, finished or not: it keeps
    its history and runs again. A stopped sweep stays stopped until resumed."""
    with transaction.atomic():
        locked = Sweep.objects.select_for_update().get(pk=sweep.pk)
        locked.max_trials += trials
        if max_epochs is not None:
            locked.max_epochs = max_epochs
        if max_hours is not None:
            locked.max_hours = max_hours
        if locked.status == SweepStatus.FINISHED:
            locked.status, locked.finished_at = SweepStatus.RUNNING, None
        locked.save(update_fields=["max_trials", "max_epochs", "max_hours", "status", "finished_at"])
        if locked.status == SweepStatus.RUNNING:
            send_advance(locked)
    sweep.refresh_from_db()
    _tell(sweep)


@dataclass(frozen=True)
class Widening:
    """A wider space for a sweep, with the budget changes that come with it (None: as needed / unchanged)."""

    space: SearchSpace
    trials: int | None = None  # trials to add; None: a grid gets its new points, other methods nothing
    max_epochs: int | None = None
    max_hours: float | None = None


def widened_budget(sweep: Sweep, widening: Widening, records: list) -> Budget:
    """The budget after `widening`; SpaceError by form field ("trials", "max_epochs", "max_hours", "space")
    when it would leave the sweep nothing to run."""
    max_trials = sweep.max_trials + (widening.trials or 0)
    if sweep.method == Method.GRID:
        taken = {point_key(widening.space.known(r.params)) for r in records}
        fresh = sum(1 for point in widening.space.grid() if point_key(point) not in taken)
        if not fresh:
            raise SpaceError({"space": "the wider grid has no point the sweep has not run yet"})
        if widening.trials is None:
            max_trials += max(0, fresh - max(0, sweep.max_trials - len(records)))
    budget = Budget(
        max_trials,
        widening.max_epochs if widening.max_epochs is not None else sweep.max_epochs,
        widening.max_hours if widening.max_hours is not None else sweep.max_hours,
    )
    return _check_room(budget, records)


def _check_room(budget: Budget, records: list) -> Budget:
    if len(records) >= budget.max_trials:
        raise SpaceError(
            {"trials": f"the sweep has run {len(records)} of its {budget.max_trials} trials: add trials to search more"}
        )
    epochs = sum(r.epochs_run for r in records)
    if budget.max_epochs is not None and epochs >= budget.max_epochs:
        raise SpaceError({"max_epochs": f"the trials have used {epochs} of {budget.max_epochs} epochs: raise it"})
    hours = sum(r.seconds for r in records) / 3600
    if budget.max_hours is not None and hours >= budget.max_hours:
        raise SpaceError({"max_hours": f"the trials have used {hours:.3g} of {budget.max_hours:g} hours: raise it"})
    return budget


def widen(sweep: Sweep, widening: Widening, by: str = "") -> None:
    """Give a sweep (finished, stopped or running) a wider space, keeping every trial so far: they stay
    in its records, so the grid skips their points and TPE learns from them. The change is recorded in
    `space_history`; the sweep runs again (a stopped one as `resume` would). Raises SpaceError by form
    field, checked again under the sweep's lock (another change may have come first)."""
    with transaction.atomic():
        locked = Sweep.objects.select_for_update().get(pk=sweep.pk)
        old = locked.search_space
        try:
            check_widens(old, widening.space)
        except SpaceError as exc:
            problems = (v if k == "__all__" else f"{k}: {v}" for k, v in exc.errors.items())
            raise SpaceError({"space": " ".join(problems)}) from None
        records = locked.records()
        budget = widened_budget(locked, widening, records)
        entry = {"at": iso(timezone.now()), "by": by, "after_trials": len(records), "space": locked.space}
        locked.space_history = [*locked.space_history, entry | {"changes": describe_changes(old, widening.space)}]
        locked.space = widening.space.to_dict()
        locked.max_trials, locked.max_epochs, locked.max_hours = budget.max_trials, budget.max_epochs, budget.max_hours
        if locked.status == SweepStatus.STOPPED:
            _requeue_cancelled(locked)
        locked.status, locked.finished_at = SweepStatus.RUNNING, None
        locked.save()
        send_advance(locked)
    sweep.refresh_from_db()
    _tell(sweep)


def send_advance(sweep: Sweep) -> None:
    """Run `advance` on a worker once the current transaction commits (the control task jumps the queue)."""
    send_after_commit(advance_sweep, sweep.pk, queue=CONTROL_QUEUE, priority=BROKER_PRIORITY[Priority.HIGH])


def _tell(sweep: Sweep) -> None:
    live.send_sweep(sweep.pk, sweep.summary_dict())
