"""The test report (per-class metrics, confusion matrix, top-5, predictions) and the objectives."""

from __future__ import annotations

import json
import math

import pytest
import torch
from sklearn.metrics import precision_recall_fscore_support

from tests.images import write_pattern_folder
from tests.training_helpers import TINY
from training import TrainConfig, fit, load_image_folder
from training.losses import BinaryCrossEntropy, CrossEntropy, build_objective
from training.metrics import classification_report


def test_the_report_matches_sklearn_per_class():
    classes = ["cat", "dog", "eel"]
    labels = torch.tensor([0, 0, 1, 1, 2, 2, 2])
    predicted = torch.tensor([0, 1, 1, 1, 2, 0, 1])
    log_probs = torch.log(torch.nn.functional.one_hot(predicted, 3).float() * 0.8 + 0.2 / 3)
    report = classification_report(log_probs, labels, classes, [f"img{i}.png" for i in range(7)])

    p, r, f, s = precision_recall_fscore_support(labels, predicted, zero_division=0)
    assert [c["class"] for c in report["per_class"]] == classes
    assert [c["precision"] for c in report["per_class"]] == pytest.approx(p.tolist())
    assert [c["recall"] for c in report["per_class"]] == pytest.approx(r.tolist())
    assert [c["f1"] for c in report["per_class"]] == pytest.approx(f.tolist())
    assert [c["support"] for c in report["per_class"]] == s.tolist()
    assert report["confusion_matrix"] == [[1, 1, 0], [0, 2, 0], [1, 1, 1]]
    assert report["accuracy"] == pytest.approx(4 / 7)
    assert report["macro_f1"] == pytest.approx(f.mean())
    assert "top5_accuracy" not in report  # 3 classes: top-5 says nothing
    assert report["predictions"][1] == {
        "path": "img1.png",
        "label": "cat",
        "predicted": "dog",
        "confidence": pytest.approx(0.8 + 0.2 / 3, abs=1e-6),
    }
    json.dumps(report, allow_nan=False)  # stored as JSON by the web side


def test_top5_accuracy_is_reported_for_more_than_five_classes():
    classes = [str(i) for i in range(7)]
    logits = torch.arange(7.0).repeat(3, 1)  # always ranks 6, 5, 4, 3, 2 first
    report = classification_report(torch.log_softmax(logits, 1), torch.tensor([6, 2, 0]), classes, ["a", "b", "c"])
    assert report["accuracy"] == pytest.approx(1 / 3)
    assert report["top5_accuracy"] == pytest.approx(2 / 3)


def test_a_run_reports_every_test_image(tmp_path):
    data = load_image_folder(write_pattern_folder(tmp_path, classes=3, per_class=8))
    result = fit(TrainConfig.from_dict(TINY), data)
    test = result.test
    assert [p["path"] for p in test["predictions"]] == [p for p, _ in data.test]
    assert all(0 < p["confidence"] <= 1 and p["predicted"] in data.classes for p in test["predictions"])
    assert sum(map(sum, test["confusion_matrix"])) == len(data.test) == test["num_samples"]
    json.dumps(result.to_dict(), allow_nan=False)


def test_binary_cross_entropy_uses_one_output_and_matches_two_class_cross_entropy():
    z = torch.tensor([[2.0], [-1.0], [0.5]])
    y = torch.tensor([1, 0, 0])
    bce = BinaryCrossEntropy(2)
    assert BinaryCrossEntropy.outputs(2) == 1
    assert bce.log_probs(z).exp().sum(1) == pytest.approx([1, 1, 1])
    # One logit z is two logits (0, z) under softmax: the same loss.
    two = torch.cat([torch.zeros_like(z), z], 1)
    assert bce(z, y).item() == pytest.approx(CrossEntropy(2)(two, y).item())
    smoothed = BinaryCrossEntropy(2, label_smoothing=0.2)
    assert smoothed(z, y).item() == pytest.approx(CrossEntropy(2, label_smoothing=0.2)(two, y).item())
    assert BinaryCrossEntropy.check(3) is not None and BinaryCrossEntropy.check(2) is None


def test_balanced_class_weights_favour_the_rare_class():
    config = TrainConfig.from_dict({"class_weights": "balanced"})
    objective = build_objective(config, 3, [0] * 6 + [1] * 3 + [2])
    assert objective.weight.tolist() == pytest.approx([10 / 18, 10 / 9, 10 / 3])
    logits = torch.zeros(2, 3)
    assert math.isclose(objective(logits, torch.tensor([0, 2])).item(), math.log(3), rel_tol=1e-6)
    weighted_bce = BinaryCrossEntropy(2, weight=torch.tensor([1.0, 3.0]))
    z, y = torch.tensor([[0.0], [2.0]]), torch.tensor([0, 1])
    per = torch.nn.functional.binary_cross_entropy_with_logits(z.view(-1), y.float(), reduction="none")
    assert weighted_bce(z, y).item() == pytest.approx(((per * torch.tensor([1.0, 3.0])).sum() / 4).item())
