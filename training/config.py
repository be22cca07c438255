"""The one training config schema: a typed dataclass whose field metadata drives validation,
the web form and the command line. A saved experiment stores `config.to_dict()` in full.
"""
from __future__ import annotations

import dataclasses
import math
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from training.models import list_models, model_info
from training.optim import list_optimizers, list_schedulers

DEVICES = ["auto", "cuda", "cpu"]
# Field groups in the order a form shows them, with their titles.
GROUPS = {"model": "Model", "data": "Data", "optimizer": "Optimization", "training": "Training"}


class ConfigError(ValueError):
    """A config that cannot work: `errors` maps each field name (or "__all__") to a message."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        self.errors = dict(errors)
        super().__init__("; ".join(f"{k}: {v}" for k, v in self.errors.items()))


def option(default: Any, label: str, group: str, help: str = "", *, min: float | None = None,
           max: float | None = None, choices: Callable[[], list[str]] | list[str] | None = None,
           advanced: bool = False) -> Any:
    """A config field with what a form or a validator needs to know about it."""
    return field(default=default, metadata={
        "label": label, "group": group, "help": help, "min": min, "max": max,
        "choices": choices, "advanced": advanced,
    })


@dataclass(frozen=True)
class TrainConfig:
    # Model
    arch: str = option("small_cnn", "Architecture", "model", choices=list_models)
    depth: int = option(3, "Depth (conv blocks)", "model", "small_cnn only", min=1, max=8, advanced=True)
    width: int = option(32, "Width (channels of the first block)", "model", "small_cnn only", min=4, max=512, advanced=True)
    batch_norm: bool = option(True, "Batch normalization", "model", "where the architecture allows it", advanced=True)
    dropout: float = option(0.0, "Dropout before the classifier", "model", "probability, 0 to disable", min=0.0, max=0.95, advanced=True)

    # Data
    image_size: int = option(32, "Input size (pixels)", "data", "images are resized to size x size", min=4, max=1024)

    # Optimization
    optimizer: str = option("adamw", "Optimizer", "optimizer", choices=list_optimizers)
    lr: float = option(2e-3, "Learning rate", "optimizer", min=1e-7, max=10.0)
    momentum: float = option(0.9, "Momentum", "optimizer", "SGD and RMSprop", min=0.0, max=0.999, advanced=True)
    weight_decay: float = option(5e-4, "Weight decay (L2)", "optimizer", min=0.0, max=1.0, advanced=True)
    scheduler: str = option("cosine", "Learning-rate schedule", "optimizer", choices=list_schedulers, advanced=True)

    # Training
    epochs: int = option(10, "Epochs", "training", min=1, max=1000)
    batch_size: int = option(64, "Batch size", "training", min=1, max=4096)
    device: str = option("auto", "Device", "training", "auto: CUDA when the worker has a GPU", choices=DEVICES)
    seed: int = option(0, "Random seed", "training", "same seed, same run on CPU", min=0, max=2**31 - 1, advanced=True)

    # --- construction and validation -------------------------------------------------------
    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]

    @classmethod
    def fields_info(cls) -> list[dict[str, Any]]:
        """Each field's name, type, default, label, group, help, bounds and choices (resolved)."""
        hints = typing.get_type_hints(cls)
        out = []
        for f in dataclasses.fields(cls):
            meta = dict(f.metadata)
            choices = meta.get("choices")
            meta["choices"] = list(choices()) if callable(choices) else choices
            out.append({"name": f.name, "type": hints[f.name], "default": f.default, **meta})
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrainConfig:
        """Validate a complete or partial mapping (missing keys take defaults); raise ConfigError."""
        errors: dict[str, str] = {}
        values: dict[str, Any] = {}
        known = set(cls.field_names())
        for key in data:
            if key not in known:
                errors[str(key)] = "unknown option"
        for info in cls.fields_info():
            name = info["name"]
            if name not in data:
                continue
            try:
                values[name] = _coerce(data[name], info)
            except ValueError as exc:
                errors[name] = str(exc)
        if errors:
            raise ConfigError(errors)
        config = cls(**values)
        config.check()
        return config

    def check(self) -> None:
        """Checks across fields; raise ConfigError naming the field to blame."""
        errors: dict[str, str] = {}
        minimum = model_info(self.arch).get("min_input_size", 1)
        if self.image_size < minimum:
            errors["image_size"] = f"{self.arch} needs inputs of at least {minimum} pixels"
        if errors:
            raise ConfigError(errors)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def replace(self, **changes: Any) -> TrainConfig:
        return TrainConfig.from_dict({**self.to_dict(), **changes})


def _coerce(value: Any, info: Mapping[str, Any]) -> Any:
    kind = info["type"]
    if kind is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in {"true", "false"}:
            return value.lower() == "true"
        raise ValueError("must be true or false")
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, (int, str, float)):
            raise ValueError("must be a whole number")
        try:
            number = int(value) if not isinstance(value, float) or value.is_integer() else None
        except ValueError:
            number = None
        if number is None:
            raise ValueError("must be a whole number")
        value = number
    elif kind is float:
        if isinstance(value, bool):
            raise ValueError("must be a number")
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise ValueError("must be a number") from None
        if not math.isfinite(value):
            raise ValueError("must be a finite number")
    elif kind is str:
        if not isinstance(value, str):
            raise ValueError("must be text")
    if info.get("min") is not None and value < info["min"]:
        raise ValueError(f"must be at least {info['min']:g}")
    if info.get("max") is not None and value > info["max"]:
        raise ValueError(f"must be at most {info['max']:g}")
    if info.get("choices") is not None and value not in info["choices"]:
        raise ValueError(f"{value!r} is not one of: {', '.join(info['choices'])}")
    return value
