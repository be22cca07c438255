"""Widening a search space after trials ran (training.search.widen): what counts as wider, the messages
for a narrowing, and that the trials so far stay in the search (grid skips their points, TPE's study
holds them under the new distributions)."""

from __future__ import annotations

import pytest
from optuna.distributions import FloatDistribution
from optuna.trial import TrialState as OptunaState

from training.search import (
    Objective,
    SearchSpace,
    SpaceError,
    TrialRecord,
    TrialState,
    describe_changes,
    point_key,
    suggest,
    widen_space,
)
from training.search.records import build_study

SPACE = {
    "optimizer": ["sgd", "adamw"],
    "lr": {"low": 1e-3, "high": 0.1, "log": True},
    "momentum": {"low": 0.8, "high": 0.99, "when": {"optimizer": ["sgd"]}},
    "batch_size": {"low": 8, "high": 64, "step": 8},
}


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"lr": {"low": 1e-4}}, {"type": "float", "low": 1e-4, "high": 0.1, "log": True}),
        ({"optimizer": ["sgd", "adamw", "adam"]}, {"type": "choice", "values": ["sgd", "adamw", "adam"]}),
        (
            {"momentum": {"when": {"optimizer": ["sgd", "adamw"]}}},
            {"type": "float", "low": 0.8, "high": 0.99, "log": False, "when": {"optimizer": ["sgd", "adamw"]}},
        ),
        ({"batch_size": {"low": 4, "step": 4}}, {"type": "int", "low": 4, "high": 64, "log": False, "step": 4}),
        ({"batch_size": [8, 16, 24, 32, 40, 48, 56, 64, 128]}, {"type": "choice"}),
    ],
)
def test_a_wider_range_more_values_or_a_looser_condition_is_a_widening(changes, expected):
    new = widen_space(SPACE, changes)
    name = next(iter(changes))
    assert expected.items() <= new[name].to_dict().items()
    old = SearchSpace.parse(SPACE)
    assert [p for p in old.names if old[p].to_dict() != new[p].to_dict()] == [name]  # the rest stays
    assert describe_changes(old, new)[0].startswith(f"{name}: ")


def test_a_list_of_values_may_become_a_range_that_holds_them():
    new = widen_space({"lr": [0.01, 0.1]}, {"lr": {"low": 0.001, "high": 0.2, "log": True}})
    assert new.to_dict()["lr"] == {"type": "float", "low": 0.001, "high": 0.2, "log": True}


@pytest.mark.parametrize(
    ("changes", "name", "words"),
    [
        ({"lr": {"low": 0.01}}, "lr", "does not hold the old range 0.001 to 0.1"),
        ({"lr": {"high": 0.05, "low": 1e-5}}, "lr", "can only be widened"),
        ({"optimizer": ["sgd", "adam"]}, "optimizer", 'leaves out "adamw"'),
        ({"momentum": {"when": {"optimizer": ["adamw"]}}}, "momentum", 'leaves out "sgd"'),
        ({"lr": {"when": {"optimizer": ["sgd"]}}}, "lr", "narrower condition"),
        ({"batch_size": {"low": 4, "step": 3}}, "batch_size", "step 3 from 4 skips values"),
        ({"batch_size": [8, 16, 64]}, "batch_size", "leaves out 24"),
        ({"lr": [0.001, 0.1]}, "lr", "can only be widened to a float range"),
        ({"dropout": [0.1, 0.2]}, "dropout", "not a parameter of this sweep"),
        ({"lr": "wider"}, "lr", "give a list of values or an object"),
        ({"lr": {"low": -1}}, "lr", "low"),  # the option's own bounds still hold
        ({"lr": {"low": 1e-3}}, "__all__", "nothing changes"),
        ({}, "__all__", "name the parameters to widen"),
        ([1, 2], "__all__", "name the parameters to widen"),
    ],
)
def test_anything_that_leaves_out_an_old_point_is_refused_naming_the_parameter(changes, name, words):
    with pytest.raises(SpaceError) as caught:
        widen_space(SPACE, changes)
    assert name in caught.value.errors, caught.value.errors
    assert words in caught.value.errors[name]


def completed(number: int, params: dict, value: float) -> TrialRecord:
    return TrialRecord(number, params, TrialState.COMPLETED, value, {1: value, 2: value})


def test_grid_after_widening_hands_out_only_the_new_points():
    old = {"lr": [0.01, 0.02], "batch_size": [8, 16]}
    done = [
        completed(n, {"lr": lr, "batch_size": bs}, 0.5)
        for n, (lr, bs) in enumerate([(0.01, 8), (0.01, 16), (0.02, 8), (0.02, 16)])
    ]
    assert suggest(SearchSpace.parse(old), "grid", 0, done, 5, objective=Objective.VAL_ACC) == []
    new = widen_space(old, {"lr": [0.01, 0.02, 0.05], "batch_size": [8, 16, 32]})
    fresh = suggest(new, "grid", 0, done, 10, objective=Objective.VAL_ACC)
    assert len(fresh) == 9 - 4 and [s.number for s in fresh] == [4, 5, 6, 7, 8]
    keys = [point_key(s.params) for s in fresh] + [point_key(t.params) for t in done]
    assert len(set(keys)) == 9  # every point once, old ones included


def test_tpe_keeps_learning_from_the_old_trials_under_the_new_distributions():
    old = SearchSpace.parse({"lr": {"low": 0.01, "high": 0.1, "log": True}})
    records = [completed(n, {"lr": lr}, 1 - abs(lr - 0.05)) for n, lr in enumerate([0.01, 0.02, 0.04, 0.06, 0.1])]
    new = widen_space(old.to_dict(), {"lr": {"low": 1e-4, "high": 1.0}})
    study = build_study(new, Objective.VAL_ACC, records)
    assert [t.state for t in study.trials] == [OptunaState.COMPLETE] * 5
    assert all(t.distributions["lr"] == FloatDistribution(1e-4, 1.0, log=True) for t in study.trials)
    assert [t.params["lr"] for t in study.trials] == [0.01, 0.02, 0.04, 0.06, 0.1]
    assert study.best_trial.params["lr"] == 0.04 or study.best_trial.params["lr"] == 0.06
    points = suggest(new, "tpe", 0, records, 8, objective=Objective.VAL_ACC)
    assert [s.number for s in points] == list(range(5, 13))
    assert all(1e-4 <= s.params["lr"] <= 1.0 for s in points)


def test_random_search_after_widening_draws_from_the_whole_wider_range():
    old = SearchSpace.parse({"lr": {"low": 0.01, "high": 0.02}})
    first = suggest(old, "random", 3, [], 4, objective=Objective.VAL_ACC)
    records = [completed(s.number, s.params, 0.5) for s in first]
    new = widen_space(old.to_dict(), {"lr": {"high": 1.0}})
    points = [s.params["lr"] for s in suggest(new, "random", 3, records, 20, objective=Objective.VAL_ACC)]
    assert all(0.01 <= lr <= 1.0 for lr in points)
    assert sum(lr > 0.02 for lr in points) >= 15  # 98% of the wider range lies above the old one
