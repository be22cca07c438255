"""What the library benchmarks train on: a generated image folder, the `fit` side and the plain
hand-written PyTorch loop it is compared with (same `create_model("small_cnn")`, same decoded
images, same seed and batch order, AdamW, a validation pass each epoch)."""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from training.callbacks import Callback
from training.config import TrainConfig
from training.data import Splits, channel_stats, decode, load_image_folder
from training.engine import epoch_seeds, fit
from training.models import create_model
from training.presets import resolve_config

COLORS = [(220, 40, 40), (40, 180, 60), (50, 70, 220), (230, 200, 30), (160, 40, 200), (30, 200, 200)]


def image_folder(root: Path, classes: int, per_class: int, size: int = 40, seed: int = 0) -> Path:
    """One folder per class of noisy images around the class's color, with a bar: learnable, not trivial."""
    rng = np.random.default_rng(seed)
    for c in range(classes):
        folder = root / f"class_{c}"
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            pixels = np.array(COLORS[c % len(COLORS)])[None, None, :] + rng.integers(-60, 61, (size, size, 3))
            at = int(rng.integers(0, size - 6))
            if c % 2:
                pixels[:, at : at + 6] = 255
            else:
                pixels[at : at + 6, :] = 0
            Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB").save(folder / f"{i:04d}.png")
    return root


def dataset(images: int, classes: int = 4) -> Splits:
    """A generated folder of `images` images (kept in a temporary folder for the process's lifetime)."""
    root = Path(tempfile.mkdtemp(prefix="trainyard-bench-"))
    return load_image_folder(image_folder(root, classes, max(4, images // classes)), 0.15, 0.0)


def parity_config(batch_size: int, **changes) -> TrainConfig:
    """The `quick` recipe as a plain loop can reproduce it: one epoch, no schedule, no weight decay
    (a plain AdamW over `model.parameters()` would decay biases and batch-norm weights too)."""
    values = {"epochs": 1, "scheduler": "none", "weight_decay": 0.0, "batch_size": batch_size, "device": "cpu"}
    return resolve_config(["quick"], {**values, **changes})


class EpochTimes(Callback):
    def __init__(self) -> None:
        self.seconds: list[float] = []
        self.losses: list[float] = []

    def on_epoch_end(self, metrics) -> None:
        self.seconds.append(metrics.seconds)
        self.losses.append(metrics.train_loss)


def fit_epoch(config: TrainConfig, data: Splits, callbacks: list[Callback] = ()) -> tuple[float, float]:
    """(seconds, train loss) of one `fit` epoch: training and validation, as the plain loop times it."""
    times = EpochTimes()
    fit(config, data, [times, *callbacks])
    return times.seconds[-1], times.losses[-1]


@dataclass
class Decoded:
    x: torch.Tensor
    y: torch.Tensor
    xv: torch.Tensor
    yv: torch.Tensor
    mean: torch.Tensor
    std: torch.Tensor
    classes: int


def decoded(data: Splits, image_size: int) -> Decoded:
    x, y = decode(data.train, image_size)
    xv, yv = decode(data.val, image_size)
    mean, std = channel_stats(x)
    return Decoded(
        x, y, xv, yv, torch.tensor(mean).view(1, -1, 1, 1), torch.tensor(std).view(1, -1, 1, 1), data.num_classes
    )


def plain_epoch(config: TrainConfig, d: Decoded, device: str = "cpu") -> tuple[float, float]:
    """(seconds, train loss) of the first epoch of a hand-written loop, as a PyTorch tutorial writes it."""
    torch.manual_seed(config.seed)
    model = create_model("small_cnn", d.classes, config.image_size, depth=config.depth, width=config.width)
    model.to(device)
    if device != "cpu":
        d = Decoded(*(t.to(device) if isinstance(t, torch.Tensor) else t for t in vars(d).values()))
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=0.0)
    torch_seed, data_seed = epoch_seeds(config.seed, 1)  # the same shuffle as fit's first epoch
    torch.manual_seed(torch_seed)
    order = torch.randperm(len(d.y), generator=torch.Generator().manual_seed(data_seed)).to(device)
    bs = config.batch_size
    started = time.perf_counter()
    model.train()
    total, seen = 0.0, 0
    for step in range(len(d.y) // bs):
        idx = order[step * bs : (step + 1) * bs]
        x = (d.x[idx].float() / 255 - d.mean) / d.std
        loss = F.cross_entropy(model(x), d.y[idx])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total += loss.item() * bs
        seen += bs
    model.eval()
    with torch.no_grad():
        for start in range(0, len(d.yv), bs):
            model((d.xv[start : start + bs].float() / 255 - d.mean) / d.std)
    if device != "cpu":
        torch.cuda.synchronize()
    return time.perf_counter() - started, total / max(seen, 1)
