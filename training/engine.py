"""`fit(config, data, callbacks)`: the training loop. It triggers callbacks and knows nothing else.

`fit` reads as its steps (the methods of `_Trainer`, in this order):

    preflight       problems by config field, before anything runs (`training.preflight`)
    set_up          device; model (seed, ImageNet weights or an earlier run's); data path, statistics
                    and augmentation; objective, frozen stages and optimizer
    restore         when resuming: weights, optimizer, early stopping and history from `last.pt`
    start_schedule  the learning rates at the step reached
    run             per epoch: train_epoch (the hot loop), evaluate, save_checkpoint; until the last
                    epoch, early stopping, a prune or a cancel
    finish          the best weights back, the test split, `model.pt`

What happens is reported to the callbacks as facts (`FitStart`, `EpochMetrics`, events such as
`DataReady`); the wording of the log is theirs (`training.callbacks`).

Reproducibility: the model is initialized from `config.seed`, and every epoch reseeds torch's global
generator (dropout, stochastic depth, per-image augmentations) and the data's generator (shuffle,
batched augmentations, loader workers) from (seed, epoch). An epoch's randomness therefore depends
on nothing that happened before it, so a run resumed from the checkpoint of epoch k draws the same
numbers as the uninterrupted run: on CPU the final weights and metrics are identical. The epoch
number in the checkpoint is, with the seed, the whole random state. (CUDA kernels are not bitwise
deterministic, so GPU runs are reproducible only up to floating-point noise.)
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from training import checkpoint as ckpt
from training.augment import build_augmenter
from training.callbacks import (
    BatchProgress,
    BestRestored,
    Callback,
    DataReady,
    EpochMetrics,
    FitResult,
    FitStart,
    LearningRateReduced,
    Outcome,
    Pruned,
    Resumed,
    StagesUnfrozen,
    StoppedEarly,
)
from training.config import RESUME_MAY_CHANGE, ConfigError, TrainConfig
from training.data import IMAGENET_STATS, Splits, Stats, channel_stats, compute_stats
from training.early_stopping import EarlyStopping
from training.loaders import Batches, InMemoryBatches, build_batches, choose_data_path
from training.losses import LOSSES, Objective, build_objective
from training.metrics import classification_report, summary
from training.models import backbone_stages, create_model, weights_name
from training.optim import build_optimizer, build_schedule
from training.preflight import preflight
from training.transfer import (
    IncompatibleCheckpoint,
    apply_freezing,
    count_trainable,
    freeze_batchnorm_statistics,
    head_parameters,
    load_init_from,
    plan,
)

CHECKPOINT_NAME = "last.pt"  # after every epoch: everything needed to resume
MODEL_NAME = "model.pt"  # at the end: the final (tested) weights and what inference needs
CHECKPOINT_FORMAT = 2
AMP_DTYPES: dict[str, torch.dtype | None] = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


class TrainingDiverged(RuntimeError):
    """The training loss became NaN or infinite."""


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("the config asks for CUDA but this machine has no usable GPU")
    return torch.device(name)


def resolve_precision(name: str, device: torch.device) -> str:
    """Mixed precision is for CUDA; CPU runs stay in fp32 (and reproducible)."""
    if device.type != "cuda":
        return "fp32"
    if name == "auto":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return name


def epoch_seeds(seed: int, epoch: int) -> tuple[int, int]:
    """(global torch seed, data seed) for an epoch: well mixed, independent of every other epoch."""
    a, b = np.random.SeedSequence([seed, epoch]).generate_state(2, dtype=np.uint64)
    return int(a) >> 1, int(b) >> 1


def seed_everything(seed: int) -> None:
    torch.manual_seed(seed)  # also seeds every CUDA device


class _Callbacks:
    def __init__(self, callbacks: Sequence[Callback]) -> None:
        self.items = list(callbacks)

    def __getattr__(self, hook: str):
        def call(*args):
            for cb in self.items:
                getattr(cb, hook)(*args)

        return call

    def should_stop(self) -> bool:
        return any(cb.should_stop() for cb in self.items)

    def prune_reason(self, metrics: EpochMetrics) -> str | None:
        return next((r for cb in self.items if (r := cb.prune_reason(metrics))), None)


# --- checks before anything runs ------------------------------------------------------------------
def _check_resume(state: dict[str, Any], config: TrainConfig, data: Splits) -> None:
    saved = state.get("config", {})
    errors = {}
    for name in TrainConfig.field_names():
        old = saved.get(name, TrainConfig.__dataclass_fields__[name].default)
        new = getattr(config, name)
        if name not in RESUME_MAY_CHANGE and old != new:
            errors[name] = (
                f"differs from the checkpoint's ({old!r}); a resumed run may change only: "
                f"{', '.join(sorted(RESUME_MAY_CHANGE))}"
            )
    if state.get("classes") != data.classes:
        errors["__all__"] = (
            f"the checkpoint was trained on the classes {state.get('classes')}, this dataset "
            f"has {data.classes}; to train on other data, start from it with init_from"
        )
    if config.epochs < state["epoch"]:
        errors["epochs"] = f"the checkpoint already holds epoch {state['epoch']}; ask for at least that many"
    if errors:
        raise ConfigError(errors)


# --- pieces of the loop -------------------------------------------------------------------------------
def _choose_stats(
    config: TrainConfig, given: Stats | None, init_stats: Stats | None, batches: Batches, data: Splits
) -> tuple[Stats, str]:
    if config.normalization == "imagenet" or (config.normalization == "auto" and config.pretrained):
        return IMAGENET_STATS, "ImageNet statistics"
    if config.normalization == "auto" and init_stats is not None:
        return init_stats, "the starting run's statistics"
    if given is not None:
        return (list(given[0]), list(given[1])), "the dataset's stored statistics"
    if isinstance(batches, InMemoryBatches):
        return channel_stats(batches.train_images()), "statistics of the training split"
    return compute_stats(data.train, config.image_size, resize=config.resize), "statistics of the training split"


class _Inputs:
    """uint8 batches to the model's input: normalized, channels-last on CUDA, under autocast."""

    def __init__(self, stats: Stats, device: torch.device, precision: str, channels_last: bool) -> None:
        # As `data.normalize`, with the statistics placed on the device once rather than every batch.
        self.scale = (1 / (255 * torch.tensor(stats[1], device=device))).view(1, -1, 1, 1)
        self.shift = (torch.tensor(stats[0], device=device) / torch.tensor(stats[1], device=device)).view(1, -1, 1, 1)
        self.dtype = AMP_DTYPES[precision]
        self.device = device
        self.memory_format = torch.channels_last if channels_last and device.type == "cuda" else torch.contiguous_format

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """(x / 255 - mean) / std, as one multiply-add."""
        return torch.addcmul(-self.shift, x.float(), self.scale).contiguous(memory_format=self.memory_format)

    def autocast(self) -> contextlib.AbstractContextManager:
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.dtype)


@torch.no_grad()
def predict(
    model: nn.Module, batches: Iterator[tuple[torch.Tensor, torch.Tensor]], inputs: _Inputs, objective: Objective
) -> tuple[torch.Tensor, torch.Tensor]:
    """Log-probabilities (N, classes) and labels, on CPU."""
    model.eval()
    out, labels = [], []
    for x, y in batches:
        with inputs.autocast():
            logits = model(inputs(x))
        out.append(objective.log_probs(logits).cpu())
        labels.append(y.cpu())
    if not out:
        return torch.empty(0, objective.num_classes), torch.empty(0, dtype=torch.int64)
    return torch.cat(out), torch.cat(labels)


def _l1_penalty(params: list[nn.Parameter]) -> torch.Tensor:
    return torch.stack([p.abs().sum() for p in params]).sum()


def _cpu_copy(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}


def _current_lr(optimizer: torch.optim.Optimizer) -> float:
    return max(float(g["lr"]) for g in optimizer.param_groups)


# --- the loop, as named steps -------------------------------------------------------------------------
@dataclass
class _EpochTotals:
    """One epoch's training pass, read back from the device once, at its end."""

    loss: float  # mean data loss over the epoch's images (not the L1 term)
    accuracy: float
    images: int
    lr: float  # the rate of the epoch's last step
    started: float  # perf_counter at the epoch's start
    seconds: float  # the training pass alone


class _Trainer:
    """One call of `fit`: set up, restore (when resuming), then per epoch train, evaluate, checkpoint; finish."""

    def __init__(
        self, config: TrainConfig, data: Splits, cbs: _Callbacks, checkpoint_dir: str | Path | None, interval: float
    ) -> None:
        self.config, self.data, self.cbs = config, data, cbs
        self.checkpoint_dir = None if checkpoint_dir is None else Path(checkpoint_dir)
        self.progress_interval = interval
        mode = EarlyStopping.resolve_mode(config.monitor, config.monitor_mode)
        self.tracker = EarlyStopping(config.monitor, mode, config.patience, config.min_delta)
        self.keep_best = config.early_stopping and config.restore_best_weights
        self.best_state: dict[str, torch.Tensor] | None = None
        self.history: list[EpochMetrics] = []
        self.last_epoch = 0  # the last completed (and checkpointed) epoch
        self.start_epoch = 1

    # --- set up: device, model, data, optimizer ------------------------------------------------------
    def set_up(self, stats: Stats | None, init_from: str | Path | None, resume_state: dict[str, Any] | None) -> None:
        if resume_state is not None:
            self.last_epoch = resume_state["epoch"]
            self.start_epoch = self.last_epoch + 1
        self._set_up_device()
        # Model first: a missing pretrained file or an unfit checkpoint fails before data is decoded.
        init_stats = self._set_up_model(init_from, fresh=resume_state is None)
        saved = (list(resume_state["mean"]), list(resume_state["std"])) if resume_state is not None else None
        self._set_up_data(stats, init_stats, saved)
        self._set_up_optimizer()

    def _set_up_device(self) -> None:
        self.device = resolve_device(self.config.device)
        self.precision = resolve_precision(self.config.precision, self.device)
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = True  # fixed input sizes: let cuDNN pick the fastest kernels
            torch.backends.cuda.matmul.allow_tf32 = True
            torch.backends.cudnn.allow_tf32 = True
        elif self.config.precision in ("bf16", "fp16"):
            self.cbs.on_log(f"precision {self.config.precision} applies on CUDA only; this CPU run uses fp32")

    def _set_up_model(self, init_from: str | Path | None, fresh: bool) -> Stats | None:
        """The model from the seed (with ImageNet weights or an earlier run's); that run's statistics."""
        config, data = self.config, self.data
        seed_everything(config.seed)
        self.model = create_model(
            config.arch,
            LOSSES.get(config.loss).outputs(data.num_classes),
            config.image_size,
            pretrained=config.pretrained and fresh,
            depth=config.depth,
            width=config.width,
            batch_norm=config.batch_norm,
            dropout=config.dropout,
        )
        if config.pretrained and fresh:
            self.cbs.on_log(f"loaded pretrained weights {weights_name(config.arch, config.batch_norm)}")
        if init_from is None:
            return None
        try:
            started = load_init_from(self.model, init_from, config, data.classes)
        except IncompatibleCheckpoint as exc:
            raise ConfigError({exc.field: str(exc)}) from exc
        self.cbs.on_log(started.message)
        return started.stats

    def _set_up_data(self, given: Stats | None, init_stats: Stats | None, saved: Stats | None) -> None:
        """Batches on the chosen data path, the normalization statistics and the augmentation."""
        config = self.config
        self.path = choose_data_path(config, self.data, self.device)
        started = time.perf_counter()
        self.batches = build_batches(config, self.data, self.device, self.path)
        if saved is not None:
            self.stats, source = saved, "the checkpoint's statistics"
        else:
            self.stats, source = _choose_stats(config, given, init_stats, self.batches, self.data)
        # Erased pixels take the mean color, which normalization turns into 0.
        fill = [round(255 * m) for m in self.stats[0]]
        augmenter = build_augmenter(config.augmentation, config.image_size, config.augment_ops, fill=fill)
        self.batches.set_augmenter(augmenter)
        seconds = time.perf_counter() - started
        self.cbs.on_event(DataReady(self.path, config.image_size, config.augmentation, augmenter.spec, source, seconds))

    def _set_up_optimizer(self) -> None:
        """The model on the device, the objective, the first epoch's frozen stages, optimizer and scaler."""
        config, model = self.config, self.model
        model.to(self.device)
        self.inputs = _Inputs(self.stats, self.device, self.precision, config.channels_last)
        if self.inputs.memory_format == torch.channels_last:
            model.to(memory_format=torch.channels_last)
        labels = [label for _, label in self.data.train]
        self.objective = build_objective(config, self.data.num_classes, labels).to(self.device)
        self.stages = len(backbone_stages(model))
        first = plan(config, min(self.start_epoch, config.epochs), self.stages)
        apply_freezing(model, first.trainable_stages)
        self.trainable_stages = first.trainable_stages
        self.optimizer = build_optimizer(config, model, head_parameters(model), first.backbone_lr_factor)
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.precision == "fp16")
        self.steps = self.batches.train_steps()

    def start_schedule(self, resume_state: dict[str, Any] | None) -> None:
        """The learning-rate schedule at the step reached (after the optimizer's state is restored)."""
        start_step = (self.start_epoch - 1) * self.steps
        self.schedule = build_schedule(self.config, self.optimizer, self.steps, start_step=start_step)
        if resume_state is not None:
            self.schedule.load_state_dict(resume_state.get("schedule"))

    # --- restore: continue from a checkpoint ----------------------------------------------------------
    def restore(self, state: dict[str, Any], source: str | Path) -> None:
        config = self.config
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if state.get("scaler") and self.scaler.is_enabled():
            self.scaler.load_state_dict(state["scaler"])
        self.tracker.load_state_dict(state["early_stopping"])
        self.best_state = state.get("best_model")
        self.history = [EpochMetrics(**m) for m in state["history"]]
        if config.epochs > state["epoch"] and self.tracker.triggered:
            # The earlier run stopped early; asking for more epochs overrides that once: patience restarts.
            self.tracker.wait = 0
        extending = config.epochs > state["config"].get("epochs", config.epochs)
        self.cbs.on_event(Resumed(str(source), state["epoch"], config.epochs, extending))

    def fit_start(self) -> FitStart:
        data, model = self.data, self.model
        return FitStart(
            self.config.epochs,
            self.start_epoch,
            data.classes,
            str(self.device),
            len(data.train),
            len(data.val),
            len(data.test),
            sum(p.numel() for p in model.parameters()),
            count_trainable(model),
            self.path,
            self.precision,
            list(self.stats[0]),
            list(self.stats[1]),
        )

    # --- the epochs ---------------------------------------------------------------------------------
    def run(self) -> tuple[Outcome, str]:
        """Epoch after epoch until the last one, early stopping, pruning or a cancel: (outcome, why)."""
        for epoch in range(self.start_epoch, self.config.epochs + 1):
            self._unfreeze(epoch)
            totals = self.train_epoch(epoch)
            if totals is None:
                return Outcome.CANCELLED, (
                    f"cancelled during epoch {epoch}; the checkpoint of epoch {self.last_epoch} is kept"
                )
            metrics = self.evaluate(epoch, totals)
            self._end_epoch(metrics)
            self.save_checkpoint(epoch)
            stop = self._stop_after(metrics)
            if stop is not None:
                return stop
        return Outcome.COMPLETED, ""

    def _unfreeze(self, epoch: int) -> None:
        """The transfer mode's trainable stages for this epoch (gradual unfreezing changes them)."""
        trainable = plan(self.config, epoch, self.stages).trainable_stages
        if trainable != self.trainable_stages:
            apply_freezing(self.model, trainable)
            self.trainable_stages = trainable
            self.cbs.on_event(StagesUnfrozen(epoch, trainable, self.stages, count_trainable(self.model)))

    def train_epoch(self, epoch: int) -> _EpochTotals | None:
        """One pass over the training batches; None when a callback cancels the run.

        The hot loop: sums stay on the device (reading them every batch would wait for the GPU every
        batch) and callbacks hear of a batch at most every `progress_interval` seconds.
        """
        # Locals, not attributes, in the loop below: no extra lookups per batch.
        config, model, optimizer, scaler = self.config, self.model, self.optimizer, self.scaler
        objective, inputs, schedule, cbs = self.objective, self.inputs, self.schedule, self.cbs
        steps, interval = self.steps, self.progress_interval
        torch_seed, data_seed = epoch_seeds(config.seed, epoch)
        torch.manual_seed(torch_seed)
        model.train()
        freeze_batchnorm_statistics(model)
        l1_params = [p for p in model.parameters() if p.requires_grad and p.ndim > 1] if config.l1 else []
        started = time.perf_counter()
        last_report = 0.0
        loss_sum = torch.zeros((), device=self.device)
        correct = torch.zeros((), device=self.device, dtype=torch.int64)
        seen, lr_used = 0, _current_lr(optimizer)
        # Closed on every way out (a stop, an exception): a prefetching thread ends with the loop.
        with contextlib.closing(self.batches.train(data_seed)) as batches:
            for step, (x, y) in enumerate(batches, 1):
                with inputs.autocast():
                    logits = model(inputs(x))
                loss = objective(logits, y)
                total = loss + config.l1 * _l1_penalty(l1_params) if l1_params else loss
                optimizer.zero_grad(set_to_none=True)
                scaler.scale(total).backward()
                if config.grad_clip:
                    scaler.unscale_(optimizer)
                    nn.utils.clip_grad_norm_([p for p in model.parameters() if p.grad is not None], config.grad_clip)
                scaler.step(optimizer)
                scaler.update()
                lr_used = _current_lr(optimizer)
                schedule.step_batch()
                # The reported training loss is the data term (with smoothing and class weights), not the L1 term.
                loss_sum += loss.detach() * len(y)
                correct += (objective.predict(logits.detach()) == y).sum()
                seen += len(y)
                now = time.perf_counter()
                if step == steps or now - last_report >= interval:
                    last_report = now
                    cbs.on_batch_end(BatchProgress(epoch, step, steps, loss.item()))
                if cbs.should_stop():
                    return None
        seconds = time.perf_counter() - started
        train_loss = (loss_sum / max(seen, 1)).item()
        if not math.isfinite(train_loss):
            raise TrainingDiverged(
                f"the training loss became {train_loss} in epoch {epoch}: lower the learning "
                f"rate (now {config.lr:g}), add warmup or gradient clipping"
            )
        return _EpochTotals(train_loss, correct.item() / max(seen, 1), seen, lr_used, started, seconds)

    def evaluate(self, epoch: int, totals: _EpochTotals) -> EpochMetrics:
        """The epoch's metrics: its training totals and the validation split's loss and accuracy."""
        val = None
        if self.data.val:
            val = summary(*predict(self.model, self.batches.eval("val"), self.inputs, self.objective))
        return EpochMetrics(
            epoch=epoch,
            train_loss=totals.loss,
            train_acc=totals.accuracy,
            val_loss=val["loss"] if val else None,
            val_acc=val["accuracy"] if val else None,
            lr=totals.lr,
            seconds=time.perf_counter() - totals.started,
            images_per_sec=totals.images / max(totals.seconds, 1e-9),
        )

    def _end_epoch(self, metrics: EpochMetrics) -> None:
        """History, the best epoch (and its weights), the per-epoch schedule; then `on_epoch_end`."""
        self.history.append(metrics)
        self.last_epoch = metrics.epoch
        has_val = metrics.val_loss is not None
        if has_val and self.tracker.update(metrics.epoch, getattr(metrics, self.config.monitor)) and self.keep_best:
            self.best_state = _cpu_copy(self.model)
        lr_before = _current_lr(self.optimizer)
        self.schedule.step_epoch(metrics.epoch, metrics.val_loss if has_val else metrics.train_loss)
        if _current_lr(self.optimizer) < lr_before:
            self.cbs.on_event(LearningRateReduced(metrics.epoch, _current_lr(self.optimizer)))
        self.cbs.on_epoch_end(metrics)

    def _stop_after(self, metrics: EpochMetrics) -> tuple[Outcome, str] | None:
        """Early stopping, or a callback pruning the run, before the last epoch."""
        epoch = metrics.epoch
        if epoch >= self.config.epochs:
            return None
        if self.config.early_stopping and self.tracker.triggered:
            reason = self.tracker.reason(epoch)
            self.cbs.on_event(StoppedEarly(epoch, reason))
            self.cbs.on_early_stop(epoch, reason)
            return Outcome.STOPPED_EARLY, reason
        if reason := self.cbs.prune_reason(metrics):
            self.cbs.on_event(Pruned(epoch, reason))
            return Outcome.PRUNED, reason
        return None

    # --- checkpoints: the state built once ------------------------------------------------------------
    def _weights_state(self, epoch: int) -> dict[str, Any]:
        """What `model.pt` holds, and `last.pt` with more: the weights and what inference needs."""
        return {
            "format": CHECKPOINT_FORMAT,
            "epoch": epoch,
            "model": self.model.state_dict(),
            "config": self.config.to_dict(),
            "classes": self.data.classes,
            "mean": list(self.stats[0]),
            "std": list(self.stats[1]),
        }

    def checkpoint_state(self, epoch: int) -> dict[str, Any]:
        """What `last.pt` holds: everything a resumed run needs to continue exactly."""
        return {
            **self._weights_state(epoch),
            "optimizer": self.optimizer.state_dict(),
            "schedule": self.schedule.state_dict(),
            "scaler": self.scaler.state_dict() if self.scaler.is_enabled() else None,
            "early_stopping": self.tracker.state_dict(),
            "best_model": self.best_state if self.keep_best else None,
            "history": [m.to_dict() for m in self.history],
        }

    def save_checkpoint(self, epoch: int) -> None:
        if self.checkpoint_dir is not None:
            saved = ckpt.save_atomic(self.checkpoint_state(epoch), self.checkpoint_dir / CHECKPOINT_NAME)
            self.cbs.on_checkpoint(str(saved), epoch)

    # --- finish: the best weights back, the test split, model.pt --------------------------------------
    def finish(self, outcome: Outcome, reason: str) -> FitResult:
        tracker = self.tracker
        result = FitResult(
            outcome,
            self.last_epoch,
            self.history,
            stop_reason=reason,
            monitor=self.config.monitor,
            best_epoch=tracker.best_epoch or None,
            best_value=tracker.best,
            model=self.model,
        )
        if outcome not in (Outcome.CANCELLED, Outcome.PRUNED):
            result.restored_best = self._restore_best()
            result.test = self._test()
            if self.checkpoint_dir is not None:
                final_epoch = tracker.best_epoch if result.restored_best else self.last_epoch
                path = ckpt.save_atomic(self._weights_state(final_epoch), self.checkpoint_dir / MODEL_NAME)
                result.model_path = str(path)
        self.cbs.on_fit_end(result)
        return result

    def _restore_best(self) -> bool:
        tracker = self.tracker
        if not self.keep_best or self.best_state is None or tracker.best_epoch == self.last_epoch:
            return False
        self.model.load_state_dict(self.best_state)
        self.cbs.on_event(BestRestored(tracker.best_epoch, self.config.monitor, tracker.best))
        return True

    def _test(self) -> dict[str, Any] | None:
        if not self.data.test:
            return None
        log_probs, labels = predict(self.model, self.batches.eval("test"), self.inputs, self.objective)
        return classification_report(log_probs, labels, self.data.classes, [p for p, _ in self.data.test])


def fit(
    config: TrainConfig,
    data: Splits,
    callbacks: Sequence[Callback] = (),
    checkpoint_dir: str | Path | None = None,
    resume_from: str | Path | None = None,
    *,
    stats: Stats | None = None,
    init_from: str | Path | None = None,
    progress_interval: float = 0.25,
) -> FitResult:
    """Train `config.arch` on `data` for `config.epochs` epochs.

    After every epoch: `on_epoch_end(metrics)`, then `last.pt` in `checkpoint_dir` (if given) and
    `on_checkpoint`. At the end, the test split is evaluated and `model.pt` written.

    resume_from: a `last.pt` to continue from, at the epoch after the one it holds; a larger
        `config.epochs` than the checkpoint's extends the run (see `optim` for the schedule).
    stats: (mean, std) per channel on the 0-1 scale, e.g. the dataset's stored statistics; computed
        from the training split when not given (and not used with ImageNet normalization).
    init_from: an earlier run's `model.pt` or `last.pt` to start from (transfer learning); its head
        is replaced when the classes differ. Ignored when resuming (the checkpoint has the weights).
    progress_interval: seconds between `on_batch_end` calls (the last batch of an epoch always
        reports); 0 reports every batch. Reading a batch's loss waits for the GPU, hence the throttle.

    Raises ConfigError (naming the field) or PretrainedWeightsMissing before any training when the
    run cannot work (see `preflight`); TrainingDiverged when the loss becomes NaN or infinite.
    """
    cbs = _Callbacks(callbacks)
    resume_state = ckpt.load(resume_from) if resume_from is not None else None
    if resume_state is not None and init_from is not None:
        cbs.on_log(f"resuming from {resume_from}: init_from {init_from} is not used (the checkpoint holds the weights)")
        init_from = None
    preflight(config, data, init_from=init_from, resuming=resume_state is not None).raise_errors()
    if resume_state is not None:
        _check_resume(resume_state, config, data)

    trainer = _Trainer(config, data, cbs, checkpoint_dir, progress_interval)
    trainer.set_up(stats, init_from, resume_state)
    if resume_state is not None:
        trainer.restore(resume_state, resume_from)
    trainer.start_schedule(resume_state)
    cbs.on_fit_start(trainer.fit_start())
    outcome, reason = trainer.run()
    return trainer.finish(outcome, reason)
