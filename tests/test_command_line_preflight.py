"""`python -m training` runs the library's preflight before training, as the web form does: every
problem of this config with this data on this machine is printed by field, and nothing trains."""

from __future__ import annotations

from tests.images import write_pattern_folder
from tests.training_helpers import tiny_settings
from training.__main__ import main


def test_problems_of_the_config_with_this_data_are_named_by_field(tmp_path, capsys):
    data = write_pattern_folder(tmp_path / "data", classes=3, per_class=6)  # 12 training images
    settings = tiny_settings(batch_size=64, loss="bce", early_stopping=True)
    assert main(["--data", str(data), *settings, "--val-fraction", "0"]) == 2
    captured = capsys.readouterr()
    assert "config error: batch_size: Larger than the training split (15 images): use at most 15." in captured.err
    assert "config error: loss:" in captured.err and "2 classes" in captured.err
    assert "config error: early_stopping: early stopping needs a validation split" in captured.err
    assert "epoch" not in captured.out and "training on" not in captured.out


def test_missing_pretrained_weights_are_reported_before_training(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    data = write_pattern_folder(tmp_path / "data", classes=2, per_class=10)
    argv = ["--data", str(data), "--preset", "transfer-feature-extract", "--set", "image_size=32"]
    assert main([*argv, "--set", "batch_size=8", "--set", "device=cpu"]) == 2
    captured = capsys.readouterr()
    assert "config error: pretrained:" in captured.err and "resnet18-f37072fd.pth" in captured.err
    assert "epoch 1" not in captured.out
    assert not (tmp_path / "torch" / "hub").exists()  # and nothing was downloaded
