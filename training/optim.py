"""Optimizers and learning-rate schedules, in registries.

Schedules are functions of the global step: `build_schedule(..., start_step=k)` puts the learning
rate where k steps of that schedule leave it, with no history needed. That is what makes a resumed
run continue exactly, and it decides how a finished run is extended by more epochs:

    Extending a run (a larger `epochs` on resume) follows the schedule the NEW config describes, as if
    the run had been planned that long from the start, evaluated at the step reached. A finished
    cosine run of 10 epochs extended to 15 restarts at the 15-epoch curve's value at epoch 10 (a
    quarter of the peak) and anneals to zero again: a modest warm restart (SGDR-style), never a jump
    to the full peak that would undo the converged weights, and never training on at the old
    schedule's final near-zero rate. Step schedules just continue their decay every `lr_step_epochs`;
    one-cycle stretches its annealing phase over the new length; reduce-on-plateau carries on with
    its state (best value, patience count, the reductions made so far).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import torch
from torch import nn
from torch.optim.lr_scheduler import LambdaLR, LRScheduler, OneCycleLR, ReduceLROnPlateau

from training.registry import Registry

if TYPE_CHECKING:
    from training.config import TrainConfig

OPTIMIZERS: Registry[Callable[..., torch.optim.Optimizer]] = Registry("optimizer")
SCHEDULERS: Registry[Callable[..., Schedule]] = Registry("scheduler")


def list_optimizers() -> list[str]:
    return OPTIMIZERS.names()


def list_schedulers() -> list[str]:
    return SCHEDULERS.names()


def param_groups(
    model: nn.Module, config: TrainConfig, head: set[nn.Parameter] | None = None, backbone_lr_factor: float = 1.0
) -> list[dict[str, Any]]:
    """Head and backbone, each with and without weight decay.

    No weight decay on biases and normalization parameters: decaying them only hurts (common practice).
    The backbone's learning rate is the config's times `backbone_lr_factor` (fine-tuning with a lower
    rate for pretrained layers). Frozen parameters are included: they have no gradient, so every
    optimizer skips them, and unfreezing them later (gradual unfreezing) needs no new optimizer.
    The head's groups come first: the learning rate a run reports is theirs.
    """
    head = head or set()
    groups: dict[tuple[bool, bool], list[nn.Parameter]] = {(h, d): [] for h in (True, False) for d in (True, False)}
    for p in model.parameters():
        groups[(p in head, p.ndim > 1)].append(p)
    out = []
    for (is_head, decay), params in groups.items():
        if params:
            out.append(
                {
                    "params": params,
                    "weight_decay": config.weight_decay if decay else 0.0,
                    "lr": config.lr * (1.0 if is_head else backbone_lr_factor),
                }
            )
    return out


def build_optimizer(
    config: TrainConfig, model: nn.Module, head: set[nn.Parameter] | None = None, backbone_lr_factor: float = 1.0
) -> torch.optim.Optimizer:
    return OPTIMIZERS.get(config.optimizer)(param_groups(model, config, head, backbone_lr_factor), config)


@OPTIMIZERS.register("sgd", "SGD with momentum (optionally Nesterov)")
def _sgd(params: list[dict], c: TrainConfig) -> torch.optim.Optimizer:
    return torch.optim.SGD(params, lr=c.lr, momentum=c.momentum, nesterov=c.nesterov)


@OPTIMIZERS.register("adam", "Adam (weight decay as an L2 term in the gradient)")
def _adam(params: list[dict], c: TrainConfig) -> torch.optim.Optimizer:
    return torch.optim.Adam(params, lr=c.lr)


@OPTIMIZERS.register("adamw", "AdamW (decoupled weight decay)")
def _adamw(params: list[dict], c: TrainConfig) -> torch.optim.Optimizer:
    return torch.optim.AdamW(params, lr=c.lr)


@OPTIMIZERS.register("rmsprop", "RMSprop")
def _rmsprop(params: list[dict], c: TrainConfig) -> torch.optim.Optimizer:
    return torch.optim.RMSprop(params, lr=c.lr, momentum=c.momentum)


class Schedule:
    """A per-step scheduler, a per-epoch one (reduce-on-plateau), or both, behind one interface."""

    def __init__(
        self,
        per_step: LRScheduler | None = None,
        plateau: ReduceLROnPlateau | None = None,
        *,
        start_step: int = 0,
        per_step_until: int | None = None,
        plateau_from_epoch: int = 1,
    ) -> None:
        self.per_step = per_step
        self.plateau = plateau
        self.step = start_step  # optimizer steps taken
        self.per_step_until = per_step_until  # the per-step scheduler's last step (a warmup before a plateau)
        self.plateau_from_epoch = plateau_from_epoch

    def step_batch(self) -> None:
        self.step += 1
        if self.per_step is not None and (self.per_step_until is None or self.step <= self.per_step_until):
            self.per_step.step()

    def step_epoch(self, epoch: int, metric: float) -> None:
        if self.plateau is not None and epoch >= self.plateau_from_epoch:
            self.plateau.step(metric)

    def state_dict(self) -> dict[str, Any] | None:
        # Per-step schedules are rebuilt from the config at the resumed step; only the plateau
        # scheduler's history (best value, patience count) must travel in the checkpoint.
        return self.plateau.state_dict() if self.plateau is not None else None

    def load_state_dict(self, state: dict[str, Any] | None) -> None:
        if self.plateau is not None and state is not None:
            self.plateau.load_state_dict(state)


def build_schedule(
    config: TrainConfig, optimizer: torch.optim.Optimizer, steps_per_epoch: int, start_step: int = 0
) -> Schedule:
    """The config's schedule, with the learning rates set for step `start_step` (0: a fresh run).

    When resuming (start_step > 0), call this after loading the optimizer's state: the schedulers
    read each group's initial learning rate from it.
    """
    return SCHEDULERS.get(config.scheduler)(optimizer, config, steps_per_epoch, start_step)


def _warmup(c: TrainConfig, steps_per_epoch: int) -> int:
    return round(c.warmup_epochs * steps_per_epoch)


def _lambda(optimizer: torch.optim.Optimizer, factor: Callable[[int], float], start_step: int) -> LambdaLR:
    # `last_epoch` counts steps here; a scheduler built at step k sets the rate of step k directly.
    return LambdaLR(optimizer, factor, last_epoch=start_step - 1)


def _with_warmup(factor: Callable[[int], float], warmup: int) -> Callable[[int], float]:
    """Linear warmup from 1/warmup of the rate over the first `warmup` steps, then `factor`."""
    if warmup <= 0:
        return factor
    return lambda step: (step + 1) / warmup if step < warmup else factor(step)


@SCHEDULERS.register("none", "constant learning rate (after the warmup, if any)")
def _constant(optimizer: torch.optim.Optimizer, c: TrainConfig, steps_per_epoch: int, start_step: int) -> Schedule:
    warmup = _warmup(c, steps_per_epoch)
    return Schedule(_lambda(optimizer, _with_warmup(lambda step: 1.0, warmup), start_step) if warmup else None)


@SCHEDULERS.register("step", "multiply the rate by lr_gamma every lr_step_epochs epochs")
def _step(optimizer: torch.optim.Optimizer, c: TrainConfig, steps_per_epoch: int, start_step: int) -> Schedule:
    every = c.lr_step_epochs * steps_per_epoch
    factor = _with_warmup(lambda step: c.lr_gamma ** (step // every), _warmup(c, steps_per_epoch))
    return Schedule(_lambda(optimizer, factor, start_step))


@SCHEDULERS.register("cosine", "cosine decay to zero over the run (after the warmup)")
def _cosine(optimizer: torch.optim.Optimizer, c: TrainConfig, steps_per_epoch: int, start_step: int) -> Schedule:
    warmup = _warmup(c, steps_per_epoch)
    span = max(1, c.epochs * steps_per_epoch - warmup)

    def factor(step: int) -> float:
        return 0.5 * (1 + math.cos(math.pi * min(1.0, (step - warmup) / span)))

    return Schedule(_lambda(optimizer, _with_warmup(factor, warmup), start_step))


@SCHEDULERS.register("onecycle", "one cycle: up to lr over the warmup (default 25% of the run), then down")
def _onecycle(optimizer: torch.optim.Optimizer, c: TrainConfig, steps_per_epoch: int, start_step: int) -> Schedule:
    total = c.epochs * steps_per_epoch
    warmup = _warmup(c, steps_per_epoch)
    pct_start = min(0.9, warmup / total) if warmup else 0.25
    # Each phase must span more than a step (torch divides by the phase length): matters for tiny runs only.
    pct_start = min(max(pct_start, 1.5 / total), (total - 0.5) / total)
    max_lr = [g["lr"] for g in optimizer.param_groups]
    # Momentum cycles inversely to the rate (0.95 -> 0.85 -> 0.95), as Smith's recipe does, when the
    # optimizer has momentum or Adam's beta1 to cycle.
    cycle = "betas" in optimizer.defaults or optimizer.defaults.get("momentum", 0) > 0
    return Schedule(
        OneCycleLR(
            optimizer,
            max_lr=max_lr,
            total_steps=total,
            pct_start=pct_start,
            cycle_momentum=cycle,
            last_epoch=start_step - 1,
        )
    )


@SCHEDULERS.register(
    "plateau", "divide the rate by 1/lr_gamma when the validation loss stops improving for plateau_patience epochs"
)
def _plateau(optimizer: torch.optim.Optimizer, c: TrainConfig, steps_per_epoch: int, start_step: int) -> Schedule:
    warmup = _warmup(c, steps_per_epoch)
    # The warmup's scheduler stops at the full rate; after it, only the plateau scheduler changes the rate
    # (and a resumed run past the warmup keeps the reduced rates its optimizer state holds).
    per_step = _lambda(optimizer, _with_warmup(lambda step: 1.0, warmup), start_step) if start_step < warmup else None
    plateau = ReduceLROnPlateau(optimizer, mode="min", factor=c.lr_gamma, patience=c.plateau_patience)
    return Schedule(
        per_step,
        plateau,
        start_step=start_step,
        per_step_until=warmup,
        plateau_from_epoch=math.ceil(c.warmup_epochs) + 1,
    )
