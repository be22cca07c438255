"""The config schema: validation that names the field to blame, the form metadata, presets."""

from __future__ import annotations

import json

import pytest

from tests.images import write_pattern_folder
from tests.training_helpers import TINY, Recorder
from training import ConfigError, TrainConfig, fit, list_presets, load_image_folder, preflight, resolve_config
from training.config import GROUPS
from training.presets import KINDS


def errors_of(values: dict) -> dict[str, str]:
    with pytest.raises(ConfigError) as info:
        TrainConfig.from_dict(values)
    return info.value.errors


def test_a_partial_config_takes_the_defaults_and_saves_in_full():
    config = TrainConfig.from_dict({"epochs": 3})
    saved = config.to_dict()
    assert saved["epochs"] == 3 and saved["arch"] == "small_cnn"
    assert set(saved) == set(TrainConfig.field_names())
    assert TrainConfig.from_dict(json.loads(json.dumps(saved))) == config


@pytest.mark.parametrize(
    ("values", "field", "message"),
    [
        ({"bogus": 1}, "bogus", "unknown option"),
        ({"epochs": "many"}, "epochs", "whole number"),
        ({"epochs": 2.5}, "epochs", "whole number"),
        ({"lr": -1}, "lr", "at least"),
        ({"lr": float("nan")}, "lr", "finite"),
        ({"dropout": 0.99}, "dropout", "at most"),
        ({"pretrained": "yes"}, "pretrained", "true or false"),
        ({"arch": "alexnet"}, "arch", "not one of"),
        ({"optimizer": "lbfgs"}, "optimizer", "not one of"),
        ({"scheduler": "cyclic"}, "scheduler", "not one of"),
        ({"augmentation": "extreme"}, "augmentation", "not one of"),
        ({"augment_ops": "hflip,warp=3"}, "augment_ops", "unknown operation 'warp'"),
        ({"augment_ops": "rotate=400"}, "augment_ops", "rotate=400"),
        ({"augment_ops": "hflip=often"}, "augment_ops", "must be a number"),
        ({"augment_ops": "trivialaugment=3"}, "augment_ops", "takes no value"),
        ({"augmentation": "custom", "augment_ops": " "}, "augment_ops", "at least one operation"),
        ({"arch": "inception_v3", "image_size": 64}, "image_size", "at least 75 pixels"),
        ({"arch": "vgg16", "image_size": 16}, "image_size", "at least 32 pixels"),
        ({"arch": "resnet18", "image_size": 16, "pretrained": True}, "image_size", "with pretrained weights"),
        ({"arch": "small_cnn", "pretrained": True}, "pretrained", "no pretrained weights"),
        ({"arch": "resnet18", "batch_norm": False}, "batch_norm", "always uses batch norm"),
        ({"optimizer": "sgd", "momentum": 0.0, "nesterov": True}, "nesterov", "momentum above 0"),
        ({"epochs": 3, "warmup_epochs": 3}, "warmup_epochs", "shorter than the run"),
        ({"monitor": "train_loss"}, "monitor", "not one of"),
    ],
)
def test_an_invalid_value_is_refused_naming_its_field(values, field, message):
    errors = errors_of(values)
    assert field in errors and message in errors[field], errors


def test_every_error_is_reported_at_once():
    assert set(errors_of({"lr": 0, "epochs": 0, "bogus": 1})) == {"lr", "epochs", "bogus"}


def test_text_values_from_a_form_or_the_command_line_are_coerced():
    config = TrainConfig.from_dict({"epochs": "4", "lr": "1e-3", "pretrained": "false", "early_stopping": "true"})
    assert (config.epochs, config.lr, config.pretrained, config.early_stopping) == (4, 1e-3, False, True)


def test_the_form_metadata_covers_every_field():
    infos = TrainConfig.fields_info()
    assert [i["name"] for i in infos] == TrainConfig.field_names()
    for info in infos:
        assert info["group"] in GROUPS, info["name"]
        assert info["label"] and info["type"] in (bool, int, float, str)
        if info["choices"] is not None:
            assert info["default"] in info["choices"], info["name"]
    assert {i["group"] for i in infos} == set(GROUPS)  # no empty group in the form


def test_the_defaults_are_valid():
    TrainConfig().check()
    assert TrainConfig.from_dict({}) == TrainConfig()


def test_replace_validates_the_changes():
    assert TrainConfig().replace(epochs=7).epochs == 7
    with pytest.raises(ConfigError) as info:
        TrainConfig().replace(epochs=0)
    assert "epochs" in info.value.errors


def test_every_recipe_is_a_valid_config_on_its_own():
    for preset in list_presets("recipe"):
        config = resolve_config([preset["name"]])
        for key, value in preset["values"].items():
            assert getattr(config, key) == value


def test_every_fragment_applies_on_top_of_a_recipe():
    for preset in list_presets():
        if preset["kind"] != "recipe":
            resolve_config(["resnet-standard", preset["name"]])


def test_there_are_presets_of_every_kind_and_the_named_recipes():
    assert {p["kind"] for p in list_presets()} == set(KINDS)
    names = {p["name"] for p in list_presets("recipe")}
    assert {"quick", "resnet-standard", "transfer-finetune", "transfer-feature-extract"} <= names
    assert all(p["kind"] == "architecture" for p in list_presets("architecture"))


def test_later_presets_and_overrides_win():
    config = resolve_config(["quick", "resnet18", "sgd-nesterov-cosine"], {"epochs": 3})
    assert (config.arch, config.optimizer, config.nesterov, config.epochs) == ("resnet18", "sgd", True, 3)
    assert config.image_size == 32  # from quick, untouched by the fragments


def test_an_unknown_preset_is_refused_under_presets():
    with pytest.raises(ConfigError) as info:
        resolve_config(["quick", "turbo"])
    assert "turbo" in info.value.errors["presets"]


def test_an_invalid_combination_of_presets_names_the_field():
    with pytest.raises(ConfigError) as info:
        resolve_config(["quick", "finetune"])  # small_cnn has no ImageNet weights
    assert "pretrained" in info.value.errors


def test_preflight_names_what_this_run_cannot_do(tmp_path, monkeypatch):
    from training import Splits

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    three = Splits(["a", "b", "c"], [("x.png", 0)], [])
    errors = preflight(
        resolve_config(["resnet-standard", "feature-extract"], {"loss": "bce", "early_stopping": True}), three
    ).errors
    assert "resnet18-f37072fd.pth" in errors["pretrained"]
    assert "2 classes" in errors["loss"]
    assert "validation split" in errors["early_stopping"]
    assert "training split (1 images): use at most 1" in errors["batch_size"]
    assert (
        "needs a trained backbone"
        in preflight(TrainConfig.from_dict({"transfer_mode": "feature_extract"})).errors["transfer_mode"]
    )
    started = preflight(TrainConfig.from_dict({"transfer_mode": "feature_extract"}), init_from="run/model.pt")
    assert started.ok and started.errors == {} and started.warnings == {}


def test_fit_refuses_what_preflight_refuses_before_training(tmp_path):
    data = load_image_folder(write_pattern_folder(tmp_path, classes=2, per_class=6))  # 8 training images
    recorder = Recorder()
    with pytest.raises(ConfigError) as info:
        fit(TrainConfig.from_dict({**TINY, "batch_size": 9}), data, [recorder])
    assert info.value.errors == {"batch_size": "Larger than the training split (8 images): use at most 8."}
    assert recorder.start is None and not recorder.batches
