"""A run's length in optimizer steps, and recipes that adapt their batch size and epochs to the data:
the library's count (the same as the engine's batches), `resolve` with a training-split size, and
`python -m training --show-config` showing both."""

from __future__ import annotations

import json

import pytest

from tests.images import write_pattern_folder
from tests.training_helpers import TINY, Recorder
from training import TrainConfig, fit, load_image_folder
from training.__main__ import main
from training.presets import Needs, resolve, resolve_config
from training.steps import describe_steps, steps_per_epoch, total_steps


def test_steps_count_full_batches_only():
    assert steps_per_epoch(117, 64) == 1  # the case: 8 epochs are 8 steps
    assert total_steps(117, 64, 8) == 8
    assert total_steps(1259, 64, 8) == 19 * 8
    assert steps_per_epoch(5, 64) == 1  # a split smaller than a batch is one batch
    assert describe_steps(117, 16, 22).startswith("154 optimizer steps in total (7 per epoch: 117 training images")


@pytest.mark.parametrize("data_loading", ["memory", "stream"])
def test_the_count_is_the_number_of_batches_the_engine_trains(tmp_path, data_loading):
    data = load_image_folder(write_pattern_folder(tmp_path / "data", classes=2, per_class=12), 0.2, 0.0)
    config = TrainConfig.from_dict(
        {**TINY, "batch_size": 7, "epochs": 2, "data_loading": data_loading, "num_workers": 0}
    )
    recorder = Recorder()
    fit(config, data, [recorder])
    per_epoch = steps_per_epoch(len(data.train), 7)
    assert per_epoch == len(data.train) // 7 and per_epoch > 1
    assert {b.batches for b in recorder.batches} == {per_epoch}
    assert [b.batch for b in recorder.batches if b.epoch == 1][-1] == per_epoch


def test_the_quick_recipe_adapts_to_a_small_training_split():
    resolved = resolve(["quick"], {"device": "cpu"}, train_size=117)
    assert (resolved.config.batch_size, resolved.config.epochs) == (16, 22)
    assert total_steps(117, 16, 22) >= 150  # the recipe's minimum
    assert resolved.adapted == {"batch_size": (64, 16), "epochs": (8, 22)}
    assert "batch_size 64 → 16 and epochs 8 → 22 for 117 training images" in resolved.note()
    assert resolved.config.device == "cpu"  # the overrides still apply


def test_a_large_split_keeps_the_recipe_as_it_is():
    resolved = resolve(["quick"], train_size=1259)  # the demo digits' training split
    assert resolved.config == resolve_config(["quick"]) and not resolved.adapted and resolved.note() == ""
    assert resolve(["quick"]).config == resolve_config(["quick"])  # without a size: the recipe as written


def test_explicit_values_always_win():
    both = resolve(["quick"], {"batch_size": 64, "epochs": 3}, train_size=117)
    assert (both.config.batch_size, both.config.epochs, both.adapted) == (64, 3, {})
    batch_only = resolve(["quick"], {"batch_size": 32}, train_size=117)
    assert batch_only.config.batch_size == 32 and batch_only.config.epochs == 50  # 3 steps an epoch: 150 steps
    epochs_only = resolve(["quick"], {"epochs": 5}, train_size=117)
    assert (epochs_only.config.batch_size, epochs_only.config.epochs) == (16, 5)


def test_the_last_recipe_states_the_needs_and_fragments_have_none():
    assert resolve(["small-cnn", "adamw-cosine"], train_size=50).adapted == {}  # no recipe: nothing adapts
    stacked = resolve(["resnet-standard", "quick"], train_size=117)
    assert stacked.needs == Needs(min_steps=150, max_batch_fraction=0.15, max_epochs=100)


def test_needs_never_ask_for_more_than_the_split_or_the_epoch_cap():
    needs = Needs(min_steps=150, max_batch_fraction=0.15, min_batch=8, max_epochs=100)
    assert needs.adapt({"batch_size": 64, "epochs": 8}, 5, set()) == {"batch_size": 5, "epochs": 100}
    assert needs.adapt({"batch_size": 64, "epochs": 8}, 40, set()) == {"batch_size": 8, "epochs": 30}


def shown(argv: list[str], capsys) -> tuple[dict, str]:
    assert main([*argv, "--show-config"]) == 0
    captured = capsys.readouterr()
    return json.loads(captured.out), captured.err


def test_show_config_counts_the_steps_on_the_data_and_adapts_the_recipe(tmp_path, capsys):
    data = write_pattern_folder(tmp_path / "data", classes=10, per_class=12)  # 10 x 12: 80 training images
    config, err = shown(["--data", str(data), "--preset", "quick"], capsys)
    assert (config["batch_size"], config["epochs"]) == (8, 15)
    assert "steps: 150 optimizer steps in total (10 per epoch: 80 training images in batches of 8, 15 epochs)" in err
    assert "adapted to the data: batch_size 64 → 8 and epochs 8 → 15 for 80 training images" in err

    config, err = shown(["--data", str(data), "--preset", "quick", "--set", "batch_size=64"], capsys)
    assert (config["batch_size"], config["epochs"]) == (64, 100)  # the user's batch; epochs for the steps
    assert "steps: 100 optimizer steps in total" in err


def test_show_config_without_data_says_how_to_count_the_steps(capsys):
    config, err = shown(["--preset", "quick"], capsys)
    assert config == resolve_config(["quick"]).to_dict()
    assert "give --data to count the optimizer steps" in err


def test_bad_values_are_named_by_field_before_anything_adapts():
    from training import ConfigError

    with pytest.raises(ConfigError) as error:
        resolve(["quick"], {"batch_size": "many", "epochs": 0}, train_size=117)
    assert set(error.value.errors) == {"batch_size", "epochs"}
