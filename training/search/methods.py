"""Search methods: which points the next trials take, from the records of the trials so far.

    suggest(space, "tpe", seed=0, trials=records, count=3) -> [Suggestion(number=7, params={...}), ...]

- `grid`: the exact cartesian product (conditions honoured), enumerated in one fixed order; each call
  hands out the first points no record holds yet, so every point runs once however many trials run at
  once. Float ranges are refused (a grid needs values).
- `random`: Optuna's `RandomSampler`, seeded from (seed, trial number): the n-th point depends only on
  the seed, n and the space, never on the other trials or on when it was asked.
- `tpe`: Optuna's `TPESampler` on a study rebuilt from the records, running trials included: with
  `constant_liar` they count as bad results, so trials asked together do not pile onto one spot.
  Seeded from (seed, trial number).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import optuna

from training.registry import Registry
from training.search.records import Budget, Objective, TrialRecord, build_study, next_number, quietly
from training.search.space import SearchSpace, SpaceError, point_key

TPE_STARTUP_TRIALS = 5  # random points before TPE models the results (Optuna's default of 10 is half a small sweep)


@dataclass(frozen=True)
class Suggestion:
    number: int  # the trial number to record it under
    params: dict[str, Any]


def trial_seed(seed: int, number: int) -> int:
    """A 32-bit seed that depends only on (seed, trial number)."""
    return int(np.random.SeedSequence([seed, number]).generate_state(1)[0])


class Method:
    """A search method: checks a space and proposes points for the given trial numbers."""

    def check(self, space: SearchSpace) -> None:
        """Raise SpaceError when this method cannot search `space`."""

    def propose(
        self, space: SearchSpace, objective: Objective, seed: int, trials: Sequence[TrialRecord], numbers: list[int]
    ) -> list[dict[str, Any]]:
        raise NotImplementedError


METHODS: Registry[type[Method]] = Registry("search method")


@METHODS.register("grid", "every combination of the listed values, each once")
class GridSearch(Method):
    def check(self, space: SearchSpace) -> None:
        space.grid_size()

    def propose(self, space, objective, seed, trials, numbers):
        taken = {point_key(space.known(t.params)) for t in trials}
        fresh = (point for point in space.grid() if point_key(point) not in taken)
        return [point for point, _ in zip(fresh, numbers, strict=False)]


@METHODS.register("random", "independent random points, reproducible from the seed")
class RandomSearch(Method):
    def propose(self, space, objective, seed, trials, numbers):
        points = []
        for number in numbers:
            study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=trial_seed(seed, number)))
            points.append(space.sample(study.ask()))
        return points


@METHODS.register("tpe", "Bayesian (tree-structured Parzen estimator): learns from the results so far")
class TPESearch(Method):
    def propose(self, space, objective, seed, trials, numbers):
        study = build_study(space, objective, trials)
        points = []
        for number in numbers:
            # One sampler per trial number keeps a point reproducible whatever was asked before it.
            # multivariate + group: joint models per group of parameters that occur together (conditionals).
            study.sampler = quietly(
                lambda number=number: optuna.samplers.TPESampler(
                    seed=trial_seed(seed, number),
                    n_startup_trials=TPE_STARTUP_TRIALS,
                    constant_liar=True,
                    multivariate=True,
                    group=True,
                )
            )
            trial = study.ask()  # stays RUNNING in the study: the next point sees it
            assert trial.number == number, (trial.number, number)
            points.append(space.sample(trial))
        return points


def list_methods() -> list[str]:
    return METHODS.names()


def check_method(space: SearchSpace, method: str) -> None:
    """SpaceError when `method` is unknown or cannot search `space` (e.g. grid with a float range)."""
    if method not in METHODS:
        raise SpaceError({"method": f"unknown search method {method!r}; choose one of: {', '.join(list_methods())}"})
    METHODS.get(method)().check(space)


def suggest(
    space: SearchSpace,
    method: str,
    seed: int,
    trials: Sequence[TrialRecord],
    count: int,
    *,
    objective: Objective,
) -> list[Suggestion]:
    """Points for the next `count` trials (numbered after the highest recorded one); fewer when a grid runs out.

    `trials`: every trial of the sweep so far, queued and running ones included. `objective`: its
    direction tells TPE which results are good. Raises SpaceError like `check_method`."""
    check_method(space, method)
    start = next_number(trials)
    numbers = list(range(start, start + max(count, 0)))
    points = METHODS.get(method)().propose(space, objective, seed, trials, numbers)
    return [Suggestion(number, point) for number, point in zip(numbers, points, strict=False)]


def planned_trials(space: SearchSpace, method: str, budget: Budget) -> int:
    """How many trials a sweep runs if nothing stops it first: the trial budget, or the grid's size."""
    check_method(space, method)
    return min(budget.max_trials, space.grid_size()) if method == "grid" else budget.max_trials
