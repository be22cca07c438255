"""The library's benchmarks (`python -m training bench`): loop parity, fixed cost per step,
streaming cost, data path, GPU."""

from __future__ import annotations

import json
import queue
import socket
import threading
import time

import torch

from training.augment import build_augmenter
from training.bench.core import BENCHMARKS, Figure, Result, alternate, compare
from training.bench.workload import dataset, decoded, fit_epoch, parity_config, plain_epoch
from training.callbacks import Throttled
from training.engine import _Inputs
from training.loaders import build_batches, choose_data_path
from training.models import create_model


def _parity(name: str, batch_size: int, images: int, rounds: int, target: float) -> Result:
    data = dataset(images)
    config = parity_config(batch_size)
    d = decoded(data, config.image_size)
    fit_losses, plain_losses = [], []

    def a() -> float:
        seconds, loss = plain_epoch(config, d)
        plain_losses.append(loss)
        return seconds

    def b() -> float:
        seconds, loss = fit_epoch(config, data)
        fit_losses.append(loss)
        return seconds

    plain, fitted = alternate(a, b, rounds)
    same = round(fit_losses[0], 4) == round(plain_losses[0], 4)
    verdict = "equal" if same else "DIFFERENT"
    result = compare(
        name,
        Figure(f"plain loop epoch, batch {batch_size}", "s", plain),
        Figure(f"fit epoch, batch {batch_size}", "s", fitted),
        target,
        [f"loss after one epoch: fit {fit_losses[0]:.6f}, plain {plain_losses[0]:.6f} ({verdict} to 4 decimals)"],
    )
    result.extra = {
        "fit_loss": fit_losses[0],
        "plain_loss": plain_losses[0],
        "losses_equal": same,
        "images": len(data.train),
    }
    return result


@BENCHMARKS.register("loop_parity", "fit against a plain loop, batch 64 (target 1.03)")
def loop_parity(quick: bool) -> Result:
    return _parity("loop_parity", 64, 160 if quick else 1280, 2 if quick else 4, 1.03)


@BENCHMARKS.register("fixed_cost", "fit against a plain loop, batch 8: per-step overhead (target 1.10)")
def fixed_cost(quick: bool) -> Result:
    return _parity("fixed_cost", 8, 80 if quick else 400, 2 if quick else 4, 1.10)


class StreamingSender(Throttled):
    """Sends like the web's recorder: throttled batch progress and every epoch, as JSON, to a socket,
    from a sender thread: the training thread only serializes and enqueues (it never waits on I/O)."""

    def __init__(self, per_second: float = 1.0) -> None:  # the web's live.PROGRESS_PER_SECOND
        super().__init__(per_second)
        self.out, self.sink = socket.socketpair()
        self.queue: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self.hook_seconds: list[float] = []
        self.sent = 0
        threading.Thread(target=self._send, daemon=True).start()
        threading.Thread(target=self._drain, daemon=True).start()

    def _send(self) -> None:
        while (frame := self.queue.get()) is not None:
            self.out.sendall(frame)
            self.sent += 1
        self.out.close()

    def _drain(self) -> None:
        while self.sink.recv(65536):
            pass

    def _put(self, message: dict) -> None:
        started = time.perf_counter()
        self.queue.put(json.dumps(message).encode() + b"\n")
        self.hook_seconds.append(time.perf_counter() - started)

    def on_batch_end(self, progress) -> None:
        if self.due(progress):
            self._put({"type": "progress", "epoch": progress.epoch, "batch": progress.batch, "loss": progress.loss})

    def on_epoch_end(self, metrics) -> None:
        self._put({"type": "epoch", "metrics": metrics.to_dict()})

    def close(self) -> None:
        self.queue.put(None)


@BENCHMARKS.register("streaming", "fit with live messages on against off (target 1.01)")
def streaming(quick: bool) -> Result:
    data = dataset(160 if quick else 2400)
    config = parity_config(64)
    sender = StreamingSender()
    off, on = alternate(
        lambda: fit_epoch(config, data)[0], lambda: fit_epoch(config, data, [sender])[0], 2 if quick else 5
    )
    sender.close()
    worst = max(sender.hook_seconds, default=0.0)
    result = compare(
        "streaming", Figure("epoch, streaming off", "s", off), Figure("epoch, streaming on", "s", on), 1.01
    )
    result.figures.append(Figure("time in a send hook", "ms", [s * 1000 for s in sender.hook_seconds]))
    result.notes.append(f"{sender.sent} messages sent; the longest send hook took {worst * 1000:.2f} ms (enqueue only)")
    return result


def _data_wait(config, data, path: str, epochs: int, prefetch: bool = True) -> tuple[list[float], list[float]]:
    """Per epoch: images per second and the share of step time spent waiting for the next batch."""
    device = torch.device("cpu")
    batches = build_batches(config, data, device, path)
    batches.prefetch = prefetch
    stats = ([0.5] * 3, [0.25] * 3)  # the statistics do not change the cost
    batches.set_augmenter(build_augmenter(config.augmentation, config.image_size, config.augment_ops, fill=[128] * 3))
    inputs = _Inputs(stats, device, "fp32", False)
    torch.manual_seed(0)
    model = create_model("small_cnn", data.num_classes, config.image_size)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr)
    rates, shares = [], []
    for epoch in range(epochs):
        waited, images = 0.0, 0
        started = last = time.perf_counter()
        for x, y in batches.train(epoch):
            now = time.perf_counter()
            waited += now - last
            loss = torch.nn.functional.cross_entropy(model(inputs(x)), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            images += len(y)
            last = time.perf_counter()
        total = time.perf_counter() - started
        rates.append(images / total)
        shares.append(100 * waited / total)
    return rates, shares


@BENCHMARKS.register("data_path", "memory against DataLoader path, with and without augmentation")
def data_path(quick: bool) -> Result:
    data = dataset(160 if quick else 800)
    epochs = 2 if quick else 3
    result = Result("data_path")
    fastest = {}
    for augmentation in ("none", "standard"):
        config = parity_config(64, augmentation=augmentation, num_workers=1)
        speeds = {}
        for path in ("memory", "stream"):
            rates, shares = _data_wait(config, data, path, epochs + 1)
            result.figures.append(Figure(f"{path}, augmentation {augmentation}", "img/s", rates[1:]))
            result.figures.append(Figure(f"{path}, augmentation {augmentation}: data wait", "%", shares[1:]))
            speeds[path] = sorted(rates[1:])[len(rates[1:]) // 2]
        fastest[augmentation] = max(speeds, key=speeds.get)
        if augmentation == "standard":  # what the prefetching thread gains (and that it does not oversubscribe)
            rates, shares = _data_wait(config, data, "memory", epochs + 1, prefetch=False)
            result.figures.append(Figure("memory, standard, no prefetch", "img/s", rates[1:]))
            result.figures.append(Figure("memory, standard, no prefetch: data wait", "%", shares[1:]))
        auto = choose_data_path(config.replace(data_loading="auto"), data)
        verdict = "the faster" if auto == fastest[augmentation] else "NOT the faster"
        result.notes.append(f"augmentation {augmentation}: data_loading=auto picks {auto}, {verdict}")
    wait = next(f for f in result.figures if f.name == "memory, augmentation standard: data wait")
    result.ratio, result.target = wait.median / 100, 0.05
    result.notes.append("ratio: the memory path's data-wait share with the standard augmentation (target 5%)")
    return result


@BENCHMARKS.register("gpu", "AMP, channels_last and the GPU-resident data path against the plain loop")
def gpu(quick: bool) -> Result:
    if not torch.cuda.is_available():
        return Result("gpu", skipped="no CUDA device on this machine")
    from training.bench.gpu import gpu_suite

    return gpu_suite(quick)
