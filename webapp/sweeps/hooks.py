"""The sweeps app's hooks into experiment runs: a trial's pruning rule, and the next step of its sweep
when a trial ends."""

from __future__ import annotations

import logging

from django.dispatch import receiver

from training.callbacks import Callback, EpochMetrics
from training.search import PruneWeakTrials
from webapp.experiments import live
from webapp.experiments.signals import experiment_finished, experiment_starting
from webapp.sweeps.models import SweepStatus, Trial

logger = logging.getLogger(__name__)


@receiver(experiment_starting, dispatch_uid="sweeps.prune_weak_trials")
def prune_weak_trials(sender, experiment, **kwargs) -> list:
    """A trial's run asks the sweep's pruner after every epoch, against the other trials' epochs in the
    database. Trained longer than the sweep's longest trial (by a user), it is no longer judged."""
    trial = Trial.objects.select_related("sweep").filter(experiment=experiment).first()
    if trial is None:
        return []
    sweep = trial.sweep
    tell_sweep(trial, "started")
    spec = sweep.pruner_spec()
    if spec.name == "none" or experiment.epochs > spec.max_epochs:
        return [TrialNotifier(trial)]
    own = next(r for r in sweep.records() if r.number == trial.number)
    done = {e: v for e, v in own.values.items() if e <= (experiment.checkpoint_epoch or 0)}
    return [
        TrialNotifier(trial),
        PruneWeakTrials(
            spec,
            sweep.goal,
            trial.number,
            trial.params,
            others=lambda: sweep.records(exclude=trial.number),
            values=done,
        ),
    ]


@receiver(experiment_finished, dispatch_uid="sweeps.advance_on_finish")
def advance_on_finish(sender, experiment, on_worker: bool = False, **kwargs) -> None:
    """The sweep starts its next trials: on the worker that ended this one, at once (its task is done; a
    control task would cost a trip through the broker per trial), else (a queued trial cancelled in a web
    request) through the control task."""
    from webapp.sweeps.driver import advance, send_advance

    trial = Trial.objects.select_related("sweep").filter(experiment=experiment).first()
    if trial is None:
        return
    tell_sweep(trial, "finished")
    if trial.sweep.status != SweepStatus.RUNNING:
        return
    if not on_worker:
        send_advance(trial.sweep)
        return
    try:
        advance(trial.sweep_id)
    except Exception:  # the database blinked: the control task tries again (advance is idempotent)
        logger.warning("sweep %s did not advance on this worker; sent to the queue", trial.sweep_id, exc_info=True)
        send_advance(trial.sweep)


def tell_sweep(trial: Trial, what: str, epoch: int | None = None) -> None:
    live.send_sweep(trial.sweep_id, {"trial": trial.number, "change": what, "epoch": epoch})


class TrialNotifier(Callback):
    """The sweep's page hears of every epoch of its trials."""

    def __init__(self, trial: Trial) -> None:
        self.trial = trial

    def on_epoch_end(self, metrics: EpochMetrics) -> None:
        tell_sweep(self.trial, "epoch", metrics.epoch)
