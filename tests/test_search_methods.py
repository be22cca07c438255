"""Search methods on records: grid (each point once, with trials in flight), random (seeded, reproducible,
log-uniform), TPE (learns from results, in bounds), conditions honoured by all three; budgets."""

from __future__ import annotations

import itertools
import math
import statistics

import pytest

from training.search import (
    Budget,
    Objective,
    SearchSpace,
    SpaceError,
    TrialRecord,
    TrialState,
    check_method,
    planned_trials,
    point_key,
    suggest,
)

ACC = Objective.VAL_ACC  # grid and random ignore it; TPE maximizes it
CONDITIONAL = SearchSpace.parse(
    {
        "optimizer": ["sgd", "adamw", "rmsprop"],
        "lr": {"low": 1e-4, "high": 1.0, "log": True},
        "momentum": {"low": 0.8, "high": 0.99, "when": {"optimizer": ["sgd", "rmsprop"]}},
        "nesterov": {"values": [True, False], "when": {"optimizer": "sgd"}},
        "batch_size": {"low": 16, "high": 256, "log": True},
        "epochs": {"low": 2, "high": 10, "step": 2},
    }
)
GRID = SearchSpace.parse(
    {
        "optimizer": ["sgd", "adamw"],
        "lr": [0.001, 0.01, 0.1],
        "nesterov": {"values": [True, False], "when": {"optimizer": "sgd"}},
        "epochs": {"low": 2, "high": 4, "step": 2},
    }
)


def running(suggestions) -> list[TrialRecord]:
    return [TrialRecord(s.number, s.params, TrialState.RUNNING) for s in suggestions]


def finished(record: TrialRecord, value: float) -> TrialRecord:
    return TrialRecord(record.number, record.params, TrialState.COMPLETED, value, {1: value})


def assert_conditions_hold(point: dict) -> None:
    assert ("momentum" in point) == (point["optimizer"] in ("sgd", "rmsprop")), point
    assert ("nesterov" in point) == (point["optimizer"] == "sgd"), point


def assert_in_bounds(point: dict) -> None:
    assert 1e-4 <= point["lr"] <= 1.0 and 16 <= point["batch_size"] <= 256
    assert point["epochs"] in (2, 4, 6, 8, 10) and point["optimizer"] in ("sgd", "adamw", "rmsprop")
    if "momentum" in point:
        assert 0.8 <= point["momentum"] <= 0.99


# --- grid ---------------------------------------------------------------------------------------------
def test_grid_hands_out_the_exact_cartesian_product_once_each_three_at_a_time_with_trials_still_running():
    expected = [
        {"optimizer": o, "lr": lr, **({"nesterov": n} if o == "sgd" else {}), "epochs": e}
        for o in ("sgd", "adamw")
        for lr in (0.001, 0.01, 0.1)
        for n in ((True, False) if o == "sgd" else (None,))
        for e in (2, 4)
    ]
    assert GRID.grid_size() == len(expected) == 18
    records: list[TrialRecord] = []
    while batch := suggest(GRID, "grid", 0, records, 3, objective=ACC):
        assert len(batch) == 3  # 18 points: six full batches
        records += running(batch)
        # One of the three finishes before the next batch is asked: the other two are still running.
        records[-3] = finished(records[-3], 0.5)
    keys = [point_key(r.params) for r in records]
    assert len(keys) == len(set(keys)) == 18
    assert sorted(keys) == sorted(point_key(p) for p in expected)
    assert [r.number for r in records] == list(range(18))


def test_grid_is_the_same_order_every_time_and_skips_points_already_recorded_in_any_state():
    first = [s.params for s in suggest(GRID, "grid", 0, [], 18, objective=ACC)]
    assert first == [s.params for s in suggest(GRID, "grid", 7, [], 18, objective=ACC)]  # the seed plays no part
    records = [TrialRecord(0, first[4], TrialState.FAILED), TrialRecord(1, first[0], TrialState.PRUNED, 0.1, {1: 0.1})]
    rest = suggest(GRID, "grid", 0, records, 100, objective=ACC)
    assert [s.params for s in rest] == [p for i, p in enumerate(first) if i not in (0, 4)]
    assert rest[0].number == 2


def test_grid_matches_recorded_values_stored_as_json_numbers():
    # A database may give back 2.0 for the whole number 2: still the same point, not handed out again.
    first, second = (s.params for s in suggest(GRID, "grid", 0, [], 2, objective=ACC))
    stored = TrialRecord(0, {**first, "epochs": float(first["epochs"])}, TrialState.COMPLETED, 0.9)
    assert suggest(GRID, "grid", 0, [stored], 1, objective=ACC)[0].params == second


def test_grid_refuses_float_and_log_ranges_with_a_clear_message():
    with pytest.raises(SpaceError) as caught:
        check_method(SearchSpace.parse({"lr": {"low": 1e-3, "high": 0.1}, "batch_size": [32, 64]}), "grid")
    assert caught.value.errors == {
        "lr": 'grid search needs a list of values, not a float range: give "values": [...] instead'
    }
    with pytest.raises(SpaceError) as caught:
        check_method(SearchSpace.parse({"batch_size": {"low": 16, "high": 256, "log": True}}), "grid")
    assert "not a log range" in caught.value.errors["batch_size"]
    with pytest.raises(SpaceError) as caught:
        check_method(GRID, "bayes")
    assert "unknown search method 'bayes'" in caught.value.errors["method"]


def test_a_grid_too_big_to_run_is_refused():
    names = ("width", "epochs", "batch_size", "lr_step_epochs")
    space = SearchSpace.parse({name: list(range(4, 24)) for name in names})  # 20^4 points
    with pytest.raises(SpaceError) as caught:
        check_method(space, "grid")
    assert "more than 100,000 points" in caught.value.errors["__all__"]


# --- random -------------------------------------------------------------------------------------------
def test_random_is_reproducible_the_nth_point_depending_only_on_seed_and_number():
    all_at_once = [s.params for s in suggest(CONDITIONAL, "random", 3, [], 6, objective=ACC)]
    records: list[TrialRecord] = []
    for size in (1, 2, 3):  # asked in other batch sizes, with other trials' results in between
        batch = suggest(CONDITIONAL, "random", 3, records, size, objective=ACC)
        records += [finished(r, 0.1 * r.number) for r in running(batch)]
    assert [r.params for r in records] == all_at_once
    assert [s.params for s in suggest(CONDITIONAL, "random", 4, [], 6, objective=ACC)] != all_at_once


def test_random_points_stay_in_bounds_honour_conditions_and_spread_log_ranges_over_the_decades():
    points = [s.params for s in suggest(CONDITIONAL, "random", 0, [], 200, objective=ACC)]
    for point in points:
        assert_in_bounds(point)
        assert_conditions_hold(point)
    lrs = [p["lr"] for p in points]
    per_decade = [sum(10**d <= lr < 10 ** (d + 1) for lr in lrs) for d in range(-4, 0)]
    assert min(per_decade) >= 30, per_decade  # uniform in log: about 50 per decade, not 90% in the top one
    assert abs(statistics.median(math.log10(lr) for lr in lrs) - (-2)) < 0.3
    assert {p["optimizer"] for p in points} == {"sgd", "adamw", "rmsprop"}
    assert sum(p["batch_size"] < 64 for p in points) > 60  # 16-64 is half of the log range


# --- tpe ----------------------------------------------------------------------------------------------
def test_tpe_runs_on_records_with_trials_in_flight_and_proposes_in_bound_points_honouring_conditions():
    records: list[TrialRecord] = []
    for _ in range(8):
        batch = running(suggest(CONDITIONAL, "tpe", 0, records, 3, objective=ACC))
        records += [finished(r, -abs(math.log10(r.params["lr"]) + 2)) for r in batch[:2]] + batch[2:]
    assert len(records) == 24
    for record in records:
        assert_in_bounds(dict(record.params))
        assert_conditions_hold(dict(record.params))
    assert len({point_key(r.params) for r in records}) == 24


def test_tpe_learns_from_the_results_where_random_does_not():
    # The objective peaks at lr = 1e-2 (the other parameters do not matter). Over 30 trials asked one after
    # another, TPE's last ten sit far closer to the peak (in decades) than random search's.
    def last_ten_distance(method: str) -> float:
        records: list[TrialRecord] = []
        for _ in range(30):
            (s,) = suggest(CONDITIONAL, method, 1, records, 1, objective=ACC)
            distance = abs(math.log10(s.params["lr"]) + 2)
            records.append(TrialRecord(s.number, s.params, TrialState.COMPLETED, -distance))
        return statistics.median(-r.value for r in records[-10:])

    assert last_ten_distance("tpe") < 0.6 * last_ten_distance("random")


def test_tpe_is_reproducible_from_the_same_records_and_seed():
    records = [
        finished(r, 0.3 + 0.01 * r.number) for r in running(suggest(CONDITIONAL, "random", 0, [], 8, objective=ACC))
    ]
    first = suggest(CONDITIONAL, "tpe", 5, records, 2, objective=ACC)
    assert first == suggest(CONDITIONAL, "tpe", 5, records, 2, objective=ACC)
    assert [s.number for s in first] == [8, 9]


def test_records_outside_a_narrowed_space_and_gaps_in_numbers_do_not_break_a_method():
    narrowed = SearchSpace.parse({"optimizer": ["adamw"], "lr": {"low": 1e-3, "high": 1e-2, "log": True}})
    records = [
        TrialRecord(0, {"optimizer": "sgd", "lr": 0.5, "momentum": 0.9}, TrialState.COMPLETED, 0.4, {1: 0.4}),
        TrialRecord(3, {"optimizer": "adamw", "lr": 0.005}, TrialState.PRUNED, 0.2, {1: 0.2}),
        TrialRecord(4, {"optimizer": "adamw", "lr": 0.002}, TrialState.RUNNING, None, {1: 0.7}),
    ]
    for method in ("random", "tpe"):
        (s,) = suggest(narrowed, method, 0, records, 1, objective=ACC)
        assert s.number == 5 and s.params["optimizer"] == "adamw" and 1e-3 <= s.params["lr"] <= 1e-2


def test_conditions_hold_for_every_method_including_a_grid():
    grid = SearchSpace.parse(
        {
            "optimizer": ["sgd", "adamw", "rmsprop"],
            "momentum": {"values": [0.8, 0.9], "when": {"optimizer": ["sgd", "rmsprop"]}},
            "nesterov": {"values": [True, False], "when": {"optimizer": "sgd"}},
        }
    )
    points = [s.params for s in suggest(grid, "grid", 0, [], 100, objective=ACC)]
    assert len(points) == 2 * 2 + 1 + 2  # sgd: momentum x nesterov; adamw: none; rmsprop: momentum
    for point in points:
        assert_conditions_hold(point)


# --- budget -------------------------------------------------------------------------------------------
def test_a_budget_caps_trials_epochs_and_hours_and_the_parallelism_caps_what_starts():
    records = [
        TrialRecord(0, {}, TrialState.COMPLETED, 0.9, {e: 0.9 for e in range(1, 6)}, seconds=1800),
        TrialRecord(1, {}, TrialState.RUNNING, None, {1: 0.5}, seconds=60),
        TrialRecord(2, {}, TrialState.QUEUED),
    ]
    assert Budget(10).trials_to_start(records, parallelism=3) == 1
    assert Budget(10).trials_to_start(records, parallelism=2) == 0
    assert Budget(4).trials_to_start(records, parallelism=8) == 1
    assert Budget(3).is_exhausted(records) and Budget(3).trials_to_start(records, 8) == 0
    assert Budget(10, max_epochs=6).is_exhausted(records) and not Budget(10, max_epochs=7).is_exhausted(records)
    assert Budget(10, max_hours=0.5).is_exhausted(records) and not Budget(10, max_hours=1).is_exhausted(records)


def test_records_round_trip_through_json_with_epochs_as_text():
    record = TrialRecord(7, {"lr": 0.01}, TrialState.PRUNED, 0.4, {1: 0.3, 3: 0.4}, 12.5)
    data = record.to_dict()
    assert data["values"] == {"1": 0.3, "3": 0.4} and data["state"] == "pruned"
    assert TrialRecord.from_dict(data) == record and record.epochs_run == 3


def test_numbers_follow_the_highest_recorded_one():
    assert [
        s.number for s in suggest(GRID, "random", 0, [TrialRecord(4, {}, TrialState.FAILED)], 2, objective=ACC)
    ] == [5, 6]
    assert list(itertools.islice(GRID.grid(), 1)) == [suggest(GRID, "grid", 0, [], 1, objective=ACC)[0].params]


def test_widening_a_finished_grid_hands_out_only_the_new_points():
    done = [finished(r, 0.5) for r in running(suggest(GRID, "grid", 0, [], 18, objective=ACC))]
    assert suggest(GRID, "grid", 0, done, 3, objective=ACC) == []
    wider = SearchSpace.parse({**GRID.to_dict(), "lr": [0.001, 0.01, 0.1, 0.3]})
    new = suggest(wider, "grid", 0, done, 100, objective=ACC)
    assert len(new) == 6 and all(s.params["lr"] == 0.3 for s in new) and new[0].number == 18


def test_the_planned_trials_are_the_budget_or_the_grid_size():
    assert planned_trials(GRID, "grid", Budget(50)) == 18 and planned_trials(GRID, "grid", Budget(5)) == 5
    assert planned_trials(CONDITIONAL, "tpe", Budget(40)) == 40
