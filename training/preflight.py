"""Checks before a run: what would stop (errors) or weaken (warnings) this config on this machine
with this data, by config field. The web form, the command line and `fit` all ask `preflight`.

`TrainConfig.check()` covers what the config alone decides; these need more: the pretrained weights
file in this machine's torch cache, a starting point for the transfer modes, and the dataset (its
class count for the loss, a validation split for early stopping, enough training images for a batch),
and the warnings before a wasted run: too few optimizer steps, a class smaller than a batch, a
validation split too small to stop early on, classes the split could not give a val or test image.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import torch

from training import loaders
from training.config import ConfigError, TrainConfig
from training.data import Splits, decoded_bytes
from training.layout import listing
from training.losses import LOSSES
from training.models import create_model, pretrained_weights_available
from training.pretrained import PretrainedWeightsMissing
from training.steps import describe_steps, total_steps

MIN_STEPS = 100  # fewer optimizer steps than this rarely learn much (the recipes' needs ask for more)
MIN_VAL_TO_STOP_EARLY = 20  # below this, one image moves validation accuracy by more than 5 points


@dataclass
class Preflight:
    """Problems by config field ("__all__" for the run as a whole)."""

    errors: dict[str, str] = field(default_factory=dict)  # the run cannot (or must not) go ahead
    warnings: dict[str, str] = field(default_factory=dict)  # it can, but probably not as meant

    @property
    def ok(self) -> bool:
        return not self.errors

    def raise_errors(self) -> None:
        """PretrainedWeightsMissing for a missing weights file, else ConfigError naming every field."""
        if "pretrained" in self.errors:
            raise PretrainedWeightsMissing(self.errors["pretrained"])
        if self.errors:
            raise ConfigError(self.errors)


def preflight(
    config: TrainConfig, data: Splits | None = None, *, init_from: str | Path | None = None, resuming: bool = False
) -> Preflight:
    """What this run would run into, by field. Without `data`, only the checks that need none.

    init_from: the run to start from (transfer); resuming: the weights come from a checkpoint.
    """
    report = Preflight()
    _check_starting_point(config, init_from, resuming, report)
    if data is not None:
        _check_data(config, data, report)
        _warn_about_data(config, data, report)
        _check_memory(config, data, report)
    return report


def _check_starting_point(config: TrainConfig, init_from: str | Path | None, resuming: bool, report: Preflight) -> None:
    if config.pretrained and not resuming:  # a resumed run's weights are in its checkpoint
        ok, message = pretrained_weights_available(config.arch, config.batch_norm)
        if not ok:
            report.errors["pretrained"] = message
    if config.transfer_mode != "full" and not config.pretrained and init_from is None and not resuming:
        report.errors["transfer_mode"] = (
            f"{config.transfer_mode} needs a trained backbone: turn on pretrained weights or start from an earlier run"
        )


def _check_data(config: TrainConfig, data: Splits, report: Preflight) -> None:
    problem = LOSSES.get(config.loss).check(data.num_classes)
    if problem:
        report.errors["loss"] = problem
    if config.early_stopping and not data.val:
        report.errors["early_stopping"] = "early stopping needs a validation split; this dataset has none"
    if data.num_classes < 2:
        report.errors["__all__"] = "a classifier needs at least 2 classes"
    if config.batch_size > len(data.train):
        report.errors["batch_size"] = (
            f"Larger than the training split ({len(data.train)} images): use at most {len(data.train)}."
        )


def _warn_about_data(config: TrainConfig, data: Splits, report: Preflight) -> None:
    """What would let this run go ahead but waste it, by field."""
    num_train = len(data.train)
    if num_train and total_steps(num_train, config.batch_size, config.epochs) < MIN_STEPS:
        report.warnings["epochs"] = (
            f"Only {describe_steps(num_train, config.batch_size, config.epochs)}: too few to learn much. "
            f"Use a smaller batch or more epochs (at least {MIN_STEPS} steps)."
        )
    counts = Counter(label for _, label in data.train)
    small = sorted((counts[i], name) for i, name in enumerate(data.classes) if counts[i] < config.batch_size)
    if small and config.batch_size <= num_train:
        report.warnings["batch_size"] = (
            f"{len(small)} of {_classes(data.num_classes)} fewer training images than a batch of "
            f"{config.batch_size} ({listing(f'{name}: {n}' for n, name in small)}): a smaller batch "
            "gives each class a say in more steps."
        )
    if config.early_stopping and 0 < len(data.val) < MIN_VAL_TO_STOP_EARLY:
        report.warnings["early_stopping"] = (
            f"The validation split has only {len(data.val)} images: one image moves its accuracy by "
            f"{1 / len(data.val):.0%}, so early stopping reacts to noise. Use a larger validation split, "
            "a longer patience or no early stopping."
        )
    _warn_about_few_shot_classes(data, report)


def _warn_about_few_shot_classes(data: Splits, report: Preflight) -> None:
    """Classes with no validation or test image (too few images to give one to every split)."""
    for split, what in (("val", "validation"), ("test", "test")):
        images = getattr(data, split)
        if not images:
            continue  # no such split at all: not a per-class problem
        have = {label for _, label in images}
        missing = [name for i, name in enumerate(data.classes) if i not in have]
        if missing:
            report.warnings[f"{split}_split"] = (
                f"{_classes(len(missing))} no {what} image (too few images to give every split one): "
                f"{listing(missing)}. Their {what} results are missing; add images to them."
            )


def _classes(n: int) -> str:
    return f"{n} class has" if n == 1 else f"{n} classes have"


# A float32 batch's activations, as a multiple of its input: generous for the built-in models.
ACTIVATIONS_PER_INPUT = 64


def _mb(n: int) -> int:
    return -(-n // 2**20)


def _check_memory(config: TrainConfig, data: Splits, report: Preflight) -> None:
    """Refuse, before the run is queued, what would get the worker killed for memory."""
    free = loaders.available_memory()
    if config.data_loading == "memory":
        need = decoded_bytes(len(data.train) + len(data.val) + len(data.test), config.image_size)
        if need > config.memory_limit_mb * 2**20:
            report.errors["memory_limit_mb"] = (
                f"The decoded images need {_mb(need)} MB, over this limit: raise it to at least {_mb(need)}, "
                "or use the auto or stream data path."
            )
        elif need > free // 2:
            report.errors["data_loading"] = (
                f"The decoded images need {_mb(need)} MB and this machine has {_mb(free)} MB free: "
                "use the auto or stream data path, or a smaller image size."
            )
    model = _model_bytes(config, data)
    if model > free:
        report.errors["arch"] = (
            f"{config.arch} with these settings needs about {_mb(model)} MB to train (weights, gradients and "
            f"optimizer state), more than the {_mb(free)} MB this machine has free: choose a smaller model."
        )
    batch = config.batch_size * 3 * config.image_size**2 * 4 * ACTIVATIONS_PER_INPUT
    if batch > free:
        report.errors["batch_size"] = (
            f"One batch of {config.batch_size} images of {config.image_size}px needs about {_mb(batch)} MB, "
            f"more than the {_mb(free)} MB this machine has free: lower the batch size or the image size."
        )


def _model_bytes(config: TrainConfig, data: Splits) -> int:
    """Float32 weights, gradients and two optimizer moments of the model, built without memory (meta device)."""
    try:
        with torch.device("meta"):
            model = create_model(
                config.arch,
                LOSSES.get(config.loss).outputs(data.num_classes),
                config.image_size,
                depth=config.depth,
                width=config.width,
                batch_norm=config.batch_norm,
                dropout=config.dropout,
            )
    except (ValueError, RuntimeError, NotImplementedError):
        return 0  # a config the other checks refuse (too small an input, ...)
    return 4 * 4 * sum(p.numel() for p in model.parameters())
