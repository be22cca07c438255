"""Early stopping: a run whose validation loss stops improving stops, says why and when, and keeps
the best epoch's weights."""

from __future__ import annotations

import random

import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from tests.training_helpers import TINY, Recorder
from training import Splits, TrainConfig, fit, load_image_folder
from training.data import decode, normalize
from training.early_stopping import EarlyStopping


@pytest.fixture(scope="module")
def noise(tmp_path_factory) -> Splits:
    """Random images under random labels: nothing to learn, so the validation loss soon rises as the
    network memorizes its training images."""
    root = tmp_path_factory.mktemp("noise")
    rng = random.Random(0)
    for c in range(3):
        (root / f"class_{c}").mkdir()
        for i in range(20):
            Image.frombytes("RGB", (12, 12), rng.randbytes(12 * 12 * 3)).save(root / f"class_{c}" / f"{i}.png")
    return load_image_folder(root, val_fraction=0.3, test_fraction=0.15)


def val_loss_of(model: torch.nn.Module, data: Splits, mean: list[float], std: list[float], size: int) -> float:
    x, y = decode(data.val, size)
    model.eval()
    with torch.no_grad():
        return F.cross_entropy(model(normalize(x, mean, std)), y).item()


CONFIG = {
    **TINY,
    "width": 16,
    "epochs": 30,
    "batch_size": 8,
    "lr": 0.01,
    "scheduler": "none",
    "early_stopping": True,
    "monitor": "val_loss",
    "patience": 3,
}


def test_a_run_whose_validation_loss_stops_improving_stops_and_restores_the_best_weights(noise, tmp_path):
    recorder = Recorder()
    result = fit(TrainConfig.from_dict(CONFIG), noise, [recorder], checkpoint_dir=tmp_path)

    losses = [m.val_loss for m in result.history]
    best = losses.index(min(losses)) + 1
    assert result.status == "stopped_early"
    assert result.epochs_run == best + 3 < 30  # patience 3: three epochs without improvement after the best
    assert (result.best_epoch, result.best_value, result.monitor) == (best, min(losses), "val_loss")
    assert recorder.early_stops == [(result.epochs_run, result.stop_reason)]
    assert f"best {min(losses):.4f} at epoch {best}" in result.stop_reason
    assert f"stopped after epoch {result.epochs_run}" in result.stop_reason

    # The final model is the best epoch's: its validation loss is the best one, not the last one.
    assert result.restored_best
    restored = val_loss_of(result.model, noise, recorder.start.mean, recorder.start.std, 16)
    assert restored == pytest.approx(min(losses), abs=1e-5)
    assert restored < losses[-1]
    assert torch.load(result.model_path, weights_only=True)["epoch"] == best
    assert any(f"restored the weights of epoch {best}" in line for line in recorder.logs)


def test_without_restoring_the_last_weights_are_kept(noise):
    recorder = Recorder()
    result = fit(TrainConfig.from_dict({**CONFIG, "restore_best_weights": False}), noise, [recorder])
    assert result.status == "stopped_early" and not result.restored_best
    last = val_loss_of(result.model, noise, recorder.start.mean, recorder.start.std, 16)
    assert last == pytest.approx(result.history[-1].val_loss, abs=1e-5)


def test_without_early_stopping_the_run_goes_on_and_still_reports_its_best_epoch(noise):
    result = fit(TrainConfig.from_dict({**CONFIG, "early_stopping": False, "epochs": 6}), noise)
    assert result.status == "completed" and result.epochs_run == 6 and not result.restored_best
    losses = [m.val_loss for m in result.history]
    assert result.best_epoch == losses.index(min(losses)) + 1


@pytest.mark.parametrize(
    ("mode", "values", "best_epoch", "stopped_after"),
    [
        ("min", [1.0, 0.9, 0.95, 0.91, 0.92], 2, 5),  # the best is 0.9; three worse epochs follow
        ("max", [0.5, 0.6, 0.55, 0.7, 0.7], 4, None),  # 0.7 ties: no stop within 5 epochs
    ],
)
def test_early_stopping_follows_mode_and_patience(mode, values, best_epoch, stopped_after):
    tracker = EarlyStopping("val", mode, patience=3)
    stopped = None
    for epoch, value in enumerate(values, 1):
        tracker.update(epoch, value)
        if tracker.triggered and stopped is None:
            stopped = epoch
    assert (tracker.best_epoch, stopped) == (best_epoch, stopped_after)


def test_an_improvement_must_beat_min_delta():
    tracker = EarlyStopping("val_loss", "min", patience=2, min_delta=0.05)
    assert tracker.update(1, 1.0)
    assert not tracker.update(2, 0.97)  # better, but by less than min_delta
    assert tracker.update(3, 0.9)
    assert tracker.best_epoch == 3 and tracker.wait == 0
    assert EarlyStopping.resolve_mode("val_acc", "auto") == "max"
    assert EarlyStopping.resolve_mode("val_loss", "auto") == "min"


def test_early_stopping_needs_a_validation_split(tmp_path):
    from training import ConfigError

    data = Splits(["a", "b"], [("a.png", 0), ("b.png", 1)], [])
    with pytest.raises(ConfigError) as info:
        fit(TrainConfig.from_dict(CONFIG), data)
    assert "validation split" in info.value.errors["early_stopping"]
