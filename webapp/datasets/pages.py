"""What the dataset pages show: their contexts (the data the scripts read included) and the sample
image response. Pages read only stored things (the row and the sample images in storage), never the
full dataset, so the web server needs no copy of the images. The augmentation preview is `preview`.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.http import FileResponse, Http404
from django.urls import reverse
from django.utils.cache import patch_cache_control
from django.utils.text import slugify

from training.augment import AUGMENTATIONS, describe_ops
from training.config import TrainConfig
from training.layout import SPLITS, SplitOrigin
from webapp.datasets import preview, storage
from webapp.datasets.models import Dataset, statuses_for_pages


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


def page_data(dataset: Dataset) -> dict:
    """What the dataset page's script reads (`json_script`): its state, where to poll it, the statuses
    it may meet, and the chart data."""
    return {
        "dataset": dataset.status_dict(),
        "statuses": statuses_for_pages(),
        "status_url": reverse("api_dataset_status", args=[dataset.pk]),
        "upload_again_url": f"{reverse('dataset_upload')}?{urlencode({'team': dataset.team_id, 'name': dataset.name})}",
        "classes": dataset.classes,
        "splits": {s: [dataset.split_counts.get(s, {}).get(c, 0) for c in dataset.classes] for s in SPLITS},
        "sizes": dataset.report.get("sizes", {}).get("counts", []),
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
    folders = [f"{p}/" for p in SPLITS if origin.get(p) == SplitOrigin.FOLDER]
    text = "Fixed by the archive's " + " and ".join(filter(None, [", ".join(folders[:-1]), folders[-1]])) + " folders."
    drawn = [p for p in ("val", "test") if origin.get(p) == SplitOrigin.DRAWN]
    if drawn:
        parts = " and ".join({"val": f"validation ({val})", "test": f"test ({test})"}[p] for p in drawn)
        text += f" {parts[:1].upper()}{parts[1:]} drawn per class from train with seed {dataset.split_seed}."
    if origin.get("test") == SplitOrigin.NONE:
        text += " There is no test split: the archive has no test/ folder."
    return text


def detail_context(dataset: Dataset) -> dict:
    report = dataset.report
    split_totals = {s: sum(dataset.split_counts.get(s, {}).values()) for s in SPLITS}
    return {
        "dataset": dataset,
        "versions": dataset.versions(),
        "used_by": dataset.experiments.count() if dataset.pk else 0,
        "samples": sample_urls(dataset),
        "page_data": page_data(dataset),
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
                [dataset.split_counts.get(s, {}).get(c, 0) for s in SPLITS],
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
        response = FileResponse(storage.stream(name), content_type="image/png")
    except FileNotFoundError:
        raise Http404("The sample image is missing from storage") from None
    patch_cache_control(response, private=True, max_age=3600)  # content-addressed: it never changes
    return response


def archive_response(dataset: Dataset) -> FileResponse:
    """The processed images as one zip (canonical layout), streamed from storage; 404 for data read in
    place (built-in, server folders) or not processed."""
    if dataset.in_place or not dataset.content_hash or not dataset.is_ready:
        raise Http404("This dataset has no stored archive")
    try:
        body = storage.stream(storage.archive_name(dataset.content_hash))
    except FileNotFoundError:
        raise Http404("The dataset's archive is missing from storage") from None
    filename = f"{slugify(dataset.name) or 'dataset'}-v{dataset.version}.zip"
    return FileResponse(body, as_attachment=True, filename=filename, content_type="application/zip")


def augment_context(dataset: Dataset) -> dict:
    presets = [{"name": e.name, "description": e.description, "spec": e.obj or ""} for e in AUGMENTATIONS.entries()]
    return {
        "dataset": dataset,
        "presets": presets,
        "ops": describe_ops(),
        # What an experiment trains at unless told otherwise: the preview shows what training would see.
        "default_size": TrainConfig().image_size,
        "limits": {"variants": preview.MAX_VARIANTS, "sizes": preview.SIZES},
        "preview_data": {
            "url": reverse("api_dataset_augment_preview", args=[dataset.pk]),
            "classes": dataset.classes,
            "ready": dataset.is_ready,
        },
    }
