"""What a sweep knows about its trials, and Optuna studies rebuilt from it.

The caller (the command line, or the web app's database) keeps the trials; Optuna never stores
anything. Every decision (the next points, whether to prune) rebuilds an in-memory study from the
records with `optuna.trial.create_trial` + `study.add_trial`, so the same records always give the same
answer, wherever and whenever it is asked.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import optuna
from optuna.trial import TrialState as OptunaState

from training.callbacks import EpochMetrics, FitResult
from training.search.space import SearchSpace

STUDY_NAME = "trainyard-sweep"  # fixed: Hyperband assigns brackets from the study name and trial number
# Every decision creates a study; at Optuna's default INFO level each would log a line.
optuna.logging.set_verbosity(optuna.logging.WARNING)


class Direction(StrEnum):
    MAXIMIZE = "maximize"
    MINIMIZE = "minimize"


class Objective(StrEnum):
    """What a sweep optimizes: a validation metric (never the test split)."""

    VAL_ACC = "val_acc"
    VAL_LOSS = "val_loss"

    @property
    def direction(self) -> Direction:
        return DIRECTIONS[self]

    def of(self, metrics: EpochMetrics) -> float | None:
        return getattr(metrics, self.value)

    def better(self, a: float, b: float) -> bool:
        """Whether value `a` is strictly better than `b`."""
        return a > b if self.direction == Direction.MAXIMIZE else a < b

    def best(self, values: Sequence[float]) -> float:
        return max(values) if self.direction == Direction.MAXIMIZE else min(values)

    def final_value(self, result: FitResult) -> float | None:
        """The objective of the weights a run ends with: the best epoch's when they were restored, else the last's."""
        if not result.history:
            return None
        epoch = result.best_epoch if result.restored_best and result.best_epoch else result.history[-1].epoch
        return next((self.of(m) for m in result.history if m.epoch == epoch), None)


DIRECTIONS = {Objective.VAL_ACC: Direction.MAXIMIZE, Objective.VAL_LOSS: Direction.MINIMIZE}


class TrialState(StrEnum):
    QUEUED = "queued"  # handed out, not started: counts as running for the samplers and the grid
    RUNNING = "running"
    COMPLETED = "completed"  # ran to its end (or stopped early): `value` is its objective
    PRUNED = "pruned"  # stopped by the pruner; `value` is its last epoch's objective
    FAILED = "failed"  # an invalid config or an error
    CANCELLED = "cancelled"  # stopped by a person


ACTIVE_STATES = frozenset({TrialState.QUEUED, TrialState.RUNNING})
OPTUNA_STATES = {
    TrialState.QUEUED: OptunaState.RUNNING,
    TrialState.RUNNING: OptunaState.RUNNING,
    TrialState.COMPLETED: OptunaState.COMPLETE,
    TrialState.PRUNED: OptunaState.PRUNED,
    TrialState.FAILED: OptunaState.FAIL,
    TrialState.CANCELLED: OptunaState.FAIL,
}


@dataclass(frozen=True)
class TrialRecord:
    """One trial as its keeper knows it. Numbers start at 0 and follow the order trials were handed out."""

    number: int
    params: Mapping[str, Any]
    state: TrialState
    value: float | None = None  # the objective: final for completed trials, the last epoch's for pruned ones
    values: Mapping[int, float] = field(default_factory=dict)  # the objective after each epoch (1-based)
    seconds: float = 0.0  # training time so far

    @property
    def epochs_run(self) -> int:
        return max(self.values, default=0)

    def to_dict(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "params": dict(self.params),
            "state": str(self.state),
            "value": self.value,
            "values": {str(k): v for k, v in sorted(self.values.items())},
            "seconds": self.seconds,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrialRecord:
        """From `to_dict()` or its JSON (epoch keys as text)."""
        return cls(
            number=int(data["number"]),
            params=dict(data.get("params") or {}),
            state=TrialState(data["state"]),
            value=data.get("value"),
            values={int(k): float(v) for k, v in (data.get("values") or {}).items()},
            seconds=float(data.get("seconds") or 0.0),
        )


def next_number(trials: Sequence[TrialRecord]) -> int:
    return max((t.number for t in trials), default=-1) + 1


@dataclass(frozen=True)
class Budget:
    """When a sweep stops handing out trials: at `max_trials`, or once the trials used up `max_epochs`
    epochs or `max_hours` hours of training in all (whichever comes first)."""

    max_trials: int
    max_epochs: int | None = None
    max_hours: float | None = None

    def is_exhausted(self, trials: Sequence[TrialRecord]) -> bool:
        return (
            len(trials) >= self.max_trials
            or (self.max_epochs is not None and sum(t.epochs_run for t in trials) >= self.max_epochs)
            or (self.max_hours is not None and sum(t.seconds for t in trials) >= self.max_hours * 3600)
        )

    def trials_to_start(self, trials: Sequence[TrialRecord], parallelism: int = 1) -> int:
        """How many new trials may start now: free slots under `parallelism`, within the trial budget."""
        if self.is_exhausted(trials):
            return 0
        active = sum(t.state in ACTIVE_STATES for t in trials)
        return max(0, min(parallelism - active, self.max_trials - len(trials)))

    def to_dict(self) -> dict[str, Any]:
        return {"max_trials": self.max_trials, "max_epochs": self.max_epochs, "max_hours": self.max_hours}


def best_trial(objective: Objective, trials: Sequence[TrialRecord]) -> TrialRecord | None:
    """The completed trial with the best objective (the lowest number among equals)."""
    done = [t for t in trials if t.state == TrialState.COMPLETED and t.value is not None]
    if not done:
        return None
    best = objective.best([t.value for t in done])
    return min((t for t in done if t.value == best), key=lambda t: t.number)


def ranked(objective: Objective, trials: Sequence[TrialRecord]) -> list[TrialRecord]:
    """Best first: completed trials by objective, then pruned ones by their last value, then the rest."""
    sign = -1.0 if objective.direction == Direction.MAXIMIZE else 1.0
    order = {TrialState.COMPLETED: 0, TrialState.PRUNED: 1}

    def key(t: TrialRecord) -> tuple[int, float, int]:
        value = sign * t.value if t.value is not None else float("inf")
        return (order.get(t.state, 2), value, t.number)

    return sorted(trials, key=key)


# --- Optuna studies from records ---------------------------------------------------------------------
SystemAttrs = Callable[[TrialRecord], dict[str, Any]]


def build_study(
    space: SearchSpace,
    objective: Objective,
    trials: Sequence[TrialRecord],
    *,
    sampler: optuna.samplers.BaseSampler | None = None,
    pruner: optuna.pruners.BasePruner | None = None,
    system_attrs: SystemAttrs | None = None,
) -> optuna.Study:
    """An in-memory study holding `trials` under their own numbers (gaps filled with failed placeholders).

    A trial's parameters that the space no longer covers (a range narrowed since) are left out of it.
    `system_attrs` gives a trial's pruner state (see `pruners`)."""
    study = optuna.create_study(
        study_name=STUDY_NAME, direction=str(objective.direction), sampler=sampler, pruner=pruner
    )
    by_number = {t.number: t for t in trials}
    placeholder = optuna.trial.create_trial(state=OptunaState.FAIL)
    for number in range(next_number(trials)):
        record = by_number.get(number)
        study.add_trial(_frozen(space, record, system_attrs) if record else placeholder)
    return study


def _frozen(space: SearchSpace, record: TrialRecord, system_attrs: SystemAttrs | None) -> optuna.trial.FrozenTrial:
    params = space.known(record.params)
    state = OPTUNA_STATES[record.state]
    value = record.value
    if state == OptunaState.COMPLETE and value is None:
        state = OptunaState.FAIL  # completed without a validation metric: nothing to learn from
    if state not in (OptunaState.COMPLETE, OptunaState.PRUNED):
        value = None
    return optuna.trial.create_trial(
        state=state,
        value=value,
        params=params,
        distributions={name: space[name].distribution() for name in params},
        intermediate_values=dict(record.values),
        system_attrs=system_attrs(record) if system_attrs else None,
    )


def quietly(build: Callable[[], Any]) -> Any:
    """Build an Optuna object whose options Optuna marks experimental, without the warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return build()
