"""`python -m training` runs the same pipeline as the worker, from a JSON config on an image folder."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.helpers import TINY_CONFIG
from tests.images import make_image_folder

ROOT = Path(__file__).resolve().parent.parent


def test_the_command_line_trains_and_writes_a_checkpoint_and_result(tmp_path):
    data = make_image_folder(tmp_path / "colors")
    config = tmp_path / "config.json"
    config.write_text(json.dumps(TINY_CONFIG))
    out = tmp_path / "run"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "training",
            "--data",
            str(data),
            "--config",
            str(config),
            "--set",
            "epochs=3",
            "--out",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "epoch 3:" in proc.stdout
    result = json.loads((out / "result.json").read_text())
    assert result["config"]["epochs"] == 3
    assert [m["epoch"] for m in result["history"]] == [1, 2, 3]
    assert (out / "last.pt").exists()


def test_a_bad_config_value_is_named_and_nothing_runs(tmp_path):
    data = make_image_folder(tmp_path / "colors", per_class=3)
    proc = subprocess.run(
        [sys.executable, "-m", "training", "--data", str(data), "--set", "lr=-1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "lr" in proc.stderr and "at least" in proc.stderr
