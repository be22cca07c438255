"""The best epoch by a monitored metric, and early stopping when it stops improving."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass
class EarlyStopping:
    monitor: str  # an EpochMetrics field: "val_loss" or "val_acc"
    mode: str  # "min" or "max"
    patience: int  # epochs without improvement before stopping
    min_delta: float = 0.0  # an improvement must beat the best by more than this
    best: float | None = None
    best_epoch: int = 0
    wait: int = 0  # epochs since the best

    @staticmethod
    def resolve_mode(monitor: str, mode: str) -> str:
        if mode != "auto":
            return mode
        return "min" if monitor.endswith("loss") else "max"

    def improved(self, value: float) -> bool:
        if self.best is None:
            return True
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def update(self, epoch: int, value: float) -> bool:
        """Record an epoch's value; True when it is the new best."""
        if self.improved(value):
            self.best, self.best_epoch, self.wait = value, epoch, 0
            return True
        self.wait += 1
        return False

    @property
    def triggered(self) -> bool:
        return self.wait >= self.patience

    def reason(self, epoch: int) -> str:
        return (
            f"{self.monitor} did not improve by more than {self.min_delta:g} for {self.wait} epochs "
            f"(best {self.best:.4f} at epoch {self.best_epoch}); stopped after epoch {epoch}"
        )

    def state_dict(self) -> dict[str, Any]:
        return asdict(self)

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best, self.best_epoch, self.wait = state["best"], state["best_epoch"], state["wait"]
