"""Evaluation results from log-probabilities: the per-epoch summary and the final test report."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F


def summary(log_probs: torch.Tensor, labels: torch.Tensor) -> dict[str, float]:
    """Loss (negative log-likelihood of the true class) and accuracy."""
    return {
        "loss": F.nll_loss(log_probs, labels).item(),
        "accuracy": (log_probs.argmax(1) == labels).float().mean().item(),
    }


def confusion_matrix(labels: torch.Tensor, predicted: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Rows: true class; columns: predicted class."""
    return torch.bincount(labels * num_classes + predicted, minlength=num_classes**2).view(num_classes, num_classes)


def per_class(confusion: torch.Tensor, classes: list[str]) -> list[dict[str, Any]]:
    """Precision, recall and F1 per class (0 where a ratio has nothing to divide, as sklearn's zero_division=0)."""
    tp = confusion.diag().double()
    predicted = confusion.sum(0).double()
    support = confusion.sum(1).double()
    precision = torch.where(predicted > 0, tp / predicted.clamp_min(1), torch.zeros_like(tp))
    recall = torch.where(support > 0, tp / support.clamp_min(1), torch.zeros_like(tp))
    denom = precision + recall
    f1 = torch.where(denom > 0, 2 * precision * recall / denom.clamp_min(1e-12), torch.zeros_like(tp))
    return [
        {
            "class": name,
            "precision": precision[i].item(),
            "recall": recall[i].item(),
            "f1": f1[i].item(),
            "support": int(support[i].item()),
        }
        for i, name in enumerate(classes)
    ]


def classification_report(
    log_probs: torch.Tensor, labels: torch.Tensor, classes: list[str], paths: list[str]
) -> dict[str, Any]:
    """Everything the results page shows; JSON-serializable.

    accuracy, loss, top5_accuracy (more than 5 classes), macro_f1, confusion_matrix (rows true,
    columns predicted, in `classes` order), per_class, and predictions: one per test image with its
    path, true and predicted class names and the predicted class's probability (for a gallery of
    mistakes and of unsure answers).
    """
    if len(labels) == 0:
        raise ValueError("no test images to report on")
    num_classes = len(classes)
    result: dict[str, Any] = {"num_samples": len(labels), "classes": list(classes), **summary(log_probs, labels)}
    confidence, predicted = log_probs.exp().max(1)
    if num_classes > 5:
        top5 = log_probs.topk(5, dim=1).indices
        result["top5_accuracy"] = (top5 == labels[:, None]).any(1).float().mean().item()
    confusion = confusion_matrix(labels, predicted, num_classes)
    result["confusion_matrix"] = confusion.tolist()
    result["per_class"] = per_class(confusion, classes)
    result["macro_f1"] = sum(c["f1"] for c in result["per_class"]) / num_classes
    result["predictions"] = [
        {"path": path, "label": classes[t], "predicted": classes[p], "confidence": round(c, 6)}
        for path, t, p, c in zip(paths, labels.tolist(), predicted.tolist(), confidence.tolist(), strict=True)
    ]
    return result
