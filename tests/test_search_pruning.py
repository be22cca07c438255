"""Early termination from records: hopeless trials stop at their first rung, good ones go on, the decisions
equal those of a live Optuna study, and the schedule gives rungs and expected epochs."""

from __future__ import annotations

import random
from pathlib import Path

import optuna
import pytest

from tests.images import write_pattern_folder
from tests.training_helpers import TINY
from training import EpochMetrics, TrainConfig, fit, load_image_folder
from training.search import (
    Objective,
    PrunerSpec,
    PruneWeakTrials,
    SpaceError,
    TrialRecord,
    TrialState,
    expected_epochs,
    rungs,
    should_prune,
)
from training.search.records import STUDY_NAME
from training.search.trials import record_from_result, without_test


def curve(number: int, values: list[float], state: TrialState = TrialState.COMPLETED) -> TrialRecord:
    per_epoch = {e: v for e, v in enumerate(values, 1)}
    return TrialRecord(number, {}, state, values[-1], per_epoch)


GOOD = [curve(0, [0.90, 0.95, 0.97, 0.98]), curve(1, [0.88, 0.94, 0.96, 0.97]), curve(2, [0.91, 0.95, 0.96, 0.98])]


def running(number: int, values: list[float]) -> TrialRecord:
    return curve(number, values, TrialState.RUNNING)


def test_asha_stops_a_chance_level_trial_at_its_first_rung_and_lets_a_good_one_go_on():
    spec = PrunerSpec("asha", max_epochs=4, min_epochs=1, reduction_factor=3)
    reason = should_prune(spec, Objective.VAL_ACC, running(3, [0.10]), GOOD, epoch=1)
    assert reason == (
        "val_acc 0.1000 at epoch 1 is below the rung-1 cut 0.9100 (ASHA, keeping the top 1/3 of 4 trials)"
    )
    assert should_prune(spec, Objective.VAL_ACC, running(3, [0.93]), GOOD, epoch=1) is None
    assert should_prune(spec, Objective.VAL_ACC, running(3, [0.93, 0.90]), GOOD, epoch=2) is None  # not a rung


def test_the_median_rule_stops_a_chance_level_trial_at_its_first_epoch_and_lets_a_good_one_go_on():
    spec = PrunerSpec("median", max_epochs=4, min_epochs=1, startup_trials=3)
    reason = should_prune(spec, Objective.VAL_ACC, running(3, [0.10]), GOOD, epoch=1)
    assert reason == (
        "val_acc 0.1000 (best by epoch 1) is below the median 0.9000 of 3 completed trials at epoch 1 (median rule)"
    )
    assert should_prune(spec, Objective.VAL_ACC, running(3, [0.95]), GOOD, epoch=1) is None
    # Before startup_trials trials have completed, nothing is pruned.
    assert should_prune(spec, Objective.VAL_ACC, running(3, [0.10]), GOOD[:2], epoch=1) is None


def test_for_a_loss_the_cut_is_from_below():
    spec = PrunerSpec("asha", max_epochs=4)
    losses = [curve(i, [0.3 + 0.01 * i, 0.2]) for i in range(3)]
    reason = should_prune(spec, Objective.VAL_LOSS, running(3, [2.3]), losses, epoch=1)
    assert reason and reason.startswith("val_loss 2.3000 at epoch 1 is above the rung-1 cut 0.3000")
    assert should_prune(spec, Objective.VAL_LOSS, running(3, [0.25]), losses, epoch=1) is None


def test_the_last_epoch_and_the_none_pruner_never_prune():
    assert should_prune(PrunerSpec("asha", max_epochs=1), Objective.VAL_ACC, running(3, [0.0]), GOOD, 1) is None
    assert should_prune(PrunerSpec("none", max_epochs=4), Objective.VAL_ACC, running(3, [0.0]), GOOD, 1) is None


@pytest.mark.parametrize("name", ["asha", "hyperband", "median"])
def test_decisions_from_records_equal_those_of_a_live_optuna_study(name):
    # 25 trials with noisy learning curves run through a live study (report + should_prune every epoch);
    # at every step, should_prune on the records alone must agree with it.
    spec = PrunerSpec(name, max_epochs=9, min_epochs=1, reduction_factor=3, startup_trials=3)
    live = optuna.create_study(study_name=STUDY_NAME, direction="maximize", pruner=spec.rule.optuna_pruner())
    rng = random.Random(1)
    records: list[TrialRecord] = []
    decisions = {True: 0, False: 0}
    for number in range(25):
        quality, trial, values = rng.random(), live.ask(), {}
        for epoch in range(1, 10):
            values[epoch] = quality * (1 - 0.5**epoch) + rng.gauss(0, 0.02)
            trial.report(values[epoch], epoch)
            if epoch == 9:
                break
            stop = trial.should_prune()
            mine = should_prune(spec, Objective.VAL_ACC, running(number, list(values.values())), records, epoch)
            assert stop == (mine is not None), (number, epoch, mine)
            decisions[stop] += 1
            if stop:
                break
        if stop:
            live.tell(trial, state=optuna.trial.TrialState.PRUNED)
        else:
            live.tell(trial, values[epoch])
        state = TrialState.PRUNED if stop else TrialState.COMPLETED
        records.append(TrialRecord(number, {}, state, values[epoch], dict(values)))
    assert decisions[True] >= 5 and decisions[False] >= 20  # both kinds of decision were compared


def test_rungs_and_expected_epochs_follow_the_schedule():
    asha = PrunerSpec("asha", max_epochs=10, min_epochs=1, reduction_factor=3)
    assert rungs(asha) == [1, 3, 9]
    # All trials run epoch 1, a third run to 3, a ninth to 9, a 27th to 10.
    assert expected_epochs(asha, 27) == pytest.approx(27 * 1 + 9 * 2 + 3 * 6 + 1 * 1)
    assert rungs(PrunerSpec("asha", max_epochs=8, min_epochs=2, reduction_factor=2)) == [2, 4]
    assert rungs(PrunerSpec("median", max_epochs=5, min_epochs=2)) == [2, 3, 4]
    assert expected_epochs(PrunerSpec("median", max_epochs=10, min_epochs=2), 10) == pytest.approx(60)
    none = PrunerSpec("none", max_epochs=10)
    assert rungs(none) == [] and expected_epochs(none, 3) == 30
    hyperband = PrunerSpec("hyperband", max_epochs=27, min_epochs=1, reduction_factor=3)
    assert rungs(hyperband) == [1, 3, 9]
    assert expected_epochs(asha, 1) < expected_epochs(PrunerSpec("hyperband", max_epochs=10), 1) < 10


def test_a_bad_pruner_setting_is_refused_naming_it():
    with pytest.raises(SpaceError) as caught:
        PrunerSpec("patience", max_epochs=0)
    assert set(caught.value.errors) == {"pruner", "max_epochs"}
    with pytest.raises(SpaceError) as caught:
        PrunerSpec.from_dict({"name": "asha", "eta": 3})
    assert "unknown pruner setting eta" in caught.value.errors["pruner"]
    assert PrunerSpec.from_dict(PrunerSpec("median", max_epochs=5).to_dict()) == PrunerSpec("median", max_epochs=5)


def test_a_real_trial_at_learning_rate_10_is_pruned_at_its_first_rung_and_good_ones_run_to_the_end(tmp_path: Path):
    data = without_test(load_image_folder(write_pattern_folder(tmp_path / "data", per_class=40), 0.25, 0.0))
    spec = PrunerSpec("asha", max_epochs=3, min_epochs=1, reduction_factor=3)
    records: list[TrialRecord] = []
    for number, lr in enumerate([0.01, 0.03, 10.0]):
        params = {"lr": lr, "optimizer": "sgd" if lr == 10.0 else "adamw"}
        judge = PruneWeakTrials(spec, Objective.VAL_ACC, number, params, others=lambda: list(records))
        config = TrainConfig.from_dict({**TINY, "epochs": 3, **params})
        result = fit(config, data, [judge], checkpoint_dir=tmp_path / f"trial-{number}")
        records.append(record_from_result(number, params, result, Objective.VAL_ACC))
    good, better, hopeless = records
    assert good.state == better.state == TrialState.COMPLETED and good.epochs_run == better.epochs_run == 3
    assert hopeless.state == TrialState.PRUNED and hopeless.epochs_run == 1
    assert (tmp_path / "trial-2" / "last.pt").exists() and not (tmp_path / "trial-2" / "model.pt").exists()
    assert hopeless.value == hopeless.values[1] < 0.5 <= good.values[1]


def test_a_resumed_trial_is_judged_at_its_next_rung_with_the_epochs_it_ran_before():
    spec = PrunerSpec("asha", max_epochs=9, min_epochs=1, reduction_factor=3)
    others = [curve(i, [0.9, 0.92, 0.95 + 0.01 * i]) for i in range(3)]
    judge = PruneWeakTrials(spec, Objective.VAL_ACC, 3, {}, others=lambda: others, values={1: 0.95, 2: 0.93})
    third = EpochMetrics(3, 0.5, 0.8, val_loss=1.2, val_acc=0.5, lr=0.01, seconds=1.0, images_per_sec=100.0)
    judge.on_epoch_end(third)
    assert judge.record() == TrialRecord(3, {}, TrialState.RUNNING, 0.5, {1: 0.95, 2: 0.93, 3: 0.5})
    # Epoch 1 (0.95) passed rung 1; epoch 3 is judged at rung 2 against the others' epoch-3 values.
    assert judge.prune_reason(third) == (
        "val_acc 0.5000 at epoch 3 is below the rung-2 cut 0.9700 (ASHA, keeping the top 1/3 of 4 trials)"
    )
