"""Pretrained ImageNet weights come from the local torch cache only: they load when the file is
there (a test puts one there) and the run fails at once, naming the file and folder, when it is not."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torchvision import models as tvm

from tests.images import write_pattern_folder
from tests.training_helpers import TINY, Recorder
from training import (
    PretrainedWeightsMissing,
    Splits,
    TrainConfig,
    create_model,
    fit,
    load_image_folder,
    preflight,
    pretrained_weights_available,
)
from training.data import IMAGENET_STATS
from training.pretrained import weights_file

PRETRAINED = {**TINY, "arch": "resnet18", "image_size": 32, "pretrained": True, "batch_size": 12}


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Splits:
    return load_image_folder(write_pattern_folder(tmp_path_factory.mktemp("patterns"), classes=3, per_class=6))


@pytest.fixture
def torch_home(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    return tmp_path / "torch"


@pytest.fixture
def cached_resnet18(torch_home) -> dict[str, torch.Tensor]:
    """ImageNet-shaped ResNet-18 weights (random, made here) under the file name torchvision downloads to."""
    torch.manual_seed(123)
    state = tvm.resnet18(weights=None).state_dict()
    path = torch_home / "hub" / "checkpoints" / "resnet18-f37072fd.pth"
    path.parent.mkdir(parents=True)
    torch.save(state, path)
    return state


def test_the_weights_file_is_looked_for_where_torchvision_downloads_it(torch_home):
    expected = torch_home / "hub" / "checkpoints" / "resnet18-f37072fd.pth"
    assert weights_file("ResNet18_Weights.IMAGENET1K_V1") == expected


def test_a_run_with_cached_weights_starts_from_them(data, cached_resnet18):
    assert pretrained_weights_available("resnet18")[0]
    recorder = Recorder()
    config = TrainConfig.from_dict({**PRETRAINED, "transfer_mode": "feature_extract"})
    result = fit(config, data, [recorder])

    assert result.status == "completed"
    assert any("loaded pretrained weights ResNet18_Weights.IMAGENET1K_V1" in line for line in recorder.logs)
    assert (recorder.start.mean, recorder.start.std) == IMAGENET_STATS  # pretrained: ImageNet normalization
    # Feature extraction: the backbone is exactly the cached weights after training, batch-norm
    # statistics included; only the new 3-class head has learned.
    final = result.model.state_dict()
    backbone = [k for k in cached_resnet18 if not k.startswith("fc.")]
    assert all(torch.equal(final[k], cached_resnet18[k]) for k in backbone)
    assert final["fc.weight"].shape == (3, 512)
    assert recorder.start.trainable_parameters == 512 * 3 + 3


def test_fine_tuning_moves_the_backbone_at_a_lower_rate(data, cached_resnet18):
    config = TrainConfig.from_dict(
        {
            **PRETRAINED,
            "transfer_mode": "lower_backbone_lr",
            "backbone_lr_factor": 0.1,
            "scheduler": "none",
            "lr": 1e-3,
            "optimizer": "sgd",
            "momentum": 0.0,
        }
    )
    result = fit(config, data)
    final = result.model.state_dict()
    assert not torch.equal(final["layer4.1.conv2.weight"], cached_resnet18["layer4.1.conv2.weight"])
    # Plain SGD: every group's step is its learning rate times its gradient.
    from training.optim import build_optimizer
    from training.transfer import head_parameters

    model = create_model("resnet18", 3, 32, pretrained=True)
    optimizer = build_optimizer(config, model, head_parameters(model), 0.1)
    rates = {id(p): g["lr"] for g in optimizer.param_groups for p in g["params"]}
    assert rates[id(model.fc.weight)] == pytest.approx(1e-3)
    assert rates[id(model.layer1[0].conv1.weight)] == pytest.approx(1e-4)


def test_gradual_unfreezing_trains_the_head_first_then_stage_after_stage(data, cached_resnet18):
    recorder = Recorder()
    config = TrainConfig.from_dict({**PRETRAINED, "transfer_mode": "gradual_unfreeze", "epochs": 2})
    result = fit(config, data, [recorder])
    final = result.model.state_dict()
    assert recorder.start.trainable_parameters == 512 * 3 + 3  # epoch 1: the head only
    assert any(line.startswith("epoch 2: 1 of 6 backbone stages trainable") for line in recorder.logs)
    assert not torch.equal(final["layer4.0.conv1.weight"], cached_resnet18["layer4.0.conv1.weight"])  # top stage
    assert torch.equal(final["layer3.0.conv1.weight"], cached_resnet18["layer3.0.conv1.weight"])  # still frozen


def test_a_run_without_the_cached_file_fails_at_once_naming_file_and_folder(data, torch_home):
    available, message = pretrained_weights_available("resnet18")
    assert not available
    folder = torch_home / "hub" / "checkpoints"
    assert "resnet18-f37072fd.pth" in message and str(folder) in message

    recorder = Recorder()
    with pytest.raises(PretrainedWeightsMissing) as info:
        fit(TrainConfig.from_dict(PRETRAINED), data, [recorder])
    assert "resnet18-f37072fd.pth" in str(info.value) and str(folder) in str(info.value)
    assert recorder.start is None and recorder.batches == []  # before any training
    assert not folder.exists()  # and nothing was downloaded
    assert "resnet18-f37072fd.pth" in preflight(TrainConfig.from_dict(PRETRAINED), data).errors["pretrained"]


def test_a_damaged_weights_file_is_named(data, torch_home):
    path = torch_home / "hub" / "checkpoints" / "resnet18-f37072fd.pth"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(PretrainedWeightsMissing, match=r"could not read pretrained weights from .*resnet18-f37072fd"):
        fit(TrainConfig.from_dict(PRETRAINED), data)


def test_every_architecture_with_weights_names_its_file(torch_home):
    from training.models import list_models, weights_name

    for arch in list_models():
        name = weights_name(arch)
        available, message = pretrained_weights_available(arch)
        assert not available
        if name is None:
            assert "has no pretrained weights" in message
        else:
            assert weights_file(name).name in message
