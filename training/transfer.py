"""Transfer learning: which parts of a model train in which epoch, and starting from an earlier run.

A mode answers, for an epoch, how many backbone stages (counted from the top, see
`models.backbone_stages`) are trainable and the backbone's learning-rate factor. The head always
trains. The answer depends only on the epoch, so a resumed run freezes exactly what the
uninterrupted one froze.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import nn

from training import checkpoint as ckpt
from training.models import backbone_stages, classifier_head
from training.registry import Registry

if TYPE_CHECKING:
    from training.config import TrainConfig


@dataclass(frozen=True)
class Plan:
    trainable_stages: int  # from the top; the head always trains
    backbone_lr_factor: float


TRANSFER_MODES: Registry[Callable[[int, int, TrainConfig], Plan]] = Registry("transfer mode")


def list_transfer_modes() -> list[str]:
    return TRANSFER_MODES.names()


@TRANSFER_MODES.register("full", "fine-tune everything at the same learning rate")
def _full(epoch: int, stages: int, c: TrainConfig) -> Plan:
    return Plan(stages, 1.0)


@TRANSFER_MODES.register("feature_extract", "frozen backbone, only the new head trains")
def _feature_extract(epoch: int, stages: int, c: TrainConfig) -> Plan:
    return Plan(0, 1.0)


@TRANSFER_MODES.register("lower_backbone_lr", "fine-tune everything, the backbone at lr x backbone_lr_factor")
def _lower_backbone_lr(epoch: int, stages: int, c: TrainConfig) -> Plan:
    return Plan(stages, c.backbone_lr_factor)


@TRANSFER_MODES.register(
    "gradual_unfreeze",
    "head first, then one more backbone stage from the top every "
    "unfreeze_every epochs (ULMFiT), at lr x backbone_lr_factor",
)
def _gradual_unfreeze(epoch: int, stages: int, c: TrainConfig) -> Plan:
    return Plan(min(stages, (epoch - 1) // c.unfreeze_every), c.backbone_lr_factor)


def plan(config: TrainConfig, epoch: int, num_stages: int) -> Plan:
    return TRANSFER_MODES.get(config.transfer_mode)(epoch, num_stages, config)


def head_parameters(model: nn.Module) -> set[nn.Parameter]:
    return set(classifier_head(model)[1].parameters())


def apply_freezing(model: nn.Module, trainable_stages: int) -> None:
    """Make the head and the top `trainable_stages` backbone stages trainable, the rest frozen."""
    stages = backbone_stages(model)
    if trainable_stages >= len(stages):
        model.requires_grad_(True)
        return
    model.requires_grad_(False)
    classifier_head(model)[1].requires_grad_(True)
    for stage in stages[len(stages) - trainable_stages :]:
        for module in stage:
            module.requires_grad_(True)


def freeze_batchnorm_statistics(model: nn.Module) -> None:
    """Put batch norm layers whose parameters are frozen in eval mode (call after `model.train()`).

    Otherwise a "frozen" backbone would still move its running means and variances to the new data's
    batches, and the features the head learns on would drift.
    """
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.weight is not None and not m.weight.requires_grad:
            m.eval()


def count_trainable(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


@dataclass
class InitFrom:
    """What starting from an earlier run's checkpoint brought along."""

    path: str
    head_replaced: bool
    stats: tuple[list[float], list[float]] | None
    message: str


class IncompatibleCheckpoint(ValueError):
    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(message)


def load_init_from(model: nn.Module, path: str | Path, config: TrainConfig, classes: list[str]) -> InitFrom:
    """Load an earlier run's weights (a `last.pt` or `model.pt`) into `model` for transfer.

    The head is loaded too when the earlier run had the same classes (in the same order) and the same
    head shape; otherwise the new head keeps its fresh initialization ("head replaced").
    """
    state = ckpt.load(path)
    source_config = state.get("config", {})
    if source_config.get("arch", config.arch) != config.arch:
        arch = source_config["arch"]
        raise IncompatibleCheckpoint("arch", f"{path} holds a {arch} model; choose arch {arch} to start from it")
    weights: dict[str, torch.Tensor] = state["model"]
    head_path, _ = classifier_head(model)
    own = model.state_dict()
    head_keys = {k for k in own if k.startswith(head_path + ".")}
    same_head = state.get("classes") == classes and all(
        k in weights and weights[k].shape == own[k].shape for k in head_keys
    )
    if not same_head:
        weights = {k: v for k, v in weights.items() if k not in head_keys}
    mismatched = [k for k, v in weights.items() if k in own and v.shape != own[k].shape]
    if mismatched:
        raise IncompatibleCheckpoint(
            "image_size",
            f"{path} does not fit this model ({mismatched[0]} has another shape): the earlier run used "
            f"image_size {source_config.get('image_size')} and its options (depth, width, batch_norm); use the same",
        )
    result = model.load_state_dict(weights, strict=False)
    missing = [k for k in result.missing_keys if k not in head_keys]
    if missing or result.unexpected_keys:
        raise IncompatibleCheckpoint(
            "arch", f"{path} does not fit this model: missing {missing[:3]}, unexpected {result.unexpected_keys[:3]}"
        )
    stats = (list(state["mean"]), list(state["std"])) if "mean" in state else None
    what = "new head for " + f"{len(classes)} classes" if not same_head else "its head kept (same classes)"
    return InitFrom(str(path), not same_head, stats, f"started from the weights in {path}, {what}")
