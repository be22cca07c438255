"""What the pages and endpoints show of a dataset: chart data, sample images, augmentation previews.

Pages read only stored things (the row and the sample images in storage), never the full dataset,
so the web server needs no copy of the images.
"""

from __future__ import annotations

import base64
import io
from collections import Counter
from dataclasses import dataclass
from urllib.parse import urlencode

from django.http import FileResponse, Http404
from django.urls import reverse
from django.utils.cache import patch_cache_control
from PIL import Image

from training.augment import AUGMENTATIONS, augment_preview, describe_ops, list_augmentations
from training.config import TrainConfig
from training.data import resize_image, to_rgb
from webapp.datasets import content
from webapp.datasets.models import Dataset

PREVIEW_MAX_ROWS = 10
PREVIEW_MAX_VARIANTS = 12
PREVIEW_SIZES = (8, 512)


def health_flags(dataset: Dataset) -> list[dict]:
    """The report's problems, then its warnings: what a list shows of a dataset's health."""
    checks = dataset.report.get("checks", [])
    return [c for level in ("problem", "warning") for c in checks if c["level"] == level]


def latest_with_versions(datasets: list[Dataset]) -> list[tuple[Dataset, int, list[dict]]]:
    """The newest version of each (team, name), with how many versions there are and its health flags
    (input newest first)."""
    counts = Counter((d.team_id, d.name) for d in datasets)
    seen, rows = set(), []
    for d in datasets:
        if (d.team_id, d.name) not in seen:
            seen.add((d.team_id, d.name))
            rows.append((d, counts[(d.team_id, d.name)], health_flags(d)))
    return rows


def sample_urls(dataset: Dataset, url_name: str = "dataset_sample") -> list[tuple[str, int, list[str]]]:
    """(class, images, [sample image URLs]) per class, for the grid."""
    names = dataset.sample_names()
    return [
        (
            cls,
            dataset.class_counts.get(cls, 0),
            [reverse(url_name, args=[dataset.pk, ci, i]) for i in range(len(names.get(cls, [])))],
        )
        for ci, cls in enumerate(dataset.classes)
    ]


def chart_data(dataset: Dataset) -> dict:
    sizes = dataset.report.get("sizes", {})
    return {
        "id": dataset.pk,
        "status": dataset.status,
        "upload_again_url": f"{reverse('dataset_upload')}?{urlencode({'team': dataset.team_id, 'name': dataset.name})}",
        "status_url": reverse("api_dataset_status", args=[dataset.pk]),
        "classes": dataset.classes,
        "splits": {
            s: [dataset.split_counts.get(s, {}).get(c, 0) for c in dataset.classes] for s in ("train", "val", "test")
        },
        "sizes": sizes.get("counts", []),
    }


def split_sentence(dataset: Dataset) -> str:
    """Where the split comes from, in words."""
    val, test = f"{dataset.val_fraction:.0%}", f"{dataset.test_fraction:.0%}"
    if not dataset.fixed_split:
        return (
            f"Drawn per class (stratified) from seed {dataset.split_seed}: {val} of each class for validation, "
            f"{test} for test."
        )
    origin = dataset.report.get("split_origin", {})
    names = {"train": "train/", "val": "val/", "test": "test/"}
    folders = [names[p] for p in ("train", "val", "test") if origin.get(p) == "folder"]
    text = "Fixed by the archive's " + " and ".join(filter(None, [", ".join(folders[:-1]), folders[-1]])) + " folders."
    drawn = [p for p in ("val", "test") if origin.get(p) == "drawn"]
    if drawn:
        parts = " and ".join({"val": f"validation ({val})", "test": f"test ({test})"}[p] for p in drawn)
        text += f" {parts[:1].upper()}{parts[1:]} drawn per class from train with seed {dataset.split_seed}."
    if origin.get("test") == "none":
        text += " There is no test split: the archive has no test/ folder."
    return text


def detail_context(dataset: Dataset) -> dict:
    report = dataset.report
    split_totals = {s: sum(dataset.split_counts.get(s, {}).values()) for s in ("train", "val", "test")}
    return {
        "dataset": dataset,
        "versions": dataset.versions(),
        "used_by": dataset.experiments.count() if dataset.pk else 0,
        "samples": sample_urls(dataset),
        "chart_data": chart_data(dataset),
        "checks": report.get("checks", []),
        "sizes": report.get("sizes", {}),
        "modes": report.get("modes", {}),
        "formats": report.get("formats", {}),
        "split_origin": report.get("split_origin", {}),
        "split_sentence": split_sentence(dataset) if dataset.processed_at else "",
        "split_totals": split_totals,
        "split_rows": [
            (
                c,
                dataset.class_counts.get(c, 0),
                [dataset.split_counts.get(s, {}).get(c, 0) for s in ("train", "val", "test")],
            )
            for c in dataset.classes
        ],
        "duplicates": report.get("duplicates", {}),
        "leakage": report.get("leakage", {}),
        "channels": list(zip(("R", "G", "B"), dataset.mean, dataset.std, strict=False)),
    }


def sample_name(dataset: Dataset, class_index: int, number: int) -> str:
    try:
        return dataset.sample_names()[dataset.classes[class_index]][number]
    except (IndexError, KeyError):
        raise Http404("No such sample image") from None


def sample_response(dataset: Dataset, class_index: int, number: int) -> FileResponse:
    name = sample_name(dataset, class_index, number)
    try:
        response = FileResponse(content.storage().open(name, "rb"), content_type="image/png")
    except FileNotFoundError:
        raise Http404("The sample image is missing from storage") from None
    patch_cache_control(response, private=True, max_age=3600)  # content-addressed: it never changes
    return response


def augment_context(dataset: Dataset) -> dict:
    presets = [{"name": e.name, "description": e.description, "spec": e.obj or ""} for e in AUGMENTATIONS.entries()]
    return {
        "dataset": dataset,
        "presets": presets,
        "ops": describe_ops(),
        # What an experiment trains at unless told otherwise: the preview shows what training would see.
        "default_size": TrainConfig().image_size,
        "preview_data": {
            "url": reverse("api_dataset_augment_preview", args=[dataset.pk]),
            "classes": dataset.classes,
            "ready": dataset.is_ready,
        },
    }


class PreviewError(ValueError):
    """A preview request that cannot be served; the message says why."""


@dataclass(frozen=True)
class PreviewRequest:
    preset: str
    variants: int = 6
    image_size: int = 64
    seed: int = 0
    custom_ops: str = ""
    class_index: int | None = None  # None: one sample of each class; else every sample of that class

    @classmethod
    def from_query(cls, query, classes: list[str]) -> PreviewRequest:
        preset = query.get("preset", "")
        if preset not in list_augmentations():
            raise PreviewError(
                f"Unknown augmentation preset {preset!r}; choose one of: {', '.join(list_augmentations())}."
            )

        def number(name: str, default: int, low: int, high: int) -> int:
            raw = query.get(name, "")
            if raw == "":
                return default
            try:
                value = int(raw)
            except ValueError:
                raise PreviewError(f"{name} must be a whole number, not {raw!r}.") from None
            if not low <= value <= high:
                raise PreviewError(f"{name} must be between {low} and {high}.")
            return value

        custom_ops = query.get("custom_ops", "").strip()[:500]
        if AUGMENTATIONS.get(preset) is None and not custom_ops:
            raise PreviewError(
                f"The {preset} preset takes its operations from custom_ops, e.g. hflip,rotate=15; it is empty."
            )
        class_index = query.get("class", "")
        return cls(
            preset=preset,
            variants=number("n", 6, 1, PREVIEW_MAX_VARIANTS),
            image_size=number("image_size", 64, *PREVIEW_SIZES),
            seed=number("seed", 0, 0, 2**31 - 1),
            custom_ops=custom_ops,
            class_index=None if class_index == "" else number("class", 0, 0, max(0, len(classes) - 1)),
        )


def _data_url(img: Image.Image) -> str:
    buffer = io.BytesIO()
    img.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def preview(dataset: Dataset, req: PreviewRequest) -> dict:
    """The same sample images, each augmented `variants` times by the preset, as training would."""
    names = dataset.sample_names()
    if req.class_index is None:
        picks = [(cls, names[cls][0]) for cls in dataset.classes if names.get(cls)][:PREVIEW_MAX_ROWS]
    else:
        cls = dataset.classes[req.class_index]
        picks = [(cls, n) for n in names.get(cls, [])][:PREVIEW_MAX_ROWS]
    images = []
    for _, name in picks:
        with content.storage().open(name, "rb") as f, Image.open(f) as img:
            images.append(to_rgb(img))
    try:
        augmented = augment_preview(
            images, req.preset, req.variants, req.image_size, seed=req.seed, custom_ops=req.custom_ops
        )
    except (ValueError, KeyError) as exc:  # a custom spec that does not parse
        raise PreviewError(str(exc).strip("'\"")) from None
    return {
        "preset": req.preset,
        "spec": AUGMENTATIONS.get(req.preset) or req.custom_ops,
        "n": req.variants,
        "image_size": req.image_size,
        "seed": req.seed,
        "rows": [
            {
                "class": cls,
                "original": _data_url(resize_image(img, req.image_size)),
                "augmented": [_data_url(a) for a in variants],
            }
            for (cls, _), img, variants in zip(picks, images, augmented, strict=True)
        ],
    }
