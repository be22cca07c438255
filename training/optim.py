"""Optimizers and learning-rate schedules, in registries."""
from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

import torch
from torch import nn

from training.registry import Registry

if TYPE_CHECKING:
    from training.config import TrainConfig

OPTIMIZERS: Registry[Callable[..., torch.optim.Optimizer]] = Registry("optimizer")
SCHEDULERS: Registry[Callable[..., torch.optim.lr_scheduler.LRScheduler | None]] = Registry("scheduler")


def list_optimizers() -> list[str]:
    return OPTIMIZERS.names()


def list_schedulers() -> list[str]:
    return SCHEDULERS.names()


def param_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    # No weight decay on biases and normalization parameters: decaying them only hurts (common practice).
    decay, no_decay = [], []
    for p in model.parameters():
        if p.requires_grad:
            (no_decay if p.ndim <= 1 else decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def build_optimizer(config: TrainConfig, model: nn.Module) -> torch.optim.Optimizer:
    return OPTIMIZERS.get(config.optimizer)(param_groups(model, config.weight_decay), config)


@OPTIMIZERS.register("sgd", "SGD with momentum")
def _sgd(params: Iterable, c: TrainConfig) -> torch.optim.Optimizer:
    return torch.optim.SGD(params, lr=c.lr, momentum=c.momentum)


@OPTIMIZERS.register("adam", "Adam")
def _adam(params: Iterable, c: TrainConfig) -> torch.optim.Optimizer:
    return torch.optim.Adam(params, lr=c.lr)


@OPTIMIZERS.register("adamw", "AdamW (decoupled weight decay)")
def _adamw(params: Iterable, c: TrainConfig) -> torch.optim.Optimizer:
    return torch.optim.AdamW(params, lr=c.lr)


@OPTIMIZERS.register("rmsprop", "RMSprop")
def _rmsprop(params: Iterable, c: TrainConfig) -> torch.optim.Optimizer:
    return torch.optim.RMSprop(params, lr=c.lr, momentum=c.momentum)


def build_scheduler(config: TrainConfig, optimizer: torch.optim.Optimizer, steps_per_epoch: int):
    """A scheduler stepped once per batch (None for a constant learning rate)."""
    return SCHEDULERS.get(config.scheduler)(optimizer, config, steps_per_epoch)


@SCHEDULERS.register("none", "Constant learning rate")
def _constant(optimizer: torch.optim.Optimizer, c: TrainConfig, steps_per_epoch: int) -> None:
    return None


@SCHEDULERS.register("cosine", "Cosine decay to zero over the run")
def _cosine(optimizer: torch.optim.Optimizer, c: TrainConfig, steps_per_epoch: int):
    return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, c.epochs * steps_per_epoch))
