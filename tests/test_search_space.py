"""Search spaces: parsing, a clear message for every bad parameter, conditions, presets, applying a point."""

from __future__ import annotations

import pytest

from training import ConfigError, resolve_config
from training.search import SearchSpace, SpaceError, apply_point, list_space_presets, space_from_preset
from training.search.space import Choice, FloatRange, IntRange

SGD_SPACE = {
    "optimizer": ["sgd", "adamw"],
    "lr": {"low": 1e-4, "high": 0.1, "log": True},
    "momentum": {"low": 0.8, "high": 0.99, "when": {"optimizer": "sgd"}},
    "nesterov": {"values": [True, False], "when": {"optimizer": ["sgd"]}},
    "batch_size": {"low": 16, "high": 256, "log": True},
    "epochs": {"low": 4, "high": 12, "step": 4},
}


def test_a_space_parses_each_kind_of_parameter_from_the_options_types():
    space = SearchSpace.parse(SGD_SPACE)
    assert space.names == ["optimizer", "lr", "momentum", "nesterov", "batch_size", "epochs"]
    assert space["optimizer"] == Choice("optimizer", {}, ("sgd", "adamw"))
    assert space["lr"] == FloatRange("lr", {}, 1e-4, 0.1, True)
    assert space["momentum"] == FloatRange("momentum", {"optimizer": ("sgd",)}, 0.8, 0.99, False)
    assert space["batch_size"] == IntRange("batch_size", {}, 16, 256, True, 1)
    assert space["epochs"] == IntRange("epochs", {}, 4, 12, False, 4)
    assert space["nesterov"].values == (True, False)


def test_a_space_survives_a_round_trip_through_its_json():
    space = SearchSpace.parse(SGD_SPACE)
    assert SearchSpace.parse(space.to_dict()) == space


def test_parents_come_before_the_parameters_they_condition_whatever_the_order_given():
    space = SearchSpace.parse(
        {"momentum": {"low": 0.5, "high": 0.9, "when": {"optimizer": "sgd"}}, "optimizer": ["sgd", "adam"]}
    )
    assert space.names == ["optimizer", "momentum"]


@pytest.mark.parametrize(
    "spec, name, message",
    [
        ({"learning_rate": [0.1]}, "learning_rate", "unknown option"),
        ({"lr": ["fast"]}, "lr", 'value "fast": must be a number'),
        ({"epochs": [2.5]}, "epochs", "value 2.5: must be a whole number"),
        ({"optimizer": ["sgd", "lion"]}, "optimizer", "'lion' is not one of"),
        ({"lr": {"low": 1e-4, "high": 20}}, "lr", "high 20: must be at most 10"),
        ({"dropout": {"low": -0.1, "high": 0.5}}, "dropout", "low -0.1: must be at least 0"),
        ({"weight_decay": {"low": 0.0, "high": 0.1, "log": True}}, "weight_decay", "a log range needs low above 0"),
        ({"lr": {"low": 0.1, "high": 0.01}}, "lr", "low (0.1) must be below high (0.01)"),
        ({"lr": {"low": 0.01}}, "lr", 'a range needs "low" and "high"'),
        ({"optimizer": {"low": 1, "high": 2}}, "optimizer", "a range needs a numeric option"),
        ({"epochs": {"type": "float", "low": 1, "high": 2}}, "epochs", "epochs takes int values, not a float range"),
        ({"epochs": {"low": 1, "high": 10, "step": 4}}, "epochs", "must be a multiple of step (4)"),
        ({"batch_size": {"low": 16, "high": 256, "log": True, "step": 16}}, "batch_size", "either log or stepped"),
        ({"lr": {"low": 0.01, "high": 0.1, "step": 0.01}}, "lr", 'a float range takes no "step"'),
        ({"lr": []}, "lr", "give at least one value"),
        ({"lr": [0.1, 0.1]}, "lr", "value 0.1 is listed twice"),
        ({"lr": {"low": 0.01, "high": 0.1, "scale": "log"}}, "lr", "unknown key 'scale'"),
        ({"lr": {"type": "normal", "low": 0.01, "high": 0.1}}, "lr", "unknown type 'normal'"),
        ({"lr": 0.1}, "lr", "give a list of values or an object"),
        ({"momentum": {"low": 0.5, "high": 0.9, "when": {"optimizer": "sgd"}}}, "momentum", "not a parameter"),
        (
            {"lr": {"low": 0.01, "high": 0.1}, "momentum": {"low": 0.5, "high": 0.9, "when": {"lr": 0.05}}},
            "momentum",
            "only a parameter with a list of values can be one",
        ),
        (
            {"optimizer": ["sgd", "adam"], "momentum": {"low": 0.5, "high": 0.9, "when": {"optimizer": "rmsprop"}}},
            "momentum",
            "condition value \"rmsprop\" is never taken by 'optimizer'",
        ),
        (
            {
                "optimizer": {"values": ["sgd"], "when": {"nesterov": True}},
                "nesterov": {"values": [True], "when": {"optimizer": "sgd"}},
            },
            "optimizer",
            "conditions form a cycle: optimizer -> nesterov -> optimizer",
        ),
        ({}, "__all__", "this one is empty"),
    ],
)
def test_a_bad_space_is_refused_with_a_message_naming_the_parameter(spec, name, message):
    with pytest.raises(SpaceError) as caught:
        SearchSpace.parse(spec)
    assert name in caught.value.errors, caught.value.errors
    assert message in caught.value.errors[name], caught.value.errors[name]


def test_every_bad_parameter_is_reported_at_once():
    with pytest.raises(SpaceError) as caught:
        SearchSpace.parse({"lr": ["x"], "epochs": [0], "dropout": [0.1]})
    assert set(caught.value.errors) == {"lr", "epochs"}


def test_a_conditional_parameter_is_active_only_where_its_condition_holds():
    space = SearchSpace.parse(SGD_SPACE)
    momentum = space["momentum"]
    assert space.is_active(momentum, {"optimizer": "sgd"})
    assert not space.is_active(momentum, {"optimizer": "adamw"})
    # A recorded point keeps only what the space could have drawn: momentum under adamw is dropped.
    assert space.known({"optimizer": "adamw", "momentum": 0.9, "lr": 0.01}) == {"optimizer": "adamw", "lr": 0.01}
    assert space.known({"optimizer": "sgd", "momentum": 0.9}) == {"optimizer": "sgd", "momentum": 0.9}
    assert space.known({"lr": 0.5}) == {}  # outside the range (narrowed since)


def test_the_largest_epochs_of_a_sweep_come_from_the_space_or_the_base_config():
    base = resolve_config(["quick"])
    assert SearchSpace.parse(SGD_SPACE).largest("epochs", base) == 12
    assert SearchSpace.parse({"lr": [0.1]}).largest("epochs", base) == base.epochs
    conditional = SearchSpace.parse({"optimizer": ["sgd"], "epochs": {"values": [2, 3], "when": {"optimizer": "sgd"}}})
    assert conditional.largest("epochs", base) == max(3, base.epochs)


def test_applying_a_point_gives_a_validated_config_and_an_impossible_one_is_reported():
    base = resolve_config(["quick"])
    config = apply_point(base, {"lr": 0.01, "optimizer": "sgd", "momentum": 0.8})
    assert (config.lr, config.optimizer, config.momentum, config.epochs) == (0.01, "sgd", 0.8, base.epochs)
    with pytest.raises(ConfigError) as caught:
        apply_point(base, {"arch": "inception_v3"})  # 32 pixels is below what Inception-v3 takes
    assert "image_size" in caught.value.errors


@pytest.mark.parametrize("name", [p["name"] for p in list_space_presets()])
def test_every_space_preset_parses_and_describes_itself(name):
    space = space_from_preset(name)
    assert space.params and len(space.describe()) == len(space.params)


def test_the_presets_cover_the_concerns_and_use_conditions():
    names = {p["name"] for p in list_space_presets()}
    assert {"lr-weight-decay", "optimizer-schedule", "architecture-augmentation", "regularization"} <= names
    optimizer = space_from_preset("optimizer-schedule")
    assert optimizer["nesterov"].when == {"optimizer": ("sgd",)}
    assert space_from_preset("transfer")["backbone_lr_factor"].when == {
        "transfer_mode": ("lower_backbone_lr", "gradual_unfreeze")
    }
    with pytest.raises(SpaceError) as caught:
        space_from_preset("everything")
    assert "unknown search space preset 'everything'" in caught.value.errors["space_preset"]
