"""`python -m training --show-config`: presets, a JSON file and --set values resolved into the one config
schema, and bad values named by field before anything runs."""

from __future__ import annotations

import json

import pytest

from training.__main__ import main


def shown(argv: list[str], capsys) -> dict:
    assert main([*argv, "--show-config"]) == 0
    return json.loads(capsys.readouterr().out)


def test_presets_then_the_file_then_set_values_win(tmp_path, capsys):
    config = shown(["--preset", "quick", "--preset", "resnet18", "--set", "epochs=3"], capsys)
    assert (config["arch"], config["epochs"], config["image_size"]) == ("resnet18", 3, 32)

    values = tmp_path / "config.json"
    values.write_text(json.dumps({"epochs": 4, "lr": 0.05}))
    config = shown(["--preset", "quick", "--config", str(values), "--set", "epochs=6"], capsys)
    assert (config["epochs"], config["lr"]) == (6, 0.05)


def test_invalid_settings_are_reported_by_field(capsys, tmp_path):
    assert main(["--data", str(tmp_path), "--set", "lr=-1", "--set", "arch=alexnet"]) == 2
    err = capsys.readouterr().err
    assert "config error: lr: must be at least" in err and "config error: arch:" in err


def test_an_unknown_preset_is_named(capsys):
    assert main(["--preset", "turbo"]) == 2
    assert "config error: presets: unknown preset 'turbo'" in capsys.readouterr().err


def test_a_setting_without_a_value_is_refused(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--set", "epochs"])
    assert exit_.value.code == 2 and "expected KEY=VALUE" in capsys.readouterr().err
