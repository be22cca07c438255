"""`python -m training sweep`: trials one after another, a table, the best trial tested, sweep.json;
clear messages and exit status 2 for bad input; Ctrl-C stops after the current batch."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import wait_until
from tests.images import write_pattern_folder
from training.__main__ import main

ROOT = Path(__file__).resolve().parent.parent
TINY = ["--set", "depth=2", "--set", "width=8", "--set", "image_size=16", "--set", "device=cpu"]
TINY += ["--set", "batch_size=8", "--set", "lr=0.01", "--set", "seed=0"]


def sweep_command(data: Path, *options: str) -> list[str]:
    return [sys.executable, "-m", "training", "sweep", "--data", str(data), *TINY, *options]


@pytest.fixture
def patterns(tmp_path: Path) -> Path:
    return write_pattern_folder(tmp_path / "data", classes=3, per_class=12)


def test_a_tiny_grid_sweep_runs_each_trial_prints_the_table_tests_the_best_and_writes_sweep_json(patterns, tmp_path):
    # Two of the four points cannot train (Inception-v3 needs 75 pixels): they fail with the reason, the rest run.
    space = tmp_path / "space.json"
    space.write_text(json.dumps({"arch": ["inception_v3", "small_cnn"], "lr": [0.003, 0.03]}))
    out = tmp_path / "sweep"
    command = sweep_command(patterns, "--space", str(space), "--method", "grid", "--trials", "6")
    command += ["--set", "epochs=2", "--pruner", "asha", "--out", str(out)]
    run = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr

    lines = run.stdout.splitlines()
    assert "sweep: grid, up to 6 trials, asha pruning, val_acc (maximize)" in lines
    assert "trial 0: arch=inception_v3 lr=0.003" in lines
    failed = next(line for line in lines if line.startswith("trial 0 failed: 0 epochs"))
    assert "image_size: inception_v3 needs inputs of at least" in failed
    # The trials train without the test split; only the best is tested, at the end.
    assert sum("training on cpu: 24 train / 6 val / 0 test images" in line for line in lines) == 2
    header = lines.index("trial  status      val_acc  epochs     time  params")
    table = lines[header + 1 : header + 5]
    assert [row.split()[1] for row in table][2:] == ["failed", "failed"]
    assert all("arch=small_cnn" in row for row in table[:2])
    best_line = next(line for line in lines if line.startswith("best: trial "))
    assert "test accuracy" in best_line

    report = json.loads((out / "sweep.json").read_text())
    assert report["method"] == "grid" and report["objective"] == "val_acc" and report["budget"]["max_trials"] == 6
    assert report["space"]["arch"] == {"type": "choice", "values": ["inception_v3", "small_cnn"]}
    assert len(report["trials"]) == 4 and report["pruner"]["max_epochs"] == 2
    assert {t["state"] for t in report["trials"]} == {"completed", "failed"}
    best = report["best"]
    assert best["trial"] == report["trials"][0]["number"] and best["config"]["arch"] == "small_cnn"
    assert 0 <= best["test"]["accuracy"] <= 1 and best["test"]["num_samples"] == 6
    assert (out / f"trial-{best['trial']:03d}" / "model.pt").exists()
    assert all(t["values"] for t in report["trials"] if t["state"] == "completed")


def test_a_random_sweep_with_a_preset_space_prunes_and_reproduces_its_points(patterns, tmp_path):
    command = sweep_command(patterns, "--space-preset", "lr-weight-decay", "--method", "random", "--trials", "3")
    command += ["--set", "epochs=3", "--seed", "4", "--pruner", "median", "--out"]
    first = subprocess.run([*command, str(tmp_path / "a")], cwd=ROOT, capture_output=True, text=True, timeout=300)
    again = subprocess.run([*command, str(tmp_path / "b")], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert first.returncode == again.returncode == 0, first.stderr + again.stderr
    a, b = (json.loads((tmp_path / name / "sweep.json").read_text()) for name in ("a", "b"))
    assert [t["params"] for t in a["trials"]] == [t["params"] for t in b["trials"]]
    assert all(3e-4 <= t["params"]["lr"] <= 3e-2 for t in a["trials"])
    assert a["rungs"] == [1, 2] and a["pruner"]["name"] == "median"


@pytest.mark.parametrize(
    "options, message",
    [
        (["--space-preset", "everything"], "space error: space_preset: unknown search space preset 'everything'"),
        (["--space", "SPACE", "--method", "grid"], "space error: lr: grid search needs a list of values"),
        (["--space", "SPACE", "--trials", "0"], "space error: trials: must be at least 1"),
        (["--space", "BROKEN"], "is not valid JSON"),
        (["--space", "MISSING"], "No such file or directory"),
        (["--space-preset", "regularization", "--set", "lr=-1"], "config error: lr: must be at least"),
        (["--space", "BAD"], "space error: optimizer: value \"lion\": 'lion' is not one of"),
    ],
)
def test_bad_spaces_and_configs_are_reported_with_exit_status_2(options, message, patterns, tmp_path, capsys):
    files = {"SPACE": {"lr": {"low": 1e-3, "high": 0.1, "log": True}}, "BAD": {"optimizer": ["sgd", "lion"]}}
    for name, content in files.items():
        (tmp_path / f"{name}.json").write_text(json.dumps(content))
    (tmp_path / "BROKEN.json").write_text("{lr: [")
    options = [str(tmp_path / f"{o}.json") if o in (*files, "BROKEN", "MISSING") else o for o in options]
    assert main(["sweep", "--data", str(patterns), *options]) == 2
    captured = capsys.readouterr()
    assert message in captured.err and "trial 0" not in captured.out


def test_data_errors_are_reported_with_exit_status_2(tmp_path, capsys):
    assert main(["sweep", "--data", str(tmp_path / "nothing"), "--space-preset", "lr-weight-decay"]) == 2
    assert "data error: no image folder at" in capsys.readouterr().err
    data = write_pattern_folder(tmp_path / "data", classes=2, per_class=6)
    assert main(["sweep", "--data", str(data), "--space-preset", "lr-weight-decay", "--val-fraction", "0"]) == 2
    assert "data error: a sweep chooses on the validation split" in capsys.readouterr().err


def test_the_lists_name_the_space_presets_methods_and_pruners(capsys):
    assert main(["sweep", "--list", "space-presets"]) == 0
    listed = capsys.readouterr().out
    assert "optimizer-schedule" in listed and '"when": {"optimizer": ["sgd"]}' in listed
    assert main(["sweep", "--list", "methods"]) == 0
    assert capsys.readouterr().out.split() == ["grid", "random", "tpe"]
    assert main(["sweep", "--list", "pruners"]) == 0
    assert capsys.readouterr().out.split() == ["asha", "hyperband", "median", "none"]


def test_ctrl_c_stops_the_sweep_after_the_current_batch_and_keeps_what_ran(tmp_path):
    data = write_pattern_folder(tmp_path / "data", classes=3, per_class=40)
    out, log = tmp_path / "sweep", tmp_path / "log.txt"
    command = sweep_command(data, "--space-preset", "lr-weight-decay", "--method", "random", "--trials", "5")
    command += ["--set", "epochs=200", "--pruner", "none", "--out", str(out)]
    with log.open("w") as output:
        process = subprocess.Popen(command, cwd=ROOT, stdout=output, stderr=subprocess.STDOUT, text=True)
        try:
            wait_until(lambda: "epoch 2:" in log.read_text(), timeout=240, message="the first trial's second epoch")
            process.send_signal(signal.SIGINT)
            assert process.wait(timeout=120) == 1
        finally:
            if process.poll() is None:
                process.kill()
    text = log.read_text()
    assert "stopping after this batch" in text and "trial 0 cancelled" in text and "trial 1:" not in text
    report = json.loads((out / "sweep.json").read_text())
    assert [t["state"] for t in report["trials"]] == ["cancelled"] and report["best"] is None
    assert (out / "trial-000" / "last.pt").exists()
