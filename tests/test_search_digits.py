"""A real sweep on the demo digits finds a config at least as good on validation as the `quick` preset."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from training import fit, load_image_folder, resolve_config
from training.__main__ import main
from training.search import Objective
from training.search.trials import without_test
from webapp.datasets.demo import write_digits_folder

# Around the quick recipe: its learning rate and weight decay, and the input size. Measured (seed 0, CPU):
# 3 of 8 trials ran their 8 epochs, 5 stopped at the first rung (29 epochs in all, against 64 without
# pruning); the best (16 pixels, lr 9e-3) reached val_acc 1.000 against quick's 0.993. That is about 37
# epochs of the small CNN with the baseline, a couple of minutes on 2 free cores; on a shared machine it
# took 8 minutes, hence a safety limit above the suite's default (a limit, not a timed assertion).
SPACE = {
    "lr": {"low": 1e-3, "high": 1e-2, "log": True},
    "weight_decay": {"low": 1e-5, "high": 1e-2, "log": True},
    "image_size": [16, 32],
}


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_an_8_trial_sweep_on_the_demo_digits_finds_a_config_at_least_as_good_on_validation_as_quick(tmp_path: Path):
    digits = write_digits_folder(tmp_path / "digits")
    quick = fit(resolve_config(["quick"], {"device": "cpu"}), without_test(load_image_folder(digits)))
    quick_val = Objective.VAL_ACC.final_value(quick)

    space = tmp_path / "space.json"
    space.write_text(json.dumps(SPACE))
    out = tmp_path / "sweep"
    command = ["sweep", "--data", str(digits), "--preset", "quick", "--set", "device=cpu", "--space", str(space)]
    assert main([*command, "--method", "tpe", "--trials", "8", "--pruner", "asha", "--out", str(out)]) == 0

    report = json.loads((out / "sweep.json").read_text())
    assert len(report["trials"]) == 8
    assert any(t["state"] == "pruned" and t["values"].keys() == {"1"} for t in report["trials"])  # pruning paid
    best = report["best"]
    assert best["value"] >= quick_val, (best, quick_val)
    assert best["test"]["accuracy"] >= 0.95 and best["test"]["num_samples"] > 200
