"""Hooks other apps attach to an experiment's run, so the experiments app never imports them.

- `experiment_starting(sender=Experiment, experiment=...)`: each receiver returns a list of extra
  training callbacks for this run (a sweep's pruning rule, say).
- `experiment_finished(sender=Experiment, experiment=..., on_worker=...)`: the experiment has reached a
  final status (`on_worker`: a worker ended it, at the end of its task; else it was cancelled while queued,
  in a web request).
"""

from __future__ import annotations

from django.dispatch import Signal

experiment_starting = Signal()
experiment_finished = Signal()


def extra_callbacks(experiment) -> list:
    """The training callbacks the receivers of `experiment_starting` add for this run."""
    from webapp.experiments.models import Experiment

    return [
        cb for _, callbacks in experiment_starting.send(sender=Experiment, experiment=experiment) for cb in callbacks
    ]


def finished(experiment, on_worker: bool = False) -> None:
    from webapp.experiments.models import Experiment

    experiment_finished.send(sender=Experiment, experiment=experiment, on_worker=on_worker)
