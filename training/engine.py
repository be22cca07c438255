"""`fit(config, data, callbacks)`: the training loop. It triggers callbacks and knows nothing else.

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
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from training import checkpoint as ckpt
from training.augment import build_augmenter
from training.callbacks import BatchProgress, Callback, EpochMetrics, FitResult, FitStart, Outcome
from training.config import RESUME_MAY_CHANGE, ConfigError, TrainConfig
from training.data import IMAGENET_STATS, Splits, Stats, channel_stats, compute_stats
from training.early_stopping import EarlyStopping
from training.loaders import Batches, InMemoryBatches, build_batches, choose_data_path
from training.losses import LOSSES, Objective, build_objective
from training.metrics import classification_report, summary
from training.models import backbone_stages, create_model, pretrained_weights_available, weights_name
from training.optim import build_optimizer, build_schedule
from training.pretrained import PretrainedWeightsMissing
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


# --- checks before anything runs --------------------------------------------------------------------
def preflight(
    config: TrainConfig, data: Splits | None = None, *, init_from: str | Path | None = None, resuming: bool = False
) -> dict[str, str]:
    """Problems that would stop this run on this machine with this data, by config field.

    Beyond `TrainConfig.check()`: the pretrained weights file in the local torch cache, the loss for
    the dataset's class count, a validation split for early stopping, a starting point for the
    transfer modes. The web form may call it to reject a config early; `fit` calls it first.
    """
    errors: dict[str, str] = {}
    if config.pretrained and not resuming:  # a resumed run's weights are in its checkpoint
        ok, message = pretrained_weights_available(config.arch, config.batch_norm)
        if not ok:
            errors["pretrained"] = message
    if config.transfer_mode != "full" and not config.pretrained and init_from is None and not resuming:
        errors["transfer_mode"] = (
            f"{config.transfer_mode} needs a trained backbone: turn on pretrained weights or start from an earlier run"
        )
    if data is not None:
        problem = LOSSES.get(config.loss).check(data.num_classes)
        if problem:
            errors["loss"] = problem
        if config.early_stopping and not data.val:
            errors["early_stopping"] = "early stopping needs a validation split; this dataset has none"
        if data.num_classes < 2:
            errors["__all__"] = "a classifier needs at least 2 classes"
    return errors


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


# --- the loop ---------------------------------------------------------------------------------------
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
    run cannot work; TrainingDiverged when the loss becomes NaN or infinite.
    """
    cbs = _Callbacks(callbacks)
    resume_state = ckpt.load(resume_from) if resume_from is not None else None
    if resume_state is not None and init_from is not None:
        cbs.on_log(f"resuming from {resume_from}: init_from {init_from} is not used (the checkpoint holds the weights)")
        init_from = None
    errors = preflight(config, data, init_from=init_from, resuming=resume_state is not None)
    if "pretrained" in errors:
        raise PretrainedWeightsMissing(errors["pretrained"])
    if errors:
        raise ConfigError(errors)
    if resume_state is not None:
        _check_resume(resume_state, config, data)

    device = resolve_device(config.device)
    precision = resolve_precision(config.precision, device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed input sizes: let cuDNN pick the fastest kernels
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    elif config.precision in ("bf16", "fp16"):
        cbs.on_log(f"precision {config.precision} applies on CUDA only; this CPU run uses fp32")

    # Model first: a missing pretrained file or an unfit checkpoint fails before data is decoded.
    seed_everything(config.seed)
    objective_cls = LOSSES.get(config.loss)
    model = create_model(
        config.arch,
        objective_cls.outputs(data.num_classes),
        config.image_size,
        pretrained=config.pretrained and resume_state is None,
        depth=config.depth,
        width=config.width,
        batch_norm=config.batch_norm,
        dropout=config.dropout,
    )
    if config.pretrained and resume_state is None:
        cbs.on_log(f"loaded pretrained weights {weights_name(config.arch, config.batch_norm)}")
    init_stats = None
    if init_from is not None:
        try:
            started = load_init_from(model, init_from, config, data.classes)
        except IncompatibleCheckpoint as exc:
            raise ConfigError({exc.field: str(exc)}) from exc
        init_stats = started.stats
        cbs.on_log(started.message)

    path = choose_data_path(config, data, device)
    started_at = time.perf_counter()
    batches = build_batches(config, data, device, path)
    if resume_state is not None:
        mean_std: Stats = (list(resume_state["mean"]), list(resume_state["std"]))
        stats_source = "the checkpoint's statistics"
    else:
        mean_std, stats_source = _choose_stats(config, stats, init_stats, batches, data)
    # Erased pixels take the mean color, which normalization turns into 0.
    augmenter = build_augmenter(
        config.augmentation, config.image_size, config.augment_ops, fill=[round(255 * m) for m in mean_std[0]]
    )
    batches.set_augmenter(augmenter)
    spec = f" ({augmenter.spec})" if augmenter.spec and augmenter.spec != config.augmentation else ""
    cbs.on_log(
        f"data: {path} path, {config.image_size}px, augmentation {config.augmentation}{spec}, "
        f"normalized with {stats_source}; ready in {time.perf_counter() - started_at:.1f}s"
    )

    model.to(device)
    inputs = _Inputs(mean_std, device, precision, config.channels_last)
    if inputs.memory_format == torch.channels_last:
        model.to(memory_format=torch.channels_last)
    objective = build_objective(config, data.num_classes, [label for _, label in data.train]).to(device)

    stages = backbone_stages(model)
    start_epoch = resume_state["epoch"] + 1 if resume_state is not None else 1
    first_plan = plan(config, min(start_epoch, config.epochs), len(stages))
    apply_freezing(model, first_plan.trainable_stages)
    optimizer = build_optimizer(config, model, head_parameters(model), first_plan.backbone_lr_factor)
    scaler = torch.amp.GradScaler("cuda", enabled=precision == "fp16")
    steps = batches.train_steps()

    mode = EarlyStopping.resolve_mode(config.monitor, config.monitor_mode)
    tracker = EarlyStopping(config.monitor, mode, config.patience, config.min_delta)
    keep_best = config.early_stopping and config.restore_best_weights
    best_state: dict[str, torch.Tensor] | None = None
    history: list[EpochMetrics] = []

    if resume_state is not None:
        model.load_state_dict(resume_state["model"])
        optimizer.load_state_dict(resume_state["optimizer"])
        if resume_state.get("scaler") and scaler.is_enabled():
            scaler.load_state_dict(resume_state["scaler"])
        tracker.load_state_dict(resume_state["early_stopping"])
        best_state = resume_state.get("best_model")
        history = [EpochMetrics(**m) for m in resume_state["history"]]
        if config.epochs > resume_state["epoch"] and tracker.triggered:
            # The earlier run stopped early; asking for more epochs overrides that once: patience restarts.
            tracker.wait = 0
        what = "extending" if config.epochs > resume_state["config"].get("epochs", config.epochs) else "resuming"
        cbs.on_log(f"{what} from {resume_from} after epoch {resume_state['epoch']} (to epoch {config.epochs})")
    schedule = build_schedule(config, optimizer, steps, start_step=(start_epoch - 1) * steps)
    if resume_state is not None:
        schedule.load_state_dict(resume_state.get("schedule"))

    cbs.on_fit_start(
        FitStart(
            config.epochs,
            start_epoch,
            data.classes,
            str(device),
            len(data.train),
            len(data.val),
            len(data.test),
            sum(p.numel() for p in model.parameters()),
            count_trainable(model),
            path,
            precision,
            list(mean_std[0]),
            list(mean_std[1]),
        )
    )

    status, stop_reason, last_epoch = Outcome.COMPLETED, "", start_epoch - 1
    trainable_stages = first_plan.trainable_stages
    for epoch in range(start_epoch, config.epochs + 1):
        epoch_plan = plan(config, epoch, len(stages))
        if epoch_plan.trainable_stages != trainable_stages:
            apply_freezing(model, epoch_plan.trainable_stages)
            trainable_stages = epoch_plan.trainable_stages
            cbs.on_log(
                f"epoch {epoch}: {trainable_stages} of {len(stages)} backbone stages trainable "
                f"({count_trainable(model):,} parameters)"
            )
        torch_seed, data_seed = epoch_seeds(config.seed, epoch)
        torch.manual_seed(torch_seed)
        model.train()
        freeze_batchnorm_statistics(model)
        l1_params = [p for p in model.parameters() if p.requires_grad and p.ndim > 1] if config.l1 else []
        epoch_started = time.perf_counter()
        last_report = 0.0
        # Sums stay on the device: reading them every batch would wait for the GPU every batch.
        loss_sum = torch.zeros((), device=device)
        correct = torch.zeros((), device=device, dtype=torch.int64)
        seen, lr_used = 0, _current_lr(optimizer)
        for step, (x, y) in enumerate(batches.train(data_seed), 1):
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
            correct += (objective.log_probs(logits.detach()).argmax(1) == y).sum()
            seen += len(y)
            now = time.perf_counter()
            if step == steps or now - last_report >= progress_interval:
                last_report = now
                cbs.on_batch_end(BatchProgress(epoch, step, steps, loss.item()))
            if cbs.should_stop():
                status = Outcome.CANCELLED
                break
        if status == Outcome.CANCELLED:
            stop_reason = f"cancelled during epoch {epoch}; the checkpoint of epoch {last_epoch} is kept"
            break
        train_seconds = time.perf_counter() - epoch_started
        train_loss = (loss_sum / max(seen, 1)).item()
        if not math.isfinite(train_loss):
            raise TrainingDiverged(
                f"the training loss became {train_loss} in epoch {epoch}: lower the learning "
                f"rate (now {config.lr:g}), add warmup or gradient clipping"
            )

        val = summary(*predict(model, batches.eval("val"), inputs, objective)) if data.val else None
        metrics = EpochMetrics(
            epoch=epoch,
            train_loss=train_loss,
            train_acc=correct.item() / max(seen, 1),
            val_loss=val["loss"] if val else None,
            val_acc=val["accuracy"] if val else None,
            lr=lr_used,
            seconds=time.perf_counter() - epoch_started,
            images_per_sec=seen / max(train_seconds, 1e-9),
        )
        history.append(metrics)
        last_epoch = epoch
        if val is not None and tracker.update(epoch, getattr(metrics, config.monitor)) and keep_best:
            best_state = _cpu_copy(model)
        lr_before = _current_lr(optimizer)
        schedule.step_epoch(epoch, metrics.val_loss if val is not None else metrics.train_loss)
        if _current_lr(optimizer) < lr_before:
            cbs.on_log(f"epoch {epoch}: learning rate reduced to {_current_lr(optimizer):.2e} (plateau)")
        cbs.on_epoch_end(metrics)

        if checkpoint_dir is not None:
            saved = ckpt.save_atomic(
                {
                    "format": CHECKPOINT_FORMAT,
                    "epoch": epoch,
                    "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "schedule": schedule.state_dict(),
                    "scaler": scaler.state_dict() if scaler.is_enabled() else None,
                    "early_stopping": tracker.state_dict(),
                    "best_model": best_state if keep_best else None,
                    "history": [m.to_dict() for m in history],
                    "config": config.to_dict(),
                    "classes": data.classes,
                    "mean": list(mean_std[0]),
                    "std": list(mean_std[1]),
                },
                Path(checkpoint_dir) / CHECKPOINT_NAME,
            )
            cbs.on_checkpoint(str(saved), epoch)

        if config.early_stopping and tracker.triggered and epoch < config.epochs:
            status, stop_reason = Outcome.STOPPED_EARLY, tracker.reason(epoch)
            cbs.on_log(stop_reason)
            cbs.on_early_stop(epoch, stop_reason)
            break
        if epoch < config.epochs and (reason := cbs.prune_reason(metrics)):
            status, stop_reason = Outcome.PRUNED, reason
            cbs.on_log(f"pruned after epoch {epoch}: {reason}")
            break

    result = FitResult(
        status,
        last_epoch,
        history,
        stop_reason=stop_reason,
        monitor=config.monitor,
        best_epoch=tracker.best_epoch or None,
        best_value=tracker.best,
        model=model,
    )
    if status not in (Outcome.CANCELLED, Outcome.PRUNED):
        if keep_best and best_state is not None and tracker.best_epoch != last_epoch:
            model.load_state_dict(best_state)
            result.restored_best = True
            cbs.on_log(f"restored the weights of epoch {tracker.best_epoch} ({config.monitor} {tracker.best:.4f})")
        if data.test:
            log_probs, labels = predict(model, batches.eval("test"), inputs, objective)
            result.test = classification_report(log_probs, labels, data.classes, [p for p, _ in data.test])
        if checkpoint_dir is not None:
            result.model_path = str(
                ckpt.save_atomic(
                    {
                        "format": CHECKPOINT_FORMAT,
                        "model": model.state_dict(),
                        "config": config.to_dict(),
                        "classes": data.classes,
                        "mean": list(mean_std[0]),
                        "std": list(mean_std[1]),
                        "epoch": tracker.best_epoch if result.restored_best else last_epoch,
                    },
                    Path(checkpoint_dir) / MODEL_NAME,
                )
            )
    cbs.on_fit_end(result)
    return result
