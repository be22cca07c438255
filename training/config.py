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

from training.augment import list_augmentations, parse_spec
from training.data import list_resize_modes
from training.losses import list_class_weightings, list_losses
from training.models import list_models, min_input_size, model_info, weights_name
from training.optim import list_optimizers, list_schedulers
from training.transfer import list_transfer_modes

DEVICES = ["auto", "cuda", "cpu"]
PRECISIONS = ["auto", "fp32", "bf16", "fp16"]
NORMALIZATIONS = ["auto", "dataset", "imagenet"]
DATA_LOADING = ["auto", "memory", "stream"]
MONITORS = ["val_loss", "val_acc"]
MODES = ["auto", "min", "max"]
# Field groups in the order a form shows them, with their titles.
GROUPS = {
    "model": "Model",
    "transfer": "Transfer learning",
    "data": "Data",
    "augmentation": "Augmentation",
    "optimizer": "Optimization",
    "regularization": "Regularization",
    "loss": "Loss",
    "early_stopping": "Early stopping",
    "training": "Training",
}
# What may differ between a checkpoint's config and the config that resumes it: the run's length, where
# and how fast it runs, and when to stop. Anything else would make the resumed run a different experiment.
RESUME_MAY_CHANGE = frozenset(
    {
        "epochs",
        "device",
        "precision",
        "channels_last",
        "data_loading",
        "memory_limit_mb",
        "num_workers",
        "early_stopping",
        "patience",
        "min_delta",
        "restore_best_weights",
    }
)


class ConfigError(ValueError):
    """A config that cannot work: `errors` maps each field name (or "__all__") to a message."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        self.errors = dict(errors)
        super().__init__("; ".join(f"{k}: {v}" for k, v in self.errors.items()))


def option(
    default: Any,
    label: str,
    group: str,
    help: str = "",
    *,
    min: float | None = None,
    max: float | None = None,
    choices: Callable[[], list[str]] | list[str] | None = None,
    advanced: bool = False,
) -> Any:
    """A config field with what a form or a validator needs to know about it."""
    return field(
        default=default,
        metadata={
            "label": label,
            "group": group,
            "help": help,
            "min": min,
            "max": max,
            "choices": choices,
            "advanced": advanced,
        },
    )


@dataclass(frozen=True)
class TrainConfig:
    # Model
    arch: str = option("small_cnn", "Architecture", "model", choices=list_models)
    depth: int = option(3, "Depth (conv blocks)", "model", "small_cnn only", min=1, max=8, advanced=True)
    width: int = option(
        32, "Width (channels of the first block)", "model", "small_cnn only", min=4, max=512, advanced=True
    )
    batch_norm: bool = option(
        True,
        "Batch normalization",
        "model",
        "small_cnn, vgg11 and vgg16 can do without it; the others always use it",
        advanced=True,
    )

    # Transfer learning
    pretrained: bool = option(
        False, "Start from ImageNet weights", "transfer", "read from the workers' local torch cache; not for small_cnn"
    )
    transfer_mode: str = option(
        "full",
        "What trains",
        "transfer",
        "full: everything; feature_extract: only the new head; lower_backbone_lr: everything, "
        "the backbone slower; gradual_unfreeze: the head first, then one more stage from the "
        "top every few epochs. Needs pretrained weights or a run to start from",
        choices=list_transfer_modes,
    )
    backbone_lr_factor: float = option(
        0.1,
        "Backbone learning-rate factor",
        "transfer",
        "lower_backbone_lr and gradual_unfreeze: the backbone's rate is lr times this",
        min=0.0,
        max=1.0,
        advanced=True,
    )
    unfreeze_every: int = option(
        1, "Unfreeze a stage every (epochs)", "transfer", "gradual_unfreeze only", min=1, max=100, advanced=True
    )

    # Data
    image_size: int = option(32, "Input size (pixels)", "data", "images are resized to size x size", min=4, max=1024)
    resize: str = option(
        "stretch",
        "Resize",
        "data",
        "stretch: the whole image, squeezed to a square; center_crop: the central square",
        choices=list_resize_modes,
        advanced=True,
    )
    normalization: str = option(
        "auto",
        "Normalization",
        "data",
        "auto: ImageNet statistics for pretrained weights, the starting run's for a transfer "
        "from a checkpoint, else the dataset's own per-channel mean and std",
        choices=NORMALIZATIONS,
        advanced=True,
    )
    data_loading: str = option(
        "auto",
        "Data path",
        "data",
        "memory: decoded once, augmented in batches on the GPU; stream: DataLoader workers; "
        "auto: memory when the decoded dataset fits in the memory limit",
        choices=DATA_LOADING,
        advanced=True,
    )
    memory_limit_mb: int = option(
        4096,
        "Memory limit for in-memory data (MB)",
        "data",
        "decoded size above which auto streams the data",
        min=0,
        max=1_000_000,
        advanced=True,
    )
    num_workers: int = option(4, "Loader workers", "data", "stream path only", min=0, max=64, advanced=True)

    # Augmentation
    # No augmentation by default: flips and crops are wrong for some data (digits, text) and pay off only
    # in longer runs; the presets and the form's select offer them.
    augmentation: str = option(
        "none",
        "Augmentation",
        "augmentation",
        "training images only; custom uses the operations below",
        choices=list_augmentations,
    )
    augment_ops: str = option(
        "translate=0.125,rotate=10",
        "Custom operations",
        "augmentation",
        "for custom: comma-separated operations with optional magnitudes, e.g. "
        "hflip,translate=0.125,rotate=15,shear=10,scale=0.1,crop=0.35,color_jitter=0.3,"
        "grayscale=0.1,erase=0.25,randaugment=9,trivialaugment,vflip",
        advanced=True,
    )

    # Optimization
    optimizer: str = option("adamw", "Optimizer", "optimizer", choices=list_optimizers)
    lr: float = option(2e-3, "Learning rate", "optimizer", "the peak rate (one-cycle: its maximum)", min=1e-7, max=10.0)
    momentum: float = option(0.9, "Momentum", "optimizer", "SGD and RMSprop", min=0.0, max=0.999, advanced=True)
    nesterov: bool = option(False, "Nesterov momentum", "optimizer", "SGD only", advanced=True)
    scheduler: str = option("cosine", "Learning-rate schedule", "optimizer", choices=list_schedulers)
    warmup_epochs: float = option(
        0.0,
        "Warmup (epochs)",
        "optimizer",
        "linear warmup from near zero; one-cycle: its rising phase",
        min=0.0,
        max=100.0,
        advanced=True,
    )
    lr_step_epochs: int = option(5, "Step every (epochs)", "optimizer", "step schedule", min=1, max=1000, advanced=True)
    lr_gamma: float = option(
        0.1,
        "Decay factor",
        "optimizer",
        "step and plateau schedules: the rate is multiplied by this",
        min=0.001,
        max=0.99,
        advanced=True,
    )
    plateau_patience: int = option(
        2,
        "Plateau patience (epochs)",
        "optimizer",
        "plateau schedule: epochs without a better validation loss before decaying",
        min=0,
        max=100,
        advanced=True,
    )
    grad_clip: float = option(
        0.0, "Gradient clipping (max norm)", "optimizer", "0: off", min=0.0, max=1000.0, advanced=True
    )

    # Regularization
    weight_decay: float = option(
        5e-4,
        "Weight decay (L2)",
        "regularization",
        "not on biases and normalization parameters; AdamW decouples it from the gradient",
        min=0.0,
        max=1.0,
    )
    l1: float = option(
        0.0,
        "L1 penalty",
        "regularization",
        "adds l1 x the sum of absolute weights to the loss (not biases or normalization)",
        min=0.0,
        max=1.0,
        advanced=True,
    )
    dropout: float = option(
        0.0,
        "Dropout before the classifier",
        "regularization",
        "probability, 0 to disable; replaces the architecture's own (VGG 0.5, MobileNetV3 and "
        "EfficientNet 0.2, GoogLeNet 0.2, Inception-v3 0.5)",
        min=0.0,
        max=0.95,
    )

    # Loss
    loss: str = option("cross_entropy", "Loss", "loss", "bce: one output, for two classes only", choices=list_losses)
    label_smoothing: float = option(0.0, "Label smoothing", "loss", "0.1 is common", min=0.0, max=0.5, advanced=True)
    class_weights: str = option(
        "none",
        "Class weights",
        "loss",
        "balanced: rare classes count more (imbalanced data)",
        choices=list_class_weightings,
        advanced=True,
    )

    # Early stopping
    early_stopping: bool = option(
        False,
        "Stop early",
        "early_stopping",
        "end the run when the monitored metric stops improving (needs a validation split)",
    )
    monitor: str = option("val_loss", "Monitor", "early_stopping", "also picks the best epoch", choices=MONITORS)
    monitor_mode: str = option(
        "auto", "Better is", "early_stopping", "auto: lower loss, higher accuracy", choices=MODES, advanced=True
    )
    patience: int = option(
        5, "Patience (epochs)", "early_stopping", "epochs without improvement before stopping", min=1, max=1000
    )
    min_delta: float = option(
        0.0,
        "Minimum improvement",
        "early_stopping",
        "a change smaller than this does not count as better",
        min=0.0,
        max=1e6,
        advanced=True,
    )
    restore_best_weights: bool = option(
        True,
        "Restore the best weights",
        "early_stopping",
        "with early stopping: test and keep the best epoch's weights, not the last's",
        advanced=True,
    )

    # Training
    epochs: int = option(10, "Epochs", "training", min=1, max=1000)
    batch_size: int = option(64, "Batch size", "training", min=1, max=4096)
    device: str = option("auto", "Device", "training", "auto: CUDA when the worker has a GPU", choices=DEVICES)
    precision: str = option(
        "auto",
        "Precision",
        "training",
        "CUDA only (CPU runs in fp32): auto is bf16 where the GPU supports it, else fp16",
        choices=PRECISIONS,
        advanced=True,
    )
    channels_last: bool = option(
        True, "Channels-last memory format", "training", "CUDA only: faster convolutions", advanced=True
    )
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
        """Checks across fields; raise ConfigError naming the field to blame.

        These depend on the config alone, so the web form, the command line and the worker agree.
        Whether the pretrained weights file is in a worker's cache is a question about a machine:
        see `training.pretrained_weights_available` / `training.preflight`.
        """
        errors: dict[str, str] = {}
        info = model_info(self.arch)
        minimum = min_input_size(self.arch, self.pretrained)
        if self.image_size < minimum:
            pretrained = " with pretrained weights" if self.pretrained and minimum > info["min_input_size"] else ""
            errors["image_size"] = f"{self.arch} needs inputs of at least {minimum} pixels{pretrained}"
        if self.pretrained and weights_name(self.arch, self.batch_norm) is None:
            errors["pretrained"] = f"{self.arch} has no pretrained weights; choose another architecture"
        if not self.batch_norm and not info["batch_norm_optional"]:
            errors["batch_norm"] = f"{self.arch} always uses batch norm (small_cnn, vgg11 and vgg16 can do without)"
        try:
            if not parse_spec(self.augment_ops) and self.augmentation == "custom":
                errors["augment_ops"] = "list at least one operation for custom augmentation"
        except ValueError as exc:
            errors["augment_ops"] = str(exc)
        if self.nesterov and self.optimizer == "sgd" and self.momentum == 0:
            errors["nesterov"] = "Nesterov momentum needs a momentum above 0"
        if self.warmup_epochs and self.warmup_epochs >= self.epochs:
            errors["warmup_epochs"] = f"the warmup must be shorter than the run ({self.epochs} epochs)"
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
    elif kind is str and not isinstance(value, str):
        raise ValueError("must be text")
    if info.get("min") is not None and value < info["min"]:
        raise ValueError(f"must be at least {info['min']:g}")
    if info.get("max") is not None and value > info["max"]:
        raise ValueError(f"must be at most {info['max']:g}")
    if info.get("choices") is not None and value not in info["choices"]:
        raise ValueError(f"{value!r} is not one of: {', '.join(info['choices'])}")
    return value


def coerce_option(name: str, value: Any) -> Any:
    """One option's value checked and converted as `TrainConfig.from_dict` does (type, bounds, choices).

    Raises KeyError for an unknown option and ValueError saying what is wrong with the value (a search
    space checks its values and ranges with it, field by field, without building a whole config)."""
    info = next((i for i in TrainConfig.fields_info() if i["name"] == name), None)
    if info is None:
        raise KeyError(name)
    return _coerce(value, info)
