"""Warnings before a wasted run, from the one preflight the command line and the form share: too few
optimizer steps, a class smaller than a batch, a validation split too small to stop early on, and
few-shot classes the split could not give a validation or test image (`training.layout`)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.helpers import experiment_form
from tests.images import write_pattern_folder
from tests.training_helpers import tiny_settings
from training import Splits, TrainConfig, load_image_folder, preflight
from training.__main__ import main
from training.layout import held_out_sizes, stratified_split


@pytest.mark.parametrize(
    ("n", "expected"),
    [(1, (0, 0)), (2, (1, 0)), (3, (1, 1)), (4, (1, 1)), (12, (2, 2)), (100, (15, 15))],
)
def test_each_class_keeps_a_test_then_a_validation_image_where_it_can(n, expected):
    assert held_out_sizes(n, 0.15, 0.15) == expected  # (test, val)
    test, val = expected
    assert n - test - val >= 1  # one image always trains


def test_fractions_that_would_leave_nothing_to_train_leave_one():
    assert held_out_sizes(4, 0.45, 0.45) == (2, 1)  # (test, val): validation gives way first
    assert held_out_sizes(2, 0.5, 0.0) == (0, 1)  # no test asked for: the second image validates


def test_a_few_shot_split_gives_every_class_of_three_a_val_and_a_test_image():
    samples = [(f"{c}/{i}.png", c) for c in range(5) for i in range(3)] + [("5/0.png", 5), ("5/1.png", 5)]
    train, val, test = stratified_split(samples, 0.15, 0.15, seed=0)
    assert {label for _, label in val} == set(range(5))
    assert {label for _, label in test} == set(range(6))
    assert {label for _, label in train} == set(range(6))


def splits(per_class: dict[str, tuple[int, int, int]]) -> Splits:
    """Splits with (train, val, test) images per class (paths are never read by the preflight)."""
    classes = sorted(per_class)
    parts: dict[str, list] = {"train": [], "val": [], "test": []}
    for index, name in enumerate(classes):
        for split, count in zip(parts, per_class[name], strict=True):
            parts[split] += [(f"{split}/{name}/{i}.png", index) for i in range(count)]
    return Splits(classes, parts["train"], parts["val"], parts["test"])


def test_too_few_steps_are_a_warning_naming_the_count():
    data = splits({"a": (60, 5, 5), "b": (57, 5, 5)})
    report = preflight(TrainConfig.from_dict({"batch_size": 64, "epochs": 8}), data)
    assert report.ok  # a warning lets the run go ahead
    assert report.warnings["epochs"].startswith("Only 8 optimizer steps in total (1 per epoch: 117 training images")
    fine = preflight(TrainConfig.from_dict({"batch_size": 16, "epochs": 22}), data)
    assert "epochs" not in fine.warnings


def test_a_class_smaller_than_a_batch_is_named():
    data = splits({"common": (200, 20, 20), "rare": (5, 1, 1)})
    report = preflight(TrainConfig.from_dict({"batch_size": 32, "epochs": 20}), data)
    assert "1 of 2 classes have fewer training images than a batch of 32 (rare: 5)" in report.warnings["batch_size"]
    assert "batch_size" not in preflight(TrainConfig.from_dict({"batch_size": 4, "epochs": 20}), data).warnings


def test_a_validation_split_too_small_to_stop_early_on_is_a_warning():
    data = splits({"a": (100, 4, 4), "b": (100, 4, 4)})
    stopping = TrainConfig.from_dict({"batch_size": 16, "epochs": 20, "early_stopping": True})
    assert "only 8 images: one image moves its accuracy by 12%" in preflight(stopping, data).warnings["early_stopping"]
    assert "early_stopping" not in preflight(stopping.replace(early_stopping=False), data).warnings
    bigger = splits({"a": (100, 10, 4), "b": (100, 10, 4)})
    assert "early_stopping" not in preflight(stopping, bigger).warnings


def test_classes_without_a_validation_or_test_image_are_named():
    data = splits({"a": (10, 2, 2), "pair": (1, 0, 1), "single": (1, 0, 0)})
    warnings = preflight(TrainConfig.from_dict({"batch_size": 4, "epochs": 20}), data).warnings
    assert (
        warnings["val_split"].startswith("2 classes have no validation image")
        and "pair, single" in warnings["val_split"]
    )
    assert warnings["test_split"].startswith("1 class has no test image") and "single" in warnings["test_split"]


def test_the_command_line_prints_the_warnings_and_trains_anyway(tmp_path, capsys):
    data = write_pattern_folder(tmp_path / "data", classes=3, per_class=2)  # each class: 1 to train, 1 to test
    assert load_image_folder(data).counts() == {"train": 3, "val": 0, "test": 3}
    assert main(["--data", str(data), *tiny_settings(batch_size=2, epochs=1)]) == 0
    captured = capsys.readouterr()
    assert "warning: epochs: Only 1 optimizer step in total" in captured.err
    assert "warning: batch_size: 3 of 3 classes have fewer training images than a batch of 2" in captured.err
    assert "epoch 1" in captured.out  # it ran


def test_show_config_prints_the_same_warnings(tmp_path, capsys):
    data = write_pattern_folder(tmp_path / "data", classes=3, per_class=6)
    argv = ["--data", str(data), *tiny_settings(batch_size=4, epochs=1, early_stopping=True), "--show-config"]
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "warning: epochs: Only 3 optimizer steps in total" in err
    assert "warning: early_stopping: The validation split has only 3 images" in err


@pytest.mark.django_db
def test_the_forms_preview_shows_the_warnings_by_field(client, owner, tiny_dataset):
    client.force_login(owner)  # tiny_dataset: 3 classes, 8 training and 2 validation images each
    form = experiment_form(tiny_dataset, batch_size=16, epochs=100, early_stopping="on")
    response = client.post(reverse("api_resolve_config"), form)
    assert response.status_code == 200
    warnings = response.json()["warnings"]
    assert set(warnings) == {"batch_size", "early_stopping"}
    assert "3 of 3 classes have fewer training images than a batch of 16" in warnings["batch_size"]
    assert "The validation split has only 6 images" in warnings["early_stopping"]
