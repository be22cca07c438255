"""Every registered entry builds and trains: architectures, augmentations and their operations,
optimizers, schedulers, losses, class weightings, transfer modes and data paths. The parameter lists
are read from the registries, so a new entry is covered the moment it is registered."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from tests.images import write_pattern_folder
from tests.training_helpers import TINY, Recorder
from training import TrainConfig, fit, load_image_folder
from training.augment import OPS, Context, build_augmenter, list_augmentations, parse_spec
from training.data import Splits
from training.loaders import DATA_PATHS
from training.losses import list_class_weightings, list_losses
from training.models import MODELS, list_models, min_input_size, model_info
from training.optim import list_optimizers, list_schedulers
from training.registry import Entry, Registry
from training.transfer import list_transfer_modes


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Splits:
    # 3 classes x 6 images: 4 train, 1 val, 1 test per class; one batch of 12 is one training step.
    return load_image_folder(write_pattern_folder(tmp_path_factory.mktemp("tiny"), classes=3, per_class=6))


@pytest.fixture(scope="module")
def two_classes(tmp_path_factory) -> Splits:
    return load_image_folder(write_pattern_folder(tmp_path_factory.mktemp("two"), classes=2, per_class=6))


@pytest.fixture(scope="module")
def start_checkpoint(tiny, tmp_path_factory) -> str:
    """An earlier small-CNN run to transfer from (the transfer modes need a trained backbone)."""
    out = tmp_path_factory.mktemp("start")
    return fit(TrainConfig.from_dict(TINY), tiny, checkpoint_dir=out).model_path


def train_one_step(data: Splits, **changes) -> Recorder:
    """One epoch of one batch; fails unless the run completes with finite metrics and a test report."""
    recorder = Recorder()
    init_from = changes.pop("init_from", None)
    result = fit(TrainConfig.from_dict({**TINY, **changes}), data, [recorder], init_from=init_from, progress_interval=0)
    assert result.status == "completed"
    assert [b.batch for b in recorder.batches] == [1]
    assert math.isfinite(result.history[0].train_loss) and math.isfinite(result.history[0].val_loss)
    assert 0 <= result.test["accuracy"] <= 1
    return recorder


def arch_cases() -> list[tuple[str, bool]]:
    return [
        (name, bn)
        for name in list_models()
        for bn in ((True, False) if model_info(name)["batch_norm_optional"] else (True,))
    ]


@pytest.mark.parametrize(("arch", "batch_norm"), arch_cases())
def test_every_architecture_trains_a_step(tiny, arch, batch_norm):
    train_one_step(
        tiny, arch=arch, batch_norm=batch_norm, image_size=max(16, min_input_size(arch)), dropout=0.1, batch_size=12
    )


def test_a_broken_architecture_fails_the_registry_check(tiny, monkeypatch):
    # The check above really runs each entry: an architecture whose forward pass breaks fails it.
    class Broken(nn.Module):
        def __init__(self, num_classes: int) -> None:
            super().__init__()
            self.fc = nn.Linear(7, num_classes)

        def forward(self, x):
            return self.fc(x)  # the wrong input width: raises

    info = {k: v for k, v in model_info("small_cnn").items() if k not in ("name", "description")}
    monkeypatch.setitem(
        MODELS._entries, "broken", Entry("broken", lambda num_classes, **_: Broken(num_classes), "fails", info)
    )
    assert ("broken", True) in arch_cases()  # so the parametrized check would run it, and
    with pytest.raises(RuntimeError):
        train_one_step(tiny, arch="broken")  # it would fail


@pytest.mark.parametrize("preset", list_augmentations())
def test_every_augmentation_preset_trains_a_step(tiny, preset):
    ops = "hflip,vflip,translate,rotate,shear,scale,crop,color_jitter,grayscale,erase,randaugment,trivialaugment"
    train_one_step(tiny, augmentation=preset, augment_ops=ops)


@pytest.mark.parametrize("name", OPS.names())
def test_every_augmentation_operation_works_in_batches_and_per_image(name):
    x = torch.randint(0, 256, (6, 3, 16, 16), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    spec = name if OPS.get(name).default is None or OPS.get(name).high < 1.5 else f"{name}={OPS.get(name).high}"
    augmenter = build_augmenter("custom", 16, spec)
    batched = augmenter(x, torch.Generator().manual_seed(1))
    assert batched.shape == x.shape and batched.dtype == torch.uint8
    single = augmenter.per_image()(x[0])
    assert single.shape == x[0].shape and single.dtype == torch.uint8
    again = augmenter(x, torch.Generator().manual_seed(1))
    assert torch.equal(batched, again), "the same generator state must give the same batch"


@pytest.mark.parametrize("optimizer", list_optimizers())
def test_every_optimizer_trains_a_step(tiny, optimizer):
    train_one_step(tiny, optimizer=optimizer, lr=1e-3)


@pytest.mark.parametrize("scheduler", list_schedulers())
def test_every_scheduler_trains(tiny, scheduler):
    # Two epochs, so per-epoch schedulers (plateau) act too; a warmup exercises the warmup paths.
    result = fit(TrainConfig.from_dict({**TINY, "scheduler": scheduler, "epochs": 2, "warmup_epochs": 1.0}), tiny)
    assert result.status == "completed" and len(result.history) == 2
    assert all(m.lr > 0 for m in result.history)


@pytest.mark.parametrize("loss", list_losses())
def test_every_loss_trains_a_step(two_classes, loss):
    recorder = train_one_step(two_classes, loss=loss, label_smoothing=0.1, class_weights="balanced")
    assert recorder.result.test["confusion_matrix"] and len(recorder.result.test["per_class"]) == 2


@pytest.mark.parametrize("weighting", list_class_weightings())
def test_every_class_weighting_trains_a_step(tiny, weighting):
    train_one_step(tiny, class_weights=weighting)


@pytest.mark.parametrize("mode", list_transfer_modes())
def test_every_transfer_mode_trains_from_an_earlier_run(tiny, start_checkpoint, mode):
    recorder = train_one_step(tiny, transfer_mode=mode, init_from=start_checkpoint)
    assert any("started from the weights" in line for line in recorder.logs)


@pytest.mark.parametrize("path", DATA_PATHS.names())
def test_every_data_path_trains_a_step(tiny, path):
    recorder = train_one_step(tiny, data_loading=path, num_workers=0, augmentation="standard")
    assert recorder.start.data_path == path


def test_every_augmentation_preset_parses():
    for preset in list_augmentations():
        spec = build_augmenter(preset, 16, "hflip").spec
        parse_spec(spec)
    assert Context(16).fill == (128, 128, 128)


def test_regularization_and_clipping_options_train_a_step(tiny):
    train_one_step(tiny, l1=1e-4, weight_decay=1e-3, dropout=0.5, grad_clip=1.0, label_smoothing=0.1)


def test_registries_refuse_a_name_twice():
    registry: Registry[int] = Registry("thing")
    registry.add("a", 1)
    with pytest.raises(ValueError, match="registered twice"):
        registry.add("a", 2)
    with pytest.raises(KeyError, match="unknown thing 'b'; choose one of: a"):
        registry.get("b")


def test_every_architecture_says_what_it_needs():
    for name in list_models():
        info = model_info(name)
        assert info["description"] and info["min_input_size"] >= 1
        assert min_input_size(name, pretrained=True) >= info["min_input_size"]
