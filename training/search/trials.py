"""Running trials with `fit`: the record a finished run gives, and the one use of the test split.

A sweep chooses on the validation split only: its trials train on data without a test split (so `fit`
never evaluates one), and only the best trial is tested at the end, from its checkpoint.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from training.callbacks import FitResult, Outcome
from training.config import TrainConfig
from training.data import Splits
from training.engine import CHECKPOINT_NAME, fit
from training.search.records import Objective, TrialRecord, TrialState

TRIAL_STATES = {
    Outcome.COMPLETED: TrialState.COMPLETED,
    Outcome.STOPPED_EARLY: TrialState.COMPLETED,
    Outcome.PRUNED: TrialState.PRUNED,
    Outcome.CANCELLED: TrialState.CANCELLED,
}


def without_test(data: Splits) -> Splits:
    """The splits a trial trains on: train and validation, no test."""
    return dataclasses.replace(data, test=[])


def record_from_result(
    number: int, params: Mapping[str, Any], result: FitResult, objective: Objective, seconds: float = 0.0
) -> TrialRecord:
    """A finished trial's record: its state, objective (of the final weights; the last epoch's when pruned)
    and the objective after every epoch."""
    values = {m.epoch: v for m in result.history if (v := objective.of(m)) is not None}
    state = TRIAL_STATES[result.status]
    value = objective.final_value(result) if state == TrialState.COMPLETED else values.get(max(values, default=0))
    return TrialRecord(number, dict(params), state, value, values, seconds)


def evaluate_on_test(config: TrainConfig, data: Splits, checkpoint_dir: str | Path, epochs_run: int) -> FitResult:
    """Test a finished trial (completed or stopped early) from its `last.pt`, writing its tested `model.pt`.

    Resuming a run at the epoch it ended trains nothing: `fit` goes straight to its own test evaluation,
    restoring the best epoch's weights where the trial's config says so, exactly as the trial would have.
    Raises ConfigError (naming the field) when the checkpoint does not fit the config or data."""
    folder = Path(checkpoint_dir)
    return fit(config.replace(epochs=epochs_run), data, checkpoint_dir=folder, resume_from=folder / CHECKPOINT_NAME)
