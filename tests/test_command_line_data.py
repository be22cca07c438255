"""`python -m training --data FOLDER`: the folder is read by the layout rules the web's uploads follow
(`training.layout`): class folders, any of train/val/test (and their aliases), a wrapper folder, a labels
CSV; a folder the rules refuse is named with the web's message, and nothing trains."""

from __future__ import annotations

import csv

from tests.images import class_entries, image_bytes, write_entries
from tests.training_helpers import tiny_settings
from training.__main__ import main


def test_train_and_test_folders_without_val_are_two_splits_not_two_classes(tmp_path, capsys):
    # The bug this guards against: train/ and test/ were read as the classes "train" and "test".
    data = write_entries(
        tmp_path / "animals", {**class_entries(3, 10, "train/"), **class_entries(3, 4, "test/", seed=1)}
    )
    assert main(["--data", str(data), *tiny_settings(), "--val-fraction", "0.2"]) == 0
    out = capsys.readouterr().out
    # val drawn from train (2 of each class's 10), test as given: 3 classes, not 2.
    assert "training on cpu: 24 train / 6 val / 12 test images, 3 classes" in out
    assert "completed after epoch 1" in out


def test_split_folder_aliases_are_read_as_the_web_reads_them(tmp_path, capsys):
    entries = {
        **class_entries(2, 8, "flowers/training/"),
        **class_entries(2, 3, "flowers/validation/", seed=1),
        **class_entries(2, 3, "flowers/testing/", seed=2),
    }
    assert main(["--data", str(write_entries(tmp_path / "zipped", entries)), *tiny_settings()]) == 0
    assert "16 train / 6 val / 6 test images, 2 classes" in capsys.readouterr().out


def test_a_folder_labelled_by_a_csv_trains(tmp_path, capsys):
    entries = {f"images/{c}{i}.png": image_bytes(seed=10 * n + i) for n, c in enumerate("ab") for i in range(10)}
    with open(write_entries(tmp_path / "kaggle", entries) / "labels.csv", "w", newline="") as f:
        csv.writer(f).writerows([["filename", "label"], *[[name.split("/")[1], name[7]] for name in entries]])
    assert main(["--data", str(tmp_path / "kaggle"), *tiny_settings()]) == 0
    assert "12 train / 4 val / 4 test images, 2 classes" in capsys.readouterr().out


def test_a_refused_layout_is_named_and_nothing_trains(tmp_path, capsys):
    entries = {**class_entries(2, 6, "train/"), **class_entries(2, 6, "cats_and_dogs/"), "loose.png": image_bytes()}
    assert main(["--data", str(write_entries(tmp_path / "mixed", entries)), *tiny_settings()]) == 2
    captured = capsys.readouterr()
    assert "data error: Folders next to the split folders" in captured.err and "cats_and_dogs" in captured.err
    assert "Images outside class folders (1): loose.png." in captured.err
    assert "epoch" not in captured.out


def test_a_missing_data_folder_is_reported(capsys, tmp_path):
    assert main(["--data", str(tmp_path / "nothing"), *tiny_settings()]) == 2
    assert "data error: no image folder at" in capsys.readouterr().err
