"""Predictions of a finished run's model on uploaded images: a Django form (for the page's request and
the API), and the model loaded once per process (`training.inference.Predictor`, training's own
preprocessing) and kept while its `model.pt` is unchanged."""

from __future__ import annotations

import functools
from pathlib import Path

import torch
from django import forms

from training.inference import ImageUnreadable, Predictor
from webapp.experiments.exports import model_path
from webapp.experiments.models import Experiment

MAX_FILES = 20
MAX_FILE_BYTES = 10 * 2**20
TOP = 5


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleImageField(forms.FileField):
    """One or more uploaded files (Django's documented pattern for several files in one field)."""

    widget = MultipleFileInput

    def clean(self, data, initial=None):
        files = list(data) if isinstance(data, list | tuple) else [data] if data else []
        if not files:
            raise forms.ValidationError(self.error_messages["required"], code="required")
        return [super(MultipleImageField, self).clean(f, initial) for f in files]


class PredictForm(forms.Form):
    images = MultipleImageField(
        error_messages={"required": "Choose one or more image files.", "empty": "An uploaded file is empty."}
    )

    def clean_images(self):
        files = self.cleaned_data["images"]
        if len(files) > MAX_FILES:
            raise forms.ValidationError(f"At most {MAX_FILES} images at a time; {len(files)} were sent.")
        too_big = [f.name for f in files if f.size > MAX_FILE_BYTES]
        if too_big:
            raise forms.ValidationError(f"Larger than {MAX_FILE_BYTES // 2**20} MB: {', '.join(too_big)}.")
        return files


@functools.lru_cache(maxsize=4)
def _predictor(path: str, mtime: float) -> Predictor:
    return Predictor.load(path)


def predictor_for(experiment: Experiment) -> Predictor:
    """The run's final model (ExportUnavailable when it has none), loaded once while the file is unchanged."""
    path: Path = model_path(experiment)
    return _predictor(str(path), path.stat().st_mtime)


def predict(experiment: Experiment, form: PredictForm) -> list[dict]:
    """[{file, top: [{class, probability}]}] per image, in the order sent. A file that is no image adds a
    form error naming it (and nothing is predicted)."""
    predictor = predictor_for(experiment)
    files = form.cleaned_data["images"]
    inputs, problems = [], []
    for f in files:
        try:
            inputs.append(predictor.read(f))
        except ImageUnreadable as exc:
            problems.append(f"{f.name}: {exc}")
    if problems:
        form.add_error("images", problems)
        return []
    predictions = predictor.top(torch.stack(inputs), TOP)
    return [{"file": f.name, "top": p.to_list()} for f, p in zip(files, predictions, strict=True)]
