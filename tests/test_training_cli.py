"""`python -m training`: the same pipeline from the command line, with progress on stdout."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import torch

from tests.images import write_pattern_folder
from training.__main__ import main

ROOT = Path(__file__).resolve().parent.parent
TINY_SETTINGS = [
    "--set",
    "depth=2",
    "--set",
    "width=8",
    "--set",
    "image_size=16",
    "--set",
    "device=cpu",
    "--set",
    "batch_size=8",
]


def test_a_run_from_the_command_line_trains_saves_and_can_be_extended(tmp_path):
    data = write_pattern_folder(tmp_path / "data", classes=3, per_class=10)
    out = tmp_path / "run"
    command = [
        sys.executable,
        "-m",
        "training",
        "--data",
        str(data),
        "--preset",
        "quick",
        *TINY_SETTINGS,
        "--set",
        "epochs=2",
        "--out",
        str(out),
    ]
    first = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr
    assert "training on cpu: 18 train / 6 val / 6 test images, 3 classes" in first.stdout
    assert "epoch 1: train_loss" in first.stdout and "epoch 2: train_loss" in first.stdout
    assert "completed after epoch 2" in first.stdout and "test accuracy" in first.stdout
    result = json.loads((out / "result.json").read_text())
    assert result["status"] == "completed" and result["config"]["epochs"] == 2 and len(result["history"]) == 2
    assert set(result["test"]) >= {"accuracy", "loss", "confusion_matrix", "per_class", "predictions"}
    assert torch.load(out / "model.pt", weights_only=True)["classes"] == ["class_0", "class_1", "class_2"]

    # The same command with more epochs and --resume trains the extra epochs only.
    command[command.index("epochs=2")] = "epochs=3"
    more = subprocess.run(
        [*command, "--resume", str(out / "last.pt")], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert more.returncode == 0, more.stderr
    assert "extending from" in more.stdout and "epoch 3: train_loss" in more.stdout
    assert "epoch 1: train_loss" not in more.stdout
    assert len(json.loads((out / "result.json").read_text())["history"]) == 3


def test_invalid_settings_are_reported_by_field(capsys, tmp_path):
    assert main(["--data", str(tmp_path), "--set", "lr=-1", "--set", "arch=alexnet"]) == 2
    err = capsys.readouterr().err
    assert "config error: lr: must be at least" in err and "config error: arch:" in err
    assert main(["--preset", "turbo"]) == 2
    assert "config error: presets: unknown preset 'turbo'" in capsys.readouterr().err


def test_a_missing_data_folder_is_reported(capsys, tmp_path):
    assert main(["--data", str(tmp_path / "nothing"), *TINY_SETTINGS]) == 2
    assert "no image folder at" in capsys.readouterr().err


def test_missing_pretrained_weights_are_reported_before_training(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    data = write_pattern_folder(tmp_path / "data", classes=2, per_class=4)
    assert main(["--data", str(data), "--preset", "transfer-feature-extract", "--set", "image_size=32"]) == 2
    out = capsys.readouterr()
    assert "resnet18-f37072fd.pth" in out.err and "epoch 1" not in out.out


def test_lists_and_the_resolved_config(capsys):
    assert main(["--list", "presets"]) == 0
    listed = capsys.readouterr().out
    assert "quick" in listed and "[recipe]" in listed and "transfer-finetune" in listed
    assert main(["--list", "models"]) == 0
    assert "inception_v3" in capsys.readouterr().out
    assert main(["--list", "augment-ops"]) == 0
    assert "randaugment" in capsys.readouterr().out
    assert main(["--preset", "quick", "--preset", "resnet18", "--set", "epochs=3", "--show-config"]) == 0
    config = json.loads(capsys.readouterr().out)
    assert (config["arch"], config["epochs"], config["image_size"]) == ("resnet18", 3, 32)
