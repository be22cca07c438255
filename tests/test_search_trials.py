"""Trials and the test split: trials train without it, the best is tested afterwards exactly as `fit` would
have tested it, and a finished run becomes a record."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.images import write_pattern_folder
from tests.training_helpers import TINY
from training import FitResult, Outcome, TrainConfig, fit, load_image_folder
from training.callbacks import EpochMetrics
from training.search import Objective, TrialState
from training.search.trials import evaluate_on_test, record_from_result, without_test


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return load_image_folder(write_pattern_folder(tmp_path_factory.mktemp("data"), per_class=12), 0.25, 0.25)


@pytest.mark.parametrize(
    "settings",
    [
        {"epochs": 3},
        # Stops early (after epoch 9) with the weights of its best epoch (8) restored: the test must use those.
        {"epochs": 12, "early_stopping": True, "monitor": "val_loss", "patience": 1, "lr": 0.05},
    ],
)
def test_a_trial_tested_afterwards_gets_exactly_the_report_fit_would_have_given(data, tmp_path: Path, settings):
    config = TrainConfig.from_dict({**TINY, **settings})
    direct = fit(config, data)
    if config.early_stopping:
        assert direct.status == Outcome.STOPPED_EARLY and direct.restored_best and direct.best_epoch < direct.epochs_run
    trial = fit(config, without_test(data), checkpoint_dir=tmp_path / "trial")
    assert trial.test is None and trial.status == direct.status and trial.epochs_run == direct.epochs_run

    tested = evaluate_on_test(config, data, tmp_path / "trial", trial.epochs_run)
    assert tested.epochs_run == trial.epochs_run and tested.restored_best == direct.restored_best
    assert tested.test["accuracy"] == direct.test["accuracy"] and tested.test["loss"] == direct.test["loss"]
    assert tested.test["confusion_matrix"] == direct.test["confusion_matrix"]
    assert Path(tested.model_path) == tmp_path / "trial" / "model.pt"


def metrics(epoch: int, val_acc: float) -> EpochMetrics:
    return EpochMetrics(epoch, 1.0, 0.5, 1.0, val_acc, 0.01, 1.0, 100.0)


@pytest.mark.parametrize(
    "status, restored, state, value",
    [
        (Outcome.COMPLETED, False, TrialState.COMPLETED, 0.7),
        (Outcome.STOPPED_EARLY, True, TrialState.COMPLETED, 0.9),  # the restored best epoch's weights
        (Outcome.PRUNED, False, TrialState.PRUNED, 0.7),
        (Outcome.CANCELLED, False, TrialState.CANCELLED, 0.7),
    ],
)
def test_a_finished_run_becomes_a_record_with_the_objective_of_its_final_weights(status, restored, state, value):
    history = [metrics(1, 0.5), metrics(2, 0.9), metrics(3, 0.7)]
    result = FitResult(status, 3, history, best_epoch=2, restored_best=restored)
    record = record_from_result(4, {"lr": 0.1}, result, Objective.VAL_ACC, seconds=3.5)
    assert (record.number, record.params, record.state, record.seconds) == (4, {"lr": 0.1}, state, 3.5)
    assert record.value == value and record.values == {1: 0.5, 2: 0.9, 3: 0.7}
