"""Real training on small data: the default recipe, adapted to a hundred-odd training images, learns
them (where batches of 64 made one step an epoch); the same recipe on the full demo digits is what it
was; a plain small CNN does no better; and transfer from an in-house run pays in every transfer mode.

Slow on a loaded machine (each run is seconds on 2 idle cores, minutes when they are shared)."""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import pytest

from tests.test_training_quality import TRANSFER_BASE, pretrained_run
from training import TrainConfig, fit, load_image_folder, resolve_config
from training.presets import resolve
from training.steps import total_steps
from webapp.datasets.demo import write_digits_folder

# The baseline for "presets that earn their place": 3 conv blocks with batch norm, Adam 1e-3,
# batch 64, 15 epochs, no augmentation.
PLAIN_SMALL_CNN = {
    "arch": "small_cnn",
    "depth": 3,
    "width": 32,
    "batch_norm": True,
    "image_size": 32,
    "optimizer": "adam",
    "lr": 1e-3,
    "weight_decay": 0.0,
    "scheduler": "none",
    "augmentation": "none",
    "epochs": 15,
    "batch_size": 64,
    "device": "cpu",
}


@pytest.fixture(scope="module")
def digits(tmp_path_factory) -> Path:
    return write_digits_folder(tmp_path_factory.mktemp("digits") / "digits")


def few_digits(digits: Path, root: Path, seed: int, train: int = 12, val: int = 3, test: int = 20) -> Path:
    """A 10-class dataset of 120 training images (12 a digit) drawn from the demo digits, with its own
    validation images and a held-out test split of other images of the same kind."""
    rng = random.Random(seed)
    for digit in range(10):
        files = sorted((digits / str(digit)).iterdir())
        rng.shuffle(files)
        parts = {"train": files[:train], "val": files[train : train + val], "test": files[train + val :][:test]}
        for split, part in parts.items():
            (root / split / str(digit)).mkdir(parents=True, exist_ok=True)
            for f in part:
                shutil.copy(f, root / split / str(digit) / f.name)
    return root


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_default_recipe_learns_120_images(digits, tmp_path, seed):
    # Measured: 94-96% over seeds 0-2 (the quick recipe as written, batches of 64: 12-16%).
    data = load_image_folder(few_digits(digits, tmp_path, seed))
    assert len(data.train) == 120 and data.num_classes == 10
    resolved = resolve(["quick"], {"device": "cpu", "seed": seed}, train_size=len(data.train))
    config = resolved.config
    assert (config.batch_size, config.epochs) == (16, 22) and total_steps(120, 16, 22) >= 150
    result = fit(config, data)
    assert result.test["accuracy"] >= 0.85, result.test["accuracy"]
    if seed == 0:  # the plain small CNN on the same images: one step an epoch, it barely learns
        plain = fit(TrainConfig.from_dict({**PLAIN_SMALL_CNN, "seed": seed}), data)
        assert result.test["accuracy"] >= plain.test["accuracy"], (result.test, plain.test)


def test_the_full_demo_digits_get_the_recipe_as_it_was(digits):
    # The adaptation leaves a training split of 1,259 images alone: the quick recipe's 98.9-99.3% on the
    # full digits (tests/test_training_quality.py) is unchanged, config for config.
    data = load_image_folder(digits)
    resolved = resolve(["quick"], {"device": "cpu"}, train_size=len(data.train))
    assert resolved.adapted == {} and resolved.config == resolve_config(["quick"], {"device": "cpu"})
    assert total_steps(len(data.train), 64, 8) >= resolved.needs.min_steps


def test_every_transfer_mode_from_an_in_house_run_beats_scratch_on_a_small_related_dataset(digits, tmp_path):
    # Pretrained on half the digits (ten classes), fine-tuned on even vs odd with ten training images.
    # Measured (seed 0): scratch 80%, full 91%, lower_backbone_lr 88%, gradual_unfreeze 89%, feature_extract 84%.
    base = TRANSFER_BASE
    earlier, second = pretrained_run(digits, tmp_path)
    small = load_image_folder(second)
    config = TrainConfig.from_dict({**base, "epochs": 10, "batch_size": 5})  # the same budget for every mode
    scratch = fit(config, small).test["accuracy"]
    gains = {}
    for mode in ("full", "lower_backbone_lr", "gradual_unfreeze", "feature_extract"):
        tuned = fit(config.replace(transfer_mode=mode), small, init_from=earlier.model_path)
        gains[mode] = tuned.test["accuracy"] - scratch
    assert all(gain > 0 for gain in gains.values()), (scratch, gains)
    assert gains["full"] >= 0.05, (scratch, gains)
