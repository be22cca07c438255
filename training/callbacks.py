"""What the training loop tells the outside world. The loop knows nothing of logging, databases or
websockets: whoever cares registers a Callback and overrides the hooks it needs.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class EpochMetrics:
    epoch: int  # 1-based
    train_loss: float
    train_acc: float  # 0-1
    val_loss: float | None
    val_acc: float | None
    lr: float
    seconds: float
    images_per_sec: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class BatchProgress:
    epoch: int
    batch: int  # 1-based, within the epoch
    batches: int
    loss: float

    @property
    def fraction(self) -> float:
        return self.batch / self.batches


@dataclass
class FitStart:
    epochs: int
    start_epoch: int  # 1 for a fresh run, k+1 when resuming after epoch k
    classes: list[str]
    device: str
    num_train: int
    num_val: int
    num_test: int
    parameters: int


@dataclass
class FitResult:
    status: str  # "completed", "stopped_early" or "cancelled"
    epochs_run: int  # the last completed epoch
    history: list[EpochMetrics] = field(default_factory=list)
    test: dict[str, Any] | None = None  # accuracy, loss, confusion matrix, ... (None when cancelled)
    stop_reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "epochs_run": self.epochs_run, "test": self.test,
                "stop_reason": self.stop_reason, "history": [m.to_dict() for m in self.history]}


class Callback:
    def on_fit_start(self, info: FitStart) -> None: ...

    def on_batch_end(self, progress: BatchProgress) -> None: ...

    def on_epoch_end(self, metrics: EpochMetrics) -> None: ...

    def on_checkpoint(self, path: str, epoch: int) -> None: ...

    def on_fit_end(self, result: FitResult) -> None: ...

    def should_stop(self) -> bool:
        """Asked after every batch; True cancels the run (the last epoch's checkpoint is kept)."""
        return False


class Throttled(Callback):
    """Base for callbacks whose batch hook should fire at most `per_second` times a second."""

    def __init__(self, per_second: float = 4.0) -> None:
        self._interval = 1.0 / per_second
        self._last = 0.0

    def due(self, progress: BatchProgress) -> bool:
        now = time.monotonic()
        if progress.batch == progress.batches or now - self._last >= self._interval:
            self._last = now
            return True
        return False


class PrintProgress(Throttled):
    """The command line's progress: one line per epoch, a running batch counter in between."""

    def on_fit_start(self, info: FitStart) -> None:
        print(f"training on {info.device}: {info.num_train} train / {info.num_val} val / {info.num_test} test images, "
              f"{len(info.classes)} classes, {info.parameters:,} parameters", flush=True)

    def on_batch_end(self, progress: BatchProgress) -> None:
        if self.due(progress):
            print(f"\repoch {progress.epoch} batch {progress.batch}/{progress.batches} loss {progress.loss:.4f}",
                  end="", flush=True)

    def on_epoch_end(self, m: EpochMetrics) -> None:
        val = f" val_loss {m.val_loss:.4f} val_acc {m.val_acc:.4f}" if m.val_loss is not None else ""
        print(f"\repoch {m.epoch}: train_loss {m.train_loss:.4f} train_acc {m.train_acc:.4f}{val} "
              f"lr {m.lr:.2e} {m.seconds:.1f}s {m.images_per_sec:.0f} img/s", flush=True)

    def on_fit_end(self, result: FitResult) -> None:
        test = f", test accuracy {result.test['accuracy']:.4f}" if result.test else ""
        print(f"{result.status} after epoch {result.epochs_run}{test}", flush=True)
