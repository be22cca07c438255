"""Real training on the demo digits: the quick preset's accuracy, and transfer beating scratch."""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import pytest

from tests.training_helpers import Recorder
from training import TrainConfig, fit, load_image_folder, resolve_config
from webapp.datasets.demo import write_digits_folder


@pytest.fixture(scope="module")
def digits(tmp_path_factory) -> Path:
    return write_digits_folder(tmp_path_factory.mktemp("digits") / "digits")


def test_the_quick_preset_reaches_97_percent_on_the_demo_digits(digits):
    # Measured: 98.9-99.3% over seeds 0-2, in about 15 s on 2 CPU cores.
    recorder = Recorder()
    result = fit(resolve_config(["quick"], {"device": "cpu"}), load_image_folder(digits), [recorder])
    assert result.status == "completed" and result.epochs_run == 8
    assert result.test["accuracy"] >= 0.97, result.test["accuracy"]
    assert result.test["top5_accuracy"] >= result.test["accuracy"]
    assert result.history[-1].val_acc >= 0.95
    assert result.history[-1].train_loss < result.history[0].train_loss
    assert recorder.start.num_train + recorder.start.num_val + recorder.start.num_test == 1797


def split_for_transfer(digits: Path, root: Path, seed: int = 0) -> tuple[Path, Path]:
    """Two datasets from disjoint halves of the digits.

    first: the ten digits (half of the images). second: a different task, even vs odd, with a single
    training image per digit (10 in all), so a network must bring its knowledge of digit shapes.
    """
    rng = random.Random(seed)
    first, second = root / "first", root / "second"
    for digit in range(10):
        files = sorted((digits / str(digit)).iterdir())
        rng.shuffle(files)
        half = len(files) // 2
        (first / str(digit)).mkdir(parents=True)
        for f in files[:half]:
            shutil.copy(f, first / str(digit) / f.name)
        parity = "odd" if digit % 2 else "even"
        rest = files[half:]
        for split, part in (("train", rest[:1]), ("val", rest[1:3]), ("test", rest[3:])):
            (second / split / parity).mkdir(parents=True, exist_ok=True)
            for f in part:
                shutil.copy(f, second / split / parity / f.name)
    return first, second


# A small CNN, the same for pretraining and for the small related dataset it is fine-tuned on.
TRANSFER_BASE = {
    "arch": "small_cnn",
    "depth": 3,
    "width": 16,
    "image_size": 16,
    "device": "cpu",
    "optimizer": "adamw",
    "lr": 3e-3,
    "scheduler": "onecycle",
    "augmentation": "none",
    "seed": 0,
}


def pretrained_run(digits, tmp_path):
    """A run trained on half the digits (ten classes), and the folder of the small even/odd dataset."""
    first, second = split_for_transfer(digits, tmp_path)
    earlier = fit(
        TrainConfig.from_dict({**TRANSFER_BASE, "epochs": 5, "batch_size": 32}),
        load_image_folder(first, 0.1, 0.0),
        checkpoint_dir=tmp_path / "earlier",
    )
    return earlier, second


def test_fine_tuning_a_trained_model_beats_training_from_scratch_on_a_small_dataset(digits, tmp_path):
    base = TRANSFER_BASE
    earlier, second = pretrained_run(digits, tmp_path)
    assert earlier.history[-1].val_acc > 0.9

    small = load_image_folder(second)
    assert len(small.train) == 10 and small.classes == ["even", "odd"]
    config = TrainConfig.from_dict({**base, "epochs": 10, "batch_size": 5})  # the same budget for both
    scratch = fit(config, small)
    recorder = Recorder()
    tuned = fit(config, small, [recorder], init_from=earlier.model_path)

    # Measured over seeds 0-2: scratch 80-86%, fine-tuned 90-93%.
    assert tuned.test["accuracy"] > scratch.test["accuracy"] + 0.03, (scratch.test["accuracy"], tuned.test["accuracy"])
    assert any("new head for 2 classes" in line for line in recorder.logs)
    assert any("starting run's statistics" in line for line in recorder.logs)
