"""`python -m training --list KIND`: the choices the config accepts, from the registries."""

from __future__ import annotations

import pytest

from training import TrainConfig, list_models, list_presets
from training.__main__ import LISTS, main


def listed(kind: str, capsys) -> str:
    assert main(["--list", kind]) == 0
    return capsys.readouterr().out


def test_every_preset_is_listed_with_its_kind_and_values(capsys):
    out = listed("presets", capsys)
    for preset in list_presets():
        assert preset["name"] in out and f"[{preset['kind']}]" in out
    assert "quick" in out and "transfer-finetune" in out


def test_every_model_is_listed_with_its_smallest_input_and_weights(capsys):
    out = listed("models", capsys)
    assert all(name in out for name in list_models())
    assert "inception_v3" in out and "min 75px" in out and "no pretrained weights" in out


def test_every_option_is_listed_with_its_default(capsys):
    out = listed("options", capsys)
    assert all(name in out for name in TrainConfig.field_names())
    assert "batch_size" in out and "default 64" in out


@pytest.mark.parametrize(
    "kind, example",
    [("augment-ops", "randaugment"), ("optimizers", "adamw"), ("schedulers", "onecycle"), ("augmentations", "heavy")],
)
def test_the_other_lists(kind, example, capsys):
    assert example in listed(kind, capsys)


def test_an_unknown_list_is_refused_with_the_choices(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--list", "colors"])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and "invalid choice: 'colors'" in err
    assert all(kind in err for kind in LISTS)
