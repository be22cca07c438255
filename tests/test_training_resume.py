"""Checkpoints: a run interrupted after epoch k and resumed ends exactly where the uninterrupted run
ends; a finished run can be extended by more epochs; a cancelled run keeps its last checkpoint."""

from __future__ import annotations

import math

import pytest
import torch

from tests.images import write_pattern_folder
from tests.training_helpers import TINY, Recorder, comparable, same_weights
from training import ConfigError, Splits, TrainConfig, fit, load_image_folder
from training import checkpoint as ckpt

# Dropout, augmentation with per-sample randomness, a schedule with warmup: everything random is exercised.
RESUMABLE = {
    **TINY,
    "epochs": 3,
    "batch_size": 8,
    "dropout": 0.3,
    "augmentation": "heavy",
    "scheduler": "cosine",
    "warmup_epochs": 1.0,
}


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Splits:
    return load_image_folder(write_pattern_folder(tmp_path_factory.mktemp("patterns"), classes=3, per_class=14))


@pytest.mark.parametrize("path", ["memory", "stream"])
def test_a_run_resumed_after_an_interruption_ends_exactly_as_an_uninterrupted_one(data, tmp_path, path):
    config = TrainConfig.from_dict({**RESUMABLE, "data_loading": path, "num_workers": 2})
    whole = fit(config, data, checkpoint_dir=tmp_path / "whole")

    interrupted = Recorder(stop_at=(2, 2))  # cancelled in the middle of epoch 2: the checkpoint of epoch 1 stays
    first = fit(config, data, [interrupted], checkpoint_dir=tmp_path / "parts", progress_interval=0)
    assert (first.status, first.epochs_run, first.test) == ("cancelled", 1, None)
    assert [epoch for _, epoch in interrupted.checkpoints] == [1]

    resumed = Recorder()
    second = fit(config, data, [resumed], checkpoint_dir=tmp_path / "parts", resume_from=tmp_path / "parts" / "last.pt")
    assert resumed.start.start_epoch == 2
    assert [m.epoch for m in resumed.epochs] == [2, 3]
    assert second.status == "completed" and second.epochs_run == 3
    assert comparable(second.history) == comparable(whole.history)
    assert same_weights(second.model.state_dict(), whole.model.state_dict())
    assert second.test == whole.test


def test_extending_a_finished_run_continues_on_the_longer_schedule(data, tmp_path):
    short = TrainConfig.from_dict({**RESUMABLE, "epochs": 2, "warmup_epochs": 0.0})
    finished = fit(short, data, checkpoint_dir=tmp_path / "run")
    assert finished.status == "completed" and finished.history[-1].lr < short.lr * 0.2  # cosine near its end

    longer = short.replace(epochs=4)
    recorder = Recorder()
    extended = fit(longer, data, [recorder], checkpoint_dir=tmp_path / "run", resume_from=tmp_path / "run" / "last.pt")
    assert extended.status == "completed" and extended.epochs_run == 4
    assert [m.epoch for m in recorder.epochs] == [3, 4]
    assert comparable(extended.history[:2]) == comparable(finished.history)
    assert any(line.startswith("extending from") for line in recorder.logs)
    assert ckpt.load(tmp_path / "run" / "last.pt")["epoch"] == 4

    # The extra epochs follow the 4-epoch schedule as if planned from the start: the same rates an
    # uninterrupted 4-epoch run uses there (a warm restart well below the peak, decaying to zero).
    planned = fit(longer, data)
    assert [m.lr for m in extended.history[2:]] == [m.lr for m in planned.history[2:]]
    assert finished.history[-1].lr < extended.history[2].lr < longer.lr


def test_extending_a_run_that_stopped_early_gives_it_new_patience(data, tmp_path):
    config = TrainConfig.from_dict(
        {
            **TINY,
            "epochs": 8,
            "early_stopping": True,
            "patience": 1,
            "lr": 0.5,
            "scheduler": "none",
            "monitor": "val_acc",
            "min_delta": 0.5,
        }
    )
    stopped = fit(config, data, checkpoint_dir=tmp_path / "run")
    assert stopped.status == "stopped_early" and stopped.epochs_run == 2  # val_acc cannot improve by 0.5

    more = config.replace(epochs=stopped.epochs_run + 2)
    extended = fit(more, data, checkpoint_dir=tmp_path / "run", resume_from=tmp_path / "run" / "last.pt")
    assert extended.epochs_run == 3 and extended.status == "stopped_early"  # ran again, until patience ran out


def test_a_checkpoint_holds_everything_to_resume_and_loads_safely(data, tmp_path):
    config = TrainConfig.from_dict({**RESUMABLE, "epochs": 1, "warmup_epochs": 0.0, "early_stopping": True})
    result = fit(config, data, checkpoint_dir=tmp_path)
    state = torch.load(tmp_path / "last.pt", weights_only=True)  # no pickled code
    assert {
        "epoch",
        "model",
        "optimizer",
        "schedule",
        "scaler",
        "early_stopping",
        "best_model",
        "history",
        "config",
        "classes",
        "mean",
        "std",
    } <= set(state)
    assert state["config"] == config.to_dict() and state["classes"] == data.classes
    assert state["early_stopping"]["best_epoch"] == 1
    final = torch.load(result.model_path, weights_only=True)
    assert same_weights(final["model"], result.model.state_dict())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.pt", "model.pt"]  # no temporary files left


def test_resuming_with_a_different_experiment_is_refused_naming_the_field(data, tmp_path):
    config = TrainConfig.from_dict({**TINY, "epochs": 2})
    fit(config, data, checkpoint_dir=tmp_path)
    last = tmp_path / "last.pt"
    with pytest.raises(ConfigError) as info:
        fit(config.replace(lr=0.1), data, resume_from=last)
    assert "lr" in info.value.errors
    with pytest.raises(ConfigError) as info:
        fit(config.replace(epochs=1), data, resume_from=last)
    assert "already holds epoch 2" in info.value.errors["epochs"]
    other = Splits(["x", "y", "z"], data.train, data.val, data.test)
    with pytest.raises(ConfigError) as info:
        fit(config, other, resume_from=last)
    assert "init_from" in info.value.errors["__all__"]


def test_cancelling_keeps_the_last_completed_epoch(data, tmp_path):
    recorder = Recorder(stop_at=(1, 1))
    result = fit(
        TrainConfig.from_dict({**TINY, "epochs": 3, "batch_size": 8}),
        data,
        [recorder],
        checkpoint_dir=tmp_path,
        progress_interval=0,
    )
    assert (result.status, result.epochs_run, result.history, result.test) == ("cancelled", 0, [], None)
    assert "cancelled during epoch 1" in result.stop_reason
    assert not (tmp_path / "last.pt").exists() and recorder.result is result


def test_the_same_seed_gives_the_same_run_and_another_seed_another(data):
    config = TrainConfig.from_dict({**RESUMABLE, "epochs": 1, "warmup_epochs": 0.0})
    a, b = fit(config, data), fit(config, data)
    c = fit(config.replace(seed=1), data)
    assert comparable(a.history) == comparable(b.history)
    assert same_weights(a.model.state_dict(), b.model.state_dict())
    assert not math.isclose(a.history[0].train_loss, c.history[0].train_loss)
