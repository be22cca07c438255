"""Ctrl-C in `python -m training`: the first one stops the run after the current batch, as the web's
cancel does, keeping the last epoch's checkpoint (exit status 1); the run resumes from it."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import torch

from tests.helpers import wait_until
from tests.images import write_pattern_folder
from tests.training_helpers import tiny_settings

ROOT = Path(__file__).resolve().parent.parent


def test_ctrl_c_stops_after_the_batch_and_keeps_the_checkpoint_to_resume_from(tmp_path):
    data = write_pattern_folder(tmp_path / "data", classes=2, per_class=10)
    out, log = tmp_path / "run", tmp_path / "stdout.log"
    command = [sys.executable, "-m", "training", "--data", str(data), "--out", str(out)]
    with open(log, "w") as stdout:
        # More epochs than it could run before the signal: the run ends by the interrupt, whatever the speed.
        proc = subprocess.Popen(
            [*command, *tiny_settings(epochs=1000)], cwd=ROOT, stdout=stdout, stderr=subprocess.PIPE, text=True
        )
        try:
            wait_until(lambda: "epoch 1: train_loss" in log.read_text(), timeout=120, message="the first epoch")
            proc.send_signal(signal.SIGINT)
            _, err = proc.communicate(timeout=120)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 1, err
    assert "stopping after this batch" in err
    result = json.loads((out / "result.json").read_text())
    kept = result["epochs_run"]
    assert result["status"] == "cancelled" and kept >= 1 and result["test"] is None
    assert f"the checkpoint of epoch {kept} is kept" in result["stop_reason"]
    assert torch.load(out / "last.pt", weights_only=True)["epoch"] == kept
    assert not (out / "model.pt").exists()  # a cancelled run is not finished

    resumed = subprocess.run(
        [*command, *tiny_settings(epochs=kept + 1), "--resume", str(out / "last.pt")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert resumed.returncode == 0, resumed.stderr
    assert f"resuming from {out / 'last.pt'} after epoch {kept}" in resumed.stdout
    assert f"completed after epoch {kept + 1}" in resumed.stdout
