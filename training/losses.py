"""Training objectives and class weights, in registries.

An objective decides how many outputs the head has, the training loss (with label smoothing and
class weights) and the log-probabilities the evaluation reads. Validation and test losses are the
plain negative log-likelihood of the true class, whatever the objective's smoothing and weights, so
runs with different settings can be compared on one chart.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn

from training.registry import Registry

if TYPE_CHECKING:
    from training.config import TrainConfig


class Objective(nn.Module):
    def __init__(self, num_classes: int, label_smoothing: float = 0.0, weight: torch.Tensor | None = None) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.label_smoothing = label_smoothing
        self.register_buffer("weight", weight)

    @staticmethod
    def outputs(num_classes: int) -> int:
        return num_classes

    @staticmethod
    def check(num_classes: int) -> str | None:
        """A message when this objective cannot serve `num_classes` classes."""
        return None

    def forward(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def log_probs(self, logits: torch.Tensor) -> torch.Tensor:
        """(N, num_classes) log-probabilities."""
        raise NotImplementedError

    def predict(self, logits: torch.Tensor) -> torch.Tensor:
        """(N,) the most likely class: what the training accuracy counts, every batch."""
        return self.log_probs(logits).argmax(1)


LOSSES: Registry[type[Objective]] = Registry("loss")
CLASS_WEIGHTS: Registry[Callable[[Sequence[int]], torch.Tensor | None]] = Registry("class weighting")


def list_losses() -> list[str]:
    return LOSSES.names()


def list_class_weightings() -> list[str]:
    return CLASS_WEIGHTS.names()


@LOSSES.register("cross_entropy", "softmax cross-entropy over one output per class")
class CrossEntropy(Objective):
    def forward(self, logits, labels):
        return F.cross_entropy(logits.float(), labels, weight=self.weight, label_smoothing=self.label_smoothing)

    def log_probs(self, logits):
        return F.log_softmax(logits.float(), dim=1)

    def predict(self, logits):
        return logits.argmax(1)  # softmax keeps the order: no log-softmax per training batch


@LOSSES.register("bce", "binary cross-entropy on one output (two classes; the second is the positive one)")
class BinaryCrossEntropy(Objective):
    @staticmethod
    def outputs(num_classes: int) -> int:
        return 1

    @staticmethod
    def check(num_classes: int) -> str | None:
        if num_classes != 2:
            return f"binary cross-entropy needs exactly 2 classes; this dataset has {num_classes}"
        return None

    def forward(self, logits, labels):
        z = logits.float().view(-1)
        # Label smoothing as cross-entropy does it for two classes: targets eps/2 and 1 - eps/2.
        target = labels.float() * (1 - self.label_smoothing) + self.label_smoothing / 2
        losses = F.binary_cross_entropy_with_logits(z, target, reduction="none")
        if self.weight is None:
            return losses.mean()
        w = self.weight[labels]
        return (losses * w).sum() / w.sum()  # a weighted mean, as cross_entropy's `weight` gives

    def log_probs(self, logits):
        z = logits.float().view(-1, 1)
        return torch.cat([F.logsigmoid(-z), F.logsigmoid(z)], dim=1)


@CLASS_WEIGHTS.register("none", "every image counts the same")
def _no_weights(counts: Sequence[int]) -> None:
    return None


@CLASS_WEIGHTS.register("balanced", "inverse class frequency, n / (classes * count): rare classes count more")
def _balanced(counts: Sequence[int]) -> torch.Tensor:
    c = torch.tensor(counts, dtype=torch.float32).clamp_min(1)  # a class absent from training: weight n/classes
    return c.sum() / (len(c) * c)


def class_counts(labels: Sequence[int], num_classes: int) -> list[int]:
    return torch.bincount(torch.as_tensor(list(labels), dtype=torch.int64), minlength=num_classes).tolist()


def build_objective(config: TrainConfig, num_classes: int, train_labels: Sequence[int]) -> Objective:
    weight = CLASS_WEIGHTS.get(config.class_weights)(class_counts(train_labels, num_classes))
    return LOSSES.get(config.loss)(num_classes, config.label_smoothing, weight)
