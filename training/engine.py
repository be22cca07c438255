"""`fit(config, data, callbacks)`: the training loop. It triggers callbacks and knows nothing else."""
from __future__ import annotations

import random
import time
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from training import checkpoint as ckpt
from training.callbacks import BatchProgress, Callback, EpochMetrics, FitResult, FitStart
from training.config import TrainConfig
from training.data import Splits, channel_stats, decode, normalize
from training.models import create_model
from training.optim import build_optimizer, build_scheduler

CHECKPOINT_NAME = "last.pt"


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("the config asks for CUDA but this machine has no usable GPU")
    return torch.device(name)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    torch.manual_seed(seed)


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


@torch.no_grad()
def evaluate(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, mean, std, batch_size: int,
             device: torch.device, num_classes: int) -> dict:
    model.eval()
    loss_sum, correct = 0.0, 0
    confusion = torch.zeros((num_classes, num_classes), dtype=torch.int64)
    for start in range(0, len(labels), batch_size):
        x = normalize(images[start:start + batch_size].to(device), mean, std)
        y = labels[start:start + batch_size].to(device)
        logits = model(x)
        loss_sum += nn.functional.cross_entropy(logits, y, reduction="sum").item()
        pred = logits.argmax(1)
        correct += (pred == y).sum().item()
        confusion += torch.bincount(y.cpu() * num_classes + pred.cpu(), minlength=num_classes**2).view(num_classes, num_classes)
    n = max(1, len(labels))
    return {"loss": loss_sum / n, "accuracy": correct / n, "confusion_matrix": confusion.tolist()}


def fit(config: TrainConfig, data: Splits, callbacks: Sequence[Callback] = (),
        checkpoint_dir: str | Path | None = None, resume_from: str | Path | None = None) -> FitResult:
    """Train `config.arch` on `data` for `config.epochs` epochs.

    After every epoch: `on_epoch_end(metrics)`, then a checkpoint in `checkpoint_dir` (if given).
    `resume_from` continues from such a checkpoint at the epoch after the one it holds.
    """
    cbs = _Callbacks(callbacks)
    device = resolve_device(config.device)
    seed_everything(config.seed)

    train_x, train_y = decode(data.train, config.image_size)
    val_x, val_y = decode(data.val, config.image_size)
    test_x, test_y = decode(data.test, config.image_size)
    mean, std = channel_stats(train_x)
    if device.type == "cuda":  # the whole in-memory dataset lives on the GPU: no loader stalls
        train_x, train_y = train_x.to(device), train_y.to(device)

    model = create_model(config.arch, data.num_classes, config.image_size, depth=config.depth, width=config.width,
                         batch_norm=config.batch_norm, dropout=config.dropout).to(device)
    optimizer = build_optimizer(config, model)
    steps = max(1, -(-len(train_y) // config.batch_size))
    scheduler = build_scheduler(config, optimizer, steps)
    shuffle = torch.Generator().manual_seed(config.seed)
    history: list[EpochMetrics] = []
    start_epoch = 1

    if resume_from is not None:
        state = ckpt.load(resume_from)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        if scheduler is not None and state.get("scheduler") is not None:
            scheduler.load_state_dict(state["scheduler"])
        shuffle.set_state(state["shuffle_rng"])
        torch.set_rng_state(state["torch_rng"])
        history = [EpochMetrics(**m) for m in state["history"]]
        start_epoch = state["epoch"] + 1

    cbs.on_fit_start(FitStart(config.epochs, start_epoch, data.classes, str(device), len(data.train),
                              len(data.val), len(data.test), sum(p.numel() for p in model.parameters())))
    loss_fn = nn.CrossEntropyLoss()
    status, last_epoch = "completed", start_epoch - 1
    for epoch in range(start_epoch, config.epochs + 1):
        model.train()
        started = time.perf_counter()
        order = torch.randperm(len(train_y), generator=shuffle).to(train_y.device)
        loss_sum, correct, seen = 0.0, 0, 0
        for b in range(steps):
            idx = order[b * config.batch_size:(b + 1) * config.batch_size]
            x = normalize(train_x[idx].to(device, non_blocking=True), mean, std)
            y = train_y[idx].to(device, non_blocking=True)
            logits = model(x)
            loss = loss_fn(logits, y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
            loss_sum += loss.item() * len(y)
            correct += (logits.argmax(1) == y).sum().item()
            seen += len(y)
            cbs.on_batch_end(BatchProgress(epoch, b + 1, steps, loss.item()))
            if cbs.should_stop():
                status = "cancelled"
                break
        if status == "cancelled":
            break
        seconds = time.perf_counter() - started
        val = evaluate(model, val_x, val_y, mean, std, config.batch_size, device, data.num_classes) if len(val_y) else None
        metrics = EpochMetrics(
            epoch=epoch, train_loss=loss_sum / seen, train_acc=correct / seen,
            val_loss=val["loss"] if val else None, val_acc=val["accuracy"] if val else None,
            lr=optimizer.param_groups[0]["lr"], seconds=seconds, images_per_sec=seen / max(seconds, 1e-9),
        )
        history.append(metrics)
        last_epoch = epoch
        cbs.on_epoch_end(metrics)
        if checkpoint_dir is not None:
            path = ckpt.save_atomic({
                "epoch": epoch, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict() if scheduler is not None else None,
                "shuffle_rng": shuffle.get_state(), "torch_rng": torch.get_rng_state(),
                "history": [m.to_dict() for m in history], "config": config.to_dict(), "classes": data.classes,
                "mean": mean, "std": std,
            }, Path(checkpoint_dir) / CHECKPOINT_NAME)
            cbs.on_checkpoint(str(path), epoch)

    test = None
    if status != "cancelled" and len(test_y):
        test = evaluate(model, test_x, test_y, mean, std, config.batch_size, device, data.num_classes)
    result = FitResult(status, last_epoch, history, test)
    cbs.on_fit_end(result)
    return result
