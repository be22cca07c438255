"""The augmentation preview: the dataset's sample images, each augmented several times by a preset of
the training library, exactly as training augments them. The request is a Django form (`PreviewForm`);
the page (templates/datasets/augment.html) and the API endpoint share it."""

from __future__ import annotations

import base64
import io
from typing import Any

from django import forms
from PIL import Image

from training.augment import AUGMENTATIONS, augment_preview, list_augmentations, parse_spec
from training.data import resize_image, to_rgb
from webapp.datasets import storage
from webapp.datasets.models import Dataset

MAX_ROWS = 10
MAX_VARIANTS = 12
SIZES = (8, 512)
CUSTOM_OPS_MAX = 500


def bounded_integer(name: str, default: int, low: int, high: int) -> forms.IntegerField:
    """An optional whole number within [low, high]; the messages name the query parameter."""
    between = f"{name} must be between {low} and {high}."
    return forms.IntegerField(
        required=False,
        initial=default,
        min_value=low,
        max_value=high,
        error_messages={"invalid": f"{name} must be a whole number.", "min_value": between, "max_value": between},
    )


class PreviewForm(forms.Form):
    """?preset=…&n=…&image_size=…&seed=…&custom_ops=…&class=… (class: one class's samples, else one of each)."""

    preset = forms.ChoiceField(choices=[])
    n = bounded_integer("n", 6, 1, MAX_VARIANTS)
    image_size = bounded_integer("image_size", 64, *SIZES)
    seed = bounded_integer("seed", 0, 0, 2**31 - 1)
    custom_ops = forms.CharField(required=False, strip=True)

    def __init__(self, data, classes: list[str]) -> None:
        super().__init__(data)
        names = list_augmentations()
        self.fields["preset"].choices = [(name, name) for name in names]
        self.fields["preset"].error_messages = {
            "required": f"Choose an augmentation preset: one of {', '.join(names)}.",
            "invalid_choice": f"Unknown augmentation preset '%(value)s'; choose one of: {', '.join(names)}.",
        }
        # "class" is a Python keyword, so the field is added by name.
        self.fields["class"] = bounded_integer("class", 0, 0, max(0, len(classes) - 1))

    def clean_custom_ops(self) -> str:
        return self.cleaned_data["custom_ops"][:CUSTOM_OPS_MAX]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        preset, custom = cleaned.get("preset"), cleaned.get("custom_ops", "")
        if preset and AUGMENTATIONS.get(preset) is None:  # the custom preset: its operations are typed
            if not custom:
                self.add_error(
                    "custom_ops",
                    f"The {preset} preset takes its operations from custom_ops, e.g. hflip,rotate=15; it is empty.",
                )
            else:
                try:
                    parse_spec(custom)
                except ValueError as exc:
                    self.add_error("custom_ops", str(exc))
        for name in ("n", "image_size", "seed"):
            if cleaned.get(name) is None and name not in self.errors:
                cleaned[name] = self.fields[name].initial
        return cleaned

    def error_text(self) -> str:
        """Every error in one sentence-per-field string, for the page's error box and the API's `error`."""
        return " ".join(str(message) for messages in self.errors.values() for message in messages)


def _data_url(img: Image.Image) -> str:
    buffer = io.BytesIO()
    img.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def _picks(dataset: Dataset, class_index: int | None) -> list[tuple[str, str]]:
    """(class, stored sample name): one sample of each class, or every sample of one class."""
    names = dataset.sample_names()
    if class_index is None:
        return [(cls, names[cls][0]) for cls in dataset.classes if names.get(cls)][:MAX_ROWS]
    cls = dataset.classes[class_index]
    return [(cls, n) for n in names.get(cls, [])][:MAX_ROWS]


def preview(dataset: Dataset, wanted: dict[str, Any]) -> dict:
    """The same sample images, each augmented `n` times by the preset, as training would (a valid
    PreviewForm's cleaned data)."""
    picks = _picks(dataset, wanted.get("class"))
    images = []
    for _, name in picks:
        with storage.storage().open(name, "rb") as f, Image.open(f) as img:
            images.append(to_rgb(img))
    preset, size, custom = wanted["preset"], wanted["image_size"], wanted["custom_ops"]
    augmented = augment_preview(images, preset, wanted["n"], size, seed=wanted["seed"], custom_ops=custom)
    return {
        "preset": preset,
        "spec": AUGMENTATIONS.get(preset) or custom,
        "n": wanted["n"],
        "image_size": size,
        "seed": wanted["seed"],
        "rows": [
            {
                "class": cls,
                "original": _data_url(resize_image(img, size)),
                "augmented": [_data_url(a) for a in variants],
            }
            for (cls, _), img, variants in zip(picks, images, augmented, strict=True)
        ],
    }
