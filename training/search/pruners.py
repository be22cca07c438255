"""Early termination of weak trials, decided by Optuna's pruners on studies rebuilt from the records.

    should_prune(spec, Objective.VAL_ACC, trial, others, epoch) -> "val_acc 0.1200 at epoch 1 is below ..." | None

Epochs are Optuna's steps (1-based). The same records give the same answer on the command line and in
a web worker. `rungs(spec)` are the epochs where decisions happen (for a chart) and
`expected_epochs(spec, trials)` what a sweep costs under the schedule (for an estimate).

- `asha`: `SuccessiveHalvingPruner`. Rungs at min_epochs x reduction_factor^k; at a rung a trial goes
  on only if it is in the top 1/reduction_factor of the trials that reached that rung.
- `hyperband`: `HyperbandPruner`: several ASHA brackets, from aggressive to lenient; a trial's bracket
  comes from its number.
- `median`: `MedianPruner`: from min_epochs on, a trial whose best value so far is worse than the median
  of the completed trials at that epoch stops (once `startup_trials` trials have completed).
- `none`: every trial runs to its end.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from types import SimpleNamespace
from typing import Any

import numpy as np
import optuna

from training.callbacks import Callback, EpochMetrics
from training.registry import Registry
from training.search.records import STUDY_NAME, Direction, Objective, TrialRecord, TrialState, build_study
from training.search.space import SearchSpace, SpaceError

_NO_PARAMS = SearchSpace(())
RUNG_KEY = "completed_rung_{}"  # where Optuna's successive halving keeps a trial's value at each rung


@dataclass(frozen=True)
class PrunerSpec:
    """An early-termination rule and its schedule. `max_epochs`: the longest trial of the sweep."""

    name: str = "asha"
    max_epochs: int = 10
    min_epochs: int = 1  # the first epoch a trial can be stopped at (asha/hyperband: the first rung)
    reduction_factor: int = 3  # asha/hyperband: keep the top 1/reduction_factor at each rung
    startup_trials: int = 3  # median: completed trials needed before it prunes

    def __post_init__(self) -> None:
        errors = {}
        if self.name not in PRUNERS:
            errors["pruner"] = f"unknown pruner {self.name!r}; choose one of: {', '.join(PRUNERS.names())}"
        if self.max_epochs < 1:
            errors["max_epochs"] = "must be at least 1"
        if self.min_epochs < 1:
            errors["min_epochs"] = "must be at least 1"
        if self.reduction_factor < 2:
            errors["reduction_factor"] = "must be at least 2"
        if self.startup_trials < 0:
            errors["startup_trials"] = "must be at least 0"
        if errors:
            raise SpaceError(errors)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PrunerSpec:
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise SpaceError({"pruner": f"unknown pruner setting {', '.join(sorted(unknown))}"})
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def rule(self) -> PruneRule:
        return PRUNERS.get(self.name)(self)


class PruneRule:
    """One pruner: builds the Optuna pruner, its per-trial state from records, its rungs and costs."""

    label = ""

    def __init__(self, spec: PrunerSpec) -> None:
        self.spec = spec

    def optuna_pruner(self) -> optuna.pruners.BasePruner:
        raise NotImplementedError

    def system_attrs(self, record: TrialRecord, before: int | None = None) -> dict[str, Any]:
        """The pruner's state for a trial (values at the rungs it passed, epochs below `before`)."""
        return {}

    def rungs(self) -> list[int]:
        """Epochs (below max_epochs; the last epoch is never pruned) at which a trial can be stopped."""
        return []

    def expected_epochs_per_trial(self) -> float:
        return float(self.spec.max_epochs)

    def explain(self, study: optuna.Study, record: TrialRecord, epoch: int, objective: Objective) -> str:
        raise NotImplementedError


PRUNERS: Registry[type[PruneRule]] = Registry("pruner")


def _below(objective: Objective) -> str:
    return "below" if objective.direction == Direction.MAXIMIZE else "above"


def _halving_rungs(min_epochs: int, factor: int, start: int, max_epochs: int) -> list[int]:
    """Successive halving's rungs: min_epochs x factor^(start + k), below max_epochs."""
    rungs, k = [], 0
    while (epoch := min_epochs * factor ** (start + k)) < max_epochs:
        rungs.append(epoch)
        k += 1
    return rungs


def _halving_expected(rungs: list[int], factor: int, max_epochs: int) -> float:
    """Epochs a trial runs on average when 1/factor of the trials go on at each rung."""
    total, kept, previous = 0.0, 1.0, 0
    for rung in rungs:
        total += kept * (rung - previous)
        kept, previous = kept / factor, rung
    return total + kept * (max_epochs - previous)


def _rung_attrs(record: TrialRecord, rungs: list[int], before: int | None) -> dict[str, Any]:
    attrs = {}
    for k, epoch in enumerate(rungs):
        if epoch not in record.values or (before is not None and epoch >= before):
            break
        attrs[RUNG_KEY.format(k)] = record.values[epoch]
    return attrs


def _halving_reason(
    study: optuna.Study, record: TrialRecord, epoch: int, objective: Objective, rungs: list[int], factor: int, what: str
) -> str:
    """Optuna's verdict in words: the trial's value against the cut of the trials at the same rung."""
    value = record.values[epoch]
    if math.isnan(value):
        return f"{objective} is not a number at epoch {epoch} ({what})"
    rung = rungs.index(epoch) if epoch in rungs else len(_rung_attrs(record, rungs, epoch))
    key = RUNG_KEY.format(rung)
    competing = sorted(t.system_attrs[key] for t in study.get_trials(deepcopy=False) if key in t.system_attrs)
    keep = max(len(competing) // factor, 1)  # as Optuna's _is_trial_promotable_to_next_rung
    cut = competing[-keep] if objective.direction == Direction.MAXIMIZE else competing[keep - 1]
    return (
        f"{objective} {value:.4f} at epoch {epoch} is {_below(objective)} the rung-{rung + 1} cut {cut:.4f} "
        f"({what}, keeping the top 1/{factor} of {len(competing)} trials)"
    )


@PRUNERS.register("asha", "successive halving (ASHA): only the top 1/reduction_factor go on at each rung")
class Asha(PruneRule):
    def optuna_pruner(self) -> optuna.pruners.BasePruner:
        return optuna.pruners.SuccessiveHalvingPruner(
            min_resource=self.spec.min_epochs, reduction_factor=self.spec.reduction_factor
        )

    def rungs(self) -> list[int]:
        return _halving_rungs(self.spec.min_epochs, self.spec.reduction_factor, 0, self.spec.max_epochs)

    def system_attrs(self, record: TrialRecord, before: int | None = None) -> dict[str, Any]:
        return _rung_attrs(record, self.rungs(), before)

    def expected_epochs_per_trial(self) -> float:
        return _halving_expected(self.rungs(), self.spec.reduction_factor, self.spec.max_epochs)

    def explain(self, study, record, epoch, objective):
        return _halving_reason(study, record, epoch, objective, self.rungs(), self.spec.reduction_factor, "ASHA")


@PRUNERS.register("hyperband", "Hyperband: ASHA brackets from aggressive to lenient, a trial's bracket by its number")
class Hyperband(PruneRule):
    def __init__(self, spec: PrunerSpec) -> None:
        super().__init__(spec)
        self.pruner = optuna.pruners.HyperbandPruner(
            min_resource=spec.min_epochs, max_resource=spec.max_epochs, reduction_factor=spec.reduction_factor
        )
        self.pruner._try_initialization(None)  # with an integer max_resource it needs no study
        self.brackets = self.pruner._n_brackets or 1

    def optuna_pruner(self) -> optuna.pruners.BasePruner:
        return self.pruner

    def bracket(self, number: int) -> int:
        """Optuna's own assignment (from the study name and the trial number), asked without a study."""
        return self.pruner._get_bracket_id(SimpleNamespace(study_name=STUDY_NAME), SimpleNamespace(number=number))

    def bracket_rungs(self, bracket: int) -> list[int]:
        return _halving_rungs(self.spec.min_epochs, self.spec.reduction_factor, bracket, self.spec.max_epochs)

    def rungs(self) -> list[int]:
        return sorted({epoch for b in range(self.brackets) for epoch in self.bracket_rungs(b)})

    def system_attrs(self, record: TrialRecord, before: int | None = None) -> dict[str, Any]:
        return _rung_attrs(record, self.bracket_rungs(self.bracket(record.number)), before)

    def expected_epochs_per_trial(self) -> float:
        weights = self.pruner._trial_allocation_budgets
        costs = [
            _halving_expected(self.bracket_rungs(b), self.spec.reduction_factor, self.spec.max_epochs)
            for b in range(self.brackets)
        ]
        return float(np.average(costs, weights=weights)) if weights else float(self.spec.max_epochs)

    def explain(self, study, record, epoch, objective):
        bracket = self.bracket(record.number)
        bracket_study = self.pruner._create_bracket_study(study, bracket)
        return _halving_reason(
            bracket_study,
            record,
            epoch,
            objective,
            self.bracket_rungs(bracket),
            self.spec.reduction_factor,
            f"Hyperband bracket {bracket + 1}",
        )


@PRUNERS.register("median", "median rule: stop a trial worse than the median of completed trials at that epoch")
class Median(PruneRule):
    def optuna_pruner(self) -> optuna.pruners.BasePruner:
        return optuna.pruners.MedianPruner(
            n_startup_trials=self.spec.startup_trials, n_warmup_steps=self.spec.min_epochs
        )

    def rungs(self) -> list[int]:
        return list(range(self.spec.min_epochs, self.spec.max_epochs))

    def expected_epochs_per_trial(self) -> float:
        # About half the trials fall below the median at the first decision and stop there.
        first = min(self.spec.min_epochs, self.spec.max_epochs)
        return 0.5 * first + 0.5 * self.spec.max_epochs

    def explain(self, study, record, epoch, objective):
        done = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
        at_epoch = [t.intermediate_values[epoch] for t in done if epoch in t.intermediate_values]
        values = [v for e, v in record.values.items() if e <= epoch]
        mine = objective.best(values)
        median = float(np.nanmedian(at_epoch)) if at_epoch else float("nan")
        return (
            f"{objective} {mine:.4f} (best by epoch {epoch}) is {_below(objective)} the median {median:.4f} "
            f"of {len(at_epoch)} completed trials at epoch {epoch} (median rule)"
        )


@PRUNERS.register("none", "no early termination: every trial runs to its end")
class NoPruning(PruneRule):
    def optuna_pruner(self) -> optuna.pruners.BasePruner:
        return optuna.pruners.NopPruner()


# --- the functional API ------------------------------------------------------------------------------
def list_pruners() -> list[str]:
    return PRUNERS.names()


def rungs(spec: PrunerSpec) -> list[int]:
    """The epochs at which trials can be stopped (below max_epochs), for a chart."""
    return spec.rule.rungs()


def expected_epochs(spec: PrunerSpec, trials: int) -> float:
    """Epochs `trials` trials run in all under the pruning schedule, on average (for a cost estimate:
    multiply by seconds per epoch)."""
    return trials * spec.rule.expected_epochs_per_trial()


def should_prune(
    spec: PrunerSpec,
    objective: Objective,
    trial: TrialRecord,
    others: Sequence[TrialRecord],
    epoch: int,
) -> str | None:
    """Why `trial` should stop after `epoch` (a sentence), or None to go on.

    `trial.values` holds its objective after each epoch up to `epoch`; `others` every other trial of the
    sweep with theirs. The last epoch (max_epochs) is never pruned."""
    if epoch >= spec.max_epochs or epoch not in trial.values:
        return None
    rule = spec.rule
    current = replace(trial, values={e: v for e, v in trial.values.items() if e <= epoch})
    study = build_study(
        _NO_PARAMS,  # pruners look at values only
        objective,
        [*[o for o in others if o.number != trial.number], current],
        pruner=rule.optuna_pruner(),
        system_attrs=lambda r: rule.system_attrs(r, before=epoch if r.number == trial.number else None),
    )
    frozen = next(t for t in study.get_trials(deepcopy=False) if t.number == trial.number)
    if not study.pruner.prune(study, frozen):
        return None
    return rule.explain(study, current, epoch, objective)


class PruneWeakTrials(Callback):
    """Asks `should_prune` after every epoch of a trial (the command line's and a worker's hook into `fit`).

    others: returns the sweep's other trials as they are now (the web reads them from its database).
    values: the objective of epochs already run (a resumed trial)."""

    def __init__(
        self,
        spec: PrunerSpec,
        objective: Objective,
        number: int,
        params: Mapping[str, Any],
        others: Callable[[], Sequence[TrialRecord]],
        values: Mapping[int, float] | None = None,
    ) -> None:
        self.spec, self.objective, self.number, self.params = spec, objective, number, dict(params)
        self.others = others
        self.values: dict[int, float] = dict(values or {})

    def record(self) -> TrialRecord:
        last = self.values[max(self.values)] if self.values else None
        return TrialRecord(self.number, self.params, TrialState.RUNNING, last, dict(self.values))

    def on_epoch_end(self, metrics: EpochMetrics) -> None:
        value = self.objective.of(metrics)
        if value is not None:
            self.values[metrics.epoch] = value

    def prune_reason(self, metrics: EpochMetrics) -> str | None:
        return should_prune(self.spec, self.objective, self.record(), self.others(), metrics.epoch)
