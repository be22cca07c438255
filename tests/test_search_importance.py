"""Parameter importance from records (fANOVA), ranking and the best trial."""

from __future__ import annotations

import random

from training.search import (
    Objective,
    SearchSpace,
    TrialRecord,
    TrialState,
    best_trial,
    param_importance,
    ranked,
    suggest,
)

ACC = Objective.VAL_ACC
SPACE = SearchSpace.parse(
    {
        "optimizer": ["sgd", "adamw"],
        "lr": {"low": 1e-4, "high": 0.1, "log": True},
        "dropout": {"low": 0.0, "high": 0.5},
        "momentum": {"low": 0.8, "high": 0.99, "when": {"optimizer": "sgd"}},
    }
)


def results(count: int, seed: int = 0) -> list[TrialRecord]:
    """The optimizer decides the objective; the learning rate a little; dropout and momentum not at all."""
    rng = random.Random(seed)
    records = []
    for s in suggest(SPACE, "random", seed, [], count, objective=ACC):
        value = 0.6 + 0.3 * (s.params["optimizer"] == "adamw") + 0.02 * rng.random()
        records.append(TrialRecord(s.number, s.params, TrialState.COMPLETED, value, {1: value}))
    return records


def test_the_parameter_that_decides_the_objective_comes_first():
    importance = param_importance(SPACE, ACC, results(12))
    assert list(importance)[0] == "optimizer" and importance["optimizer"] > 0.5
    assert set(importance) == {"optimizer", "lr", "dropout"}  # momentum is conditional: not in every trial
    assert abs(sum(importance.values()) - 1) < 1e-6


def test_too_few_completed_trials_give_an_empty_answer_not_noise():
    records = results(6)
    assert param_importance(SPACE, ACC, records[:3]) == {}
    pruned = [TrialRecord(r.number, r.params, TrialState.PRUNED, r.value, r.values) for r in records[3:]]
    assert param_importance(SPACE, ACC, records[:3] + pruned) == {}
    same = [TrialRecord(i, {"optimizer": "adamw"}, TrialState.COMPLETED, 0.5 + i / 10) for i in range(5)]
    assert param_importance(SPACE, ACC, same) == {}  # no parameter varied
    flat = [TrialRecord(r.number, r.params, TrialState.COMPLETED, 0.5) for r in records]
    assert param_importance(SPACE, ACC, flat) == {}  # the objective did not vary


def test_best_and_ranking_follow_the_objectives_direction():
    records = [
        TrialRecord(0, {}, TrialState.COMPLETED, 0.40),
        TrialRecord(1, {}, TrialState.PRUNED, 0.10),
        TrialRecord(2, {}, TrialState.COMPLETED, 0.30),
        TrialRecord(3, {}, TrialState.FAILED),
        TrialRecord(4, {}, TrialState.RUNNING),
        TrialRecord(5, {}, TrialState.COMPLETED, 0.30),
    ]
    assert best_trial(ACC, records).number == 0
    assert best_trial(Objective.VAL_LOSS, records).number == 2  # the lowest loss; the earlier of equals
    assert [r.number for r in ranked(ACC, records)] == [0, 2, 5, 1, 3, 4]
    assert [r.number for r in ranked(Objective.VAL_LOSS, records)] == [2, 5, 0, 1, 3, 4]
    assert best_trial(ACC, records[3:5]) is None
