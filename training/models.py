"""Architectures: a registry read through `list_models()` and `create_model(name, num_classes, ...)`."""
from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torchvision import models as tvm

from training.registry import Registry

ModelBuilder = Callable[..., nn.Module]
MODELS: Registry[ModelBuilder] = Registry("architecture")


def register_model(name: str, description: str = "", min_input_size: int = 8, **info) -> Callable[[ModelBuilder], ModelBuilder]:
    """Register a builder `fn(num_classes, image_size, **options) -> nn.Module`."""
    return MODELS.register(name, description, min_input_size=min_input_size, **info)


def list_models() -> list[str]:
    return MODELS.names()


def model_info(name: str) -> dict:
    entry = MODELS.entry(name)
    return {"name": entry.name, "description": entry.description, **entry.info}


def create_model(name: str, num_classes: int, image_size: int = 32, **options) -> nn.Module:
    entry = MODELS.entry(name)
    minimum = entry.info.get("min_input_size", 1)
    if image_size < minimum:
        raise ValueError(f"{name} needs inputs of at least {minimum}x{minimum} pixels, not {image_size}")
    return entry.obj(num_classes=num_classes, image_size=image_size, **options)


class SmallCNN(nn.Module):
    """Conv blocks (conv 3x3, optional batch norm, ReLU, 2x2 max pool) doubling the width, then a linear head."""

    def __init__(self, num_classes: int, image_size: int, depth: int = 3, width: int = 32,
                 batch_norm: bool = True, dropout: float = 0.0, in_channels: int = 3) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels, size = in_channels, image_size
        for i in range(depth):
            out = width * 2**i
            layers += [nn.Conv2d(channels, out, 3, padding=1, bias=not batch_norm)]
            if batch_norm:
                layers.append(nn.BatchNorm2d(out))
            layers.append(nn.ReLU(inplace=True))
            if size >= 2:  # pool while there is something left to pool
                layers.append(nn.MaxPool2d(2))
                size //= 2
            channels = out
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(dropout), nn.Linear(channels, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.pool(self.features(x)))


@register_model("small_cnn", "Small configurable CNN (depth, width, batch norm, dropout)", min_input_size=4)
def small_cnn(num_classes: int, image_size: int, depth: int = 3, width: int = 32, batch_norm: bool = True,
              dropout: float = 0.0, **_: object) -> nn.Module:
    return SmallCNN(num_classes, image_size, depth=depth, width=width, batch_norm=batch_norm, dropout=dropout)


def _small_input_resnet(model: tvm.ResNet, image_size: int) -> tvm.ResNet:
    # The ImageNet stem (7x7 stride 2, then max pool) shrinks a 32-pixel image to 8 pixels before the
    # first block; for small images practitioners use a 3x3 stride-1 stem without the pool (CIFAR ResNets).
    if image_size < 96:
        model.conv1 = nn.Conv2d(3, 64, kernel_size=3, stride=1, padding=1, bias=False)
        model.maxpool = nn.Identity()
    return model


def _with_dropout(model: tvm.ResNet, num_classes: int, dropout: float) -> tvm.ResNet:
    if dropout > 0:
        model.fc = nn.Sequential(nn.Dropout(dropout), nn.Linear(model.fc.in_features, num_classes))
    return model


@register_model("resnet18", "ResNet-18 (small-input stem below 96 pixels)", min_input_size=16)
def resnet18(num_classes: int, image_size: int, dropout: float = 0.0, **_: object) -> nn.Module:
    model = _small_input_resnet(tvm.resnet18(weights=None, num_classes=num_classes), image_size)
    return _with_dropout(model, num_classes, dropout)
