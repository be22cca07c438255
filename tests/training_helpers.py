"""The training library's tests: a tiny config and a callback that records every hook call.
(Images and folders of them: `tests.images`.)"""

from __future__ import annotations

from typing import Any

import torch

from tests.helpers import TINY_CONFIG
from training import Callback, EpochMetrics, FitResult, FitStart
from training.callbacks import BatchProgress

# One epoch of the tiny config: a fraction of a second on one core.
TINY = {**TINY_CONFIG, "epochs": 1}


class Recorder(Callback):
    """Remembers every hook call."""

    def __init__(self, stop_at: tuple[int, int] | None = None) -> None:
        self.stop_at = stop_at  # (epoch, batch) after which should_stop answers True
        self.start: FitStart | None = None
        self.batches: list[BatchProgress] = []
        self.epochs: list[EpochMetrics] = []
        self.checkpoints: list[tuple[str, int]] = []
        self.logs: list[str] = []
        self.early_stops: list[tuple[int, str]] = []
        self.result: FitResult | None = None

    def on_fit_start(self, info: FitStart) -> None:
        self.start = info

    def on_batch_end(self, progress: BatchProgress) -> None:
        self.batches.append(progress)

    def on_epoch_end(self, metrics: EpochMetrics) -> None:
        self.epochs.append(metrics)

    def on_checkpoint(self, path: str, epoch: int) -> None:
        self.checkpoints.append((path, epoch))

    def on_log(self, line: str) -> None:
        self.logs.append(line)

    def on_early_stop(self, epoch: int, reason: str) -> None:
        self.early_stops.append((epoch, reason))

    def on_fit_end(self, result: FitResult) -> None:
        self.result = result

    def should_stop(self) -> bool:
        return (
            self.stop_at is not None
            and bool(self.batches)
            and ((self.batches[-1].epoch, self.batches[-1].batch) == self.stop_at)
        )


def comparable(history: list[EpochMetrics]) -> list[dict[str, Any]]:
    """Epoch metrics without the wall-clock fields."""
    return [{k: v for k, v in m.to_dict().items() if k not in ("seconds", "images_per_sec")} for m in history]


def same_weights(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def tiny_settings(**changes: Any) -> list[str]:
    """`python -m training` arguments that set the tiny config (and `changes`)."""
    return [f"--set={key}={value}" for key, value in {**TINY, **changes}.items()]
