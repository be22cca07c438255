"""What the training loop tells the outside world. The loop knows nothing of logging, databases or
websockets: whoever cares registers a Callback and overrides the hooks it needs.

The loop reports facts: `FitStart`, `BatchProgress`, `EpochMetrics`, `FitResult` through their own
hooks, and the rarer happenings as `Event`s through `on_event`. The wording of the log lives here,
next to those facts: an event's `describe()` is its line, which `Callback.on_event` passes to
`on_log` unless a callback handles the event itself.
"""

from __future__ import annotations

import sys
import time
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from torch import nn


class Outcome(StrEnum):
    """How a call to `fit` ended (`FitResult.status`)."""

    COMPLETED = "completed"  # every epoch ran
    STOPPED_EARLY = "stopped_early"  # early stopping: the monitored metric stopped improving
    CANCELLED = "cancelled"  # a callback's should_stop() during an epoch; the last checkpoint is kept
    PRUNED = "pruned"  # a callback's prune_reason() after an epoch (hyperparameter search); checkpoint kept


@dataclass
class EpochMetrics:
    epoch: int  # 1-based
    train_loss: float  # mean over the epoch's batches of the objective (smoothing, class weights; not L1)
    train_acc: float  # 0-1, on the augmented training batches
    val_loss: float | None  # negative log-likelihood of the true class (comparable across objectives)
    val_acc: float | None
    lr: float  # the head's rate in the epoch's last step (the peak of the parameter groups)
    seconds: float  # the whole epoch: training and validation
    images_per_sec: float  # training throughput

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class BatchProgress:
    epoch: int
    batch: int  # 1-based, within the epoch
    batches: int
    loss: float  # this batch's training loss

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
    trainable_parameters: int = 0  # at the start (transfer modes freeze some)
    data_path: str = "memory"  # "memory" or "stream"
    precision: str = "fp32"
    mean: list[float] = field(default_factory=list)  # the normalization used, per channel (0-1 scale)
    std: list[float] = field(default_factory=list)

    def sizes(self) -> str:
        """ "18 train / 6 val / 6 test images, 3 classes, 1,234 parameters" """
        return (
            f"{self.num_train} train / {self.num_val} val / {self.num_test} test images, "
            f"{len(self.classes)} classes, {self.parameters:,} parameters"
        )


class Event:
    """Something that happened in a run and has no hook of its own; `describe()` words it for a log."""

    def describe(self) -> str:
        raise NotImplementedError


@dataclass(frozen=True)
class DataReady(Event):
    path: str  # "memory" or "stream"
    image_size: int
    augmentation: str  # the preset's name
    augment_spec: str  # the operations it stands for
    normalization: str  # whose statistics normalize the inputs
    seconds: float  # decoding (memory path) and statistics

    def describe(self) -> str:
        spec = f" ({self.augment_spec})" if self.augment_spec and self.augment_spec != self.augmentation else ""
        return (
            f"data: {self.path} path, {self.image_size}px, augmentation {self.augmentation}{spec}, "
            f"normalized with {self.normalization}; ready in {self.seconds:.1f}s"
        )


@dataclass(frozen=True)
class Resumed(Event):
    checkpoint: str
    after_epoch: int  # the epoch the checkpoint holds
    epochs: int  # the run's (new) length
    extending: bool  # more epochs than the checkpoint's run was planned for

    def describe(self) -> str:
        what = "extending" if self.extending else "resuming"
        return f"{what} from {self.checkpoint} after epoch {self.after_epoch} (to epoch {self.epochs})"


@dataclass(frozen=True)
class StagesUnfrozen(Event):
    epoch: int
    trainable: int  # backbone stages, from the top
    stages: int
    parameters: int  # trainable parameters now

    def describe(self) -> str:
        return (
            f"epoch {self.epoch}: {self.trainable} of {self.stages} backbone stages trainable "
            f"({self.parameters:,} parameters)"
        )


@dataclass(frozen=True)
class LearningRateReduced(Event):
    epoch: int
    lr: float

    def describe(self) -> str:
        return f"epoch {self.epoch}: learning rate reduced to {self.lr:.2e} (plateau)"


@dataclass(frozen=True)
class StoppedEarly(Event):
    epoch: int
    reason: str

    def describe(self) -> str:
        return self.reason


@dataclass(frozen=True)
class Pruned(Event):
    epoch: int
    reason: str

    def describe(self) -> str:
        return f"pruned after epoch {self.epoch}: {self.reason}"


@dataclass(frozen=True)
class BestRestored(Event):
    epoch: int
    monitor: str
    value: float

    def describe(self) -> str:
        return f"restored the weights of epoch {self.epoch} ({self.monitor} {self.value:.4f})"


@dataclass
class FitResult:
    status: Outcome
    epochs_run: int  # the last completed epoch
    history: list[EpochMetrics] = field(default_factory=list)
    # On the test split, with the final weights: accuracy, loss, top5_accuracy (more than 5 classes),
    # macro_f1, confusion_matrix, per_class, predictions, classes, num_samples (see metrics.classification_report).
    # None when cancelled or when there is no test split.
    test: dict[str, Any] | None = None
    stop_reason: str = ""  # why a run stopped early, was cancelled or pruned
    best_epoch: int | None = None  # by the monitored metric (None without a validation split)
    best_value: float | None = None  # the monitored metric at best_epoch
    monitor: str = ""
    restored_best: bool = False  # the final (tested, saved) weights are best_epoch's, not the last epoch's
    model_path: str | None = None  # model.pt: the final weights with what inference needs
    model: nn.Module | None = field(default=None, repr=False, compare=False)  # the final model (not serialized)

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "epochs_run": self.epochs_run,
            "test": self.test,
            "stop_reason": self.stop_reason,
            "best_epoch": self.best_epoch,
            "best_value": self.best_value,
            "monitor": self.monitor,
            "restored_best": self.restored_best,
            "model_path": self.model_path,
            "history": [m.to_dict() for m in self.history],
        }


class Callback:
    def on_fit_start(self, info: FitStart) -> None: ...

    def on_batch_end(self, progress: BatchProgress) -> None: ...

    def on_epoch_end(self, metrics: EpochMetrics) -> None: ...

    def on_checkpoint(self, path: str, epoch: int) -> None: ...

    def on_fit_end(self, result: FitResult) -> None: ...

    def on_log(self, line: str) -> None:
        """A human-readable line about the run: an event's description, or a note that has no event."""

    def on_event(self, event: Event) -> None:
        """Something happened (data ready, stages unfrozen, ...): logged as `event.describe()` unless overridden."""
        self.on_log(event.describe())

    def on_early_stop(self, epoch: int, reason: str) -> None:
        """The run stops early after `epoch` (on_fit_end follows)."""

    def should_stop(self) -> bool:
        """Asked after every batch; True cancels the run (the last epoch's checkpoint is kept)."""
        return False

    def prune_reason(self, metrics: EpochMetrics) -> str | None:
        """Asked after every epoch's checkpoint; a reason ends the run as pruned (a weak search trial).

        A pruned run keeps its checkpoint; it is not tested and writes no model.pt."""
        return None


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
    """The command line's progress: one line per epoch, a running batch counter in between (on a terminal)."""

    def __init__(self, per_second: float = 4.0) -> None:
        super().__init__(per_second)
        self.interactive = sys.stdout.isatty()  # a log file gets whole lines only, not carriage-return updates

    def on_fit_start(self, info: FitStart) -> None:
        print(f"training on {info.device}: {info.sizes()}", flush=True)

    def on_batch_end(self, progress: BatchProgress) -> None:
        if self.interactive and self.due(progress):
            print(
                f"\repoch {progress.epoch} batch {progress.batch}/{progress.batches} loss {progress.loss:.4f}",
                end="",
                flush=True,
            )

    def on_epoch_end(self, m: EpochMetrics) -> None:
        val = f" val_loss {m.val_loss:.4f} val_acc {m.val_acc:.4f}" if m.val_loss is not None else ""
        print(
            f"\repoch {m.epoch}: train_loss {m.train_loss:.4f} train_acc {m.train_acc:.4f}{val} "
            f"lr {m.lr:.2e} {m.seconds:.1f}s {m.images_per_sec:.0f} img/s",
            flush=True,
        )

    def on_log(self, line: str) -> None:
        print(f"\r{line}", flush=True)

    def on_fit_end(self, result: FitResult) -> None:
        test = ""
        if result.test:
            top5 = f", top-5 {result.test['top5_accuracy']:.4f}" if "top5_accuracy" in result.test else ""
            test = f", test accuracy {result.test['accuracy']:.4f}{top5}, macro F1 {result.test['macro_f1']:.4f}"
        best = f", best epoch {result.best_epoch}" if result.best_epoch else ""
        print(f"{result.status} after epoch {result.epochs_run}{best}{test}", flush=True)
