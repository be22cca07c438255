"""`python -m training --data FOLDER --out DIR`: the worker's pipeline from a shell, with progress on
stdout, a checkpoint, the final model and a result file; the same command with --resume extends it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import torch

from tests.images import write_pattern_folder
from tests.training_helpers import tiny_settings

ROOT = Path(__file__).resolve().parent.parent


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "training", *args], cwd=ROOT, capture_output=True, text=True, timeout=300
    )


def test_a_run_trains_saves_and_can_be_extended(tmp_path):
    data = write_pattern_folder(tmp_path / "data", classes=3, per_class=10)
    out = tmp_path / "run"
    settings = tiny_settings(epochs=2)
    first = run("--data", str(data), *settings, "--out", str(out))
    assert first.returncode == 0, first.stderr
    assert "training on cpu: 18 train / 6 val / 6 test images, 3 classes" in first.stdout
    assert "epoch 1: train_loss" in first.stdout and "epoch 2: train_loss" in first.stdout
    assert "completed after epoch 2" in first.stdout and "test accuracy" in first.stdout
    result = json.loads((out / "result.json").read_text())
    assert result["status"] == "completed" and result["config"]["epochs"] == 2 and len(result["history"]) == 2
    assert set(result["test"]) >= {"accuracy", "loss", "confusion_matrix", "per_class", "predictions"}
    assert torch.load(out / "model.pt", weights_only=True)["classes"] == ["class_0", "class_1", "class_2"]
    assert torch.load(out / "last.pt", weights_only=True)["epoch"] == 2

    # The same command with more epochs and --resume trains the extra epochs only.
    more = run("--data", str(data), *settings, "--set=epochs=3", "--out", str(out), "--resume", str(out / "last.pt"))
    assert more.returncode == 0, more.stderr
    assert "extending from" in more.stdout and "epoch 3: train_loss" in more.stdout
    assert "epoch 1: train_loss" not in more.stdout
    assert [m["epoch"] for m in json.loads((out / "result.json").read_text())["history"]] == [1, 2, 3]


def test_a_resumed_run_may_not_change_what_it_trains(tmp_path):
    data = write_pattern_folder(tmp_path / "data", classes=2, per_class=10)
    out = tmp_path / "run"
    assert run("--data", str(data), *tiny_settings(), "--out", str(out)).returncode == 0
    changed = run("--data", str(data), *tiny_settings(lr=0.5), "--resume", str(out / "last.pt"))
    assert changed.returncode == 2
    assert "config error: lr: differs from the checkpoint's (0.01)" in changed.stderr
    assert "epoch" not in changed.stdout
