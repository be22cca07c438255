"""Using a finished run's model: load `model.pt`, preprocess images exactly as training did, predict.

`model.pt` (written by `fit`) holds the weights, the config, the classes in output order and the
normalization statistics. `Predictor` rebuilds the model from them; its preprocessing is training's
own: `to_rgb`, the config's resize mode to `image_size`, then `(x / 255 - mean) / std`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import torch
from PIL import Image, UnidentifiedImageError
from torch import nn

from training import checkpoint as ckpt
from training.config import TrainConfig
from training.data import normalize, pil_to_tensor, resize_image, to_rgb
from training.losses import LOSSES
from training.models import create_trained_layout

MAX_IMAGE_PIXELS = 50_000_000  # larger files are refused rather than decoded (a decompression bomb)


class ImageUnreadable(ValueError):
    """A file that is not an image this library can decode."""


class Probabilities(nn.Module):
    """The model followed by its objective's probabilities: what exports and predictions compute.
    Input: normalized float images (N, 3, S, S); output: (N, classes) probabilities in class order."""

    def __init__(self, model: nn.Module, loss: str, num_classes: int) -> None:
        super().__init__()
        self.model = model
        self.objective = LOSSES.get(loss)(num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.objective.log_probs(self.model(x)).exp()


@dataclass
class Prediction:
    classes: list[str]  # the top classes, most probable first
    probabilities: list[float]

    def to_list(self) -> list[dict[str, Any]]:
        return [{"class": c, "probability": p} for c, p in zip(self.classes, self.probabilities, strict=True)]


class Predictor:
    """A finished run's model on the CPU, with its preprocessing."""

    def __init__(self, state: dict[str, Any]) -> None:
        self.config = TrainConfig.from_dict(state["config"])
        self.classes: list[str] = list(state["classes"])
        self.mean: list[float] = list(state["mean"])
        self.std: list[float] = list(state["std"])
        self.epoch = int(state.get("epoch", 0))
        model = create_trained_layout(
            self.config.arch,
            LOSSES.get(self.config.loss).outputs(len(self.classes)),
            self.config.image_size,
            pretrained=self.config.pretrained,
            depth=self.config.depth,
            width=self.config.width,
            batch_norm=self.config.batch_norm,
            dropout=self.config.dropout,
        )
        model.load_state_dict(state["model"])
        self.model = Probabilities(model, self.config.loss, len(self.classes)).eval()

    @classmethod
    def load(cls, path: str | Path) -> Predictor:
        return cls(ckpt.load(path))

    @property
    def input_size(self) -> int:
        return self.config.image_size

    def preprocess(self, image: Image.Image) -> torch.Tensor:
        """One image as the model's input (3, S, S): training's decoding, resize and normalization."""
        x = pil_to_tensor(resize_image(to_rgb(image), self.input_size, self.config.resize))
        return normalize(x.unsqueeze(0), self.mean, self.std)[0]

    def read(self, file: str | Path | IO[bytes]) -> torch.Tensor:
        """A file (path or binary file object) preprocessed; ImageUnreadable when it is no image."""
        try:
            with Image.open(file) as img:
                if img.width * img.height > MAX_IMAGE_PIXELS:
                    raise ImageUnreadable(f"the image is too large ({img.width}x{img.height} pixels)")
                img.load()
                return self.preprocess(img)
        except (UnidentifiedImageError, OSError, Image.DecompressionBombError, SyntaxError) as exc:
            raise ImageUnreadable(f"not a readable image ({type(exc).__name__}: {exc})") from exc

    @torch.no_grad()
    def probabilities(self, inputs: torch.Tensor) -> torch.Tensor:
        """(N, classes) probabilities of preprocessed inputs (N, 3, S, S)."""
        return self.model(inputs)

    def top(self, inputs: torch.Tensor, k: int = 5) -> list[Prediction]:
        probs = self.probabilities(inputs)
        values, indices = probs.topk(min(k, probs.shape[1]), dim=1)
        return [
            Prediction([self.classes[i] for i in row], [round(float(v), 6) for v in vals])
            for vals, row in zip(values.tolist(), indices.tolist(), strict=True)
        ]

    def predict_files(self, files: list[str | Path | IO[bytes]], k: int = 5) -> list[Prediction]:
        return self.top(torch.stack([self.read(f) for f in files]), k)
