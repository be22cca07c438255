"""A finished run's test images: its per-sample predictions are stored with paths relative to the
dataset (never server paths); the confusion gallery lists one true/predicted pair's images, largest
errors (the most confident) first, and serves each image through the experiment's access check."""

from __future__ import annotations

import io
import os
from pathlib import Path

from django.http import Http404, HttpResponse
from django.urls import reverse
from django.utils.cache import patch_cache_control
from PIL import Image

from training.data import to_rgb
from webapp.experiments.models import Experiment

GALLERY_LIMIT = 60
THUMBNAIL = 160


def relative_predictions(test: dict | None, root: str | Path) -> dict | None:
    """The test report with every prediction's path made relative to the dataset folder `root`."""
    if not test or "predictions" not in test:
        return test
    predictions = [{**p, "path": Path(os.path.relpath(p["path"], root)).as_posix()} for p in test["predictions"]]
    return {**test, "predictions": predictions}


def predictions(experiment: Experiment) -> list[dict]:
    return (experiment.test_metrics or {}).get("predictions") or []


def gallery(experiment: Experiment, label: str, predicted: str, limit: int = GALLERY_LIMIT) -> dict:
    """{count, images: [{index, name, confidence, url}]} of the test images of class `label` predicted as
    `predicted`, the most confident first (for a mistake: the largest errors first)."""
    chosen = [
        (i, p) for i, p in enumerate(predictions(experiment)) if p["label"] == label and p["predicted"] == predicted
    ]
    chosen.sort(key=lambda item: -item[1]["confidence"])
    return {
        "label": label,
        "predicted": predicted,
        "count": len(chosen),
        "images": [
            {
                "index": i,
                "name": Path(p["path"]).name,
                "confidence": p["confidence"],
                "url": reverse("experiment_test_image", args=[experiment.pk, i]),
            }
            for i, p in chosen[:limit]
        ],
    }


def image_path(experiment: Experiment, index: int) -> Path:
    """The file of test prediction `index`, inside the dataset's folder (404 otherwise)."""
    items = predictions(experiment)
    if not 0 <= index < len(items):
        raise Http404("No such test image")
    try:
        root = experiment.dataset.local_path().resolve()
    except FileNotFoundError as exc:
        raise Http404("The dataset's images are not available") from exc
    path = (root / items[index]["path"]).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        raise Http404("The test image is missing")
    return path


def image_response(experiment: Experiment, index: int) -> HttpResponse:
    """The image as a PNG thumbnail (any format the dataset holds, shown as training decoded it)."""
    with Image.open(image_path(experiment, index)) as img:
        picture = to_rgb(img)
        picture.thumbnail((THUMBNAIL, THUMBNAIL))
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    response = HttpResponse(buffer.getvalue(), content_type="image/png")
    patch_cache_control(response, private=True, max_age=3600)
    return response
