"""Uploading a zip archive from the team's upload page: image folders, fixed splits, a CSV of labels,
mixed image modes, versions, and the page that follows the processing."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.datasets_files import stored_files
from tests.helpers import created_id, post_upload, upload_form
from tests.images import class_entries, image_bytes, zip_bytes
from webapp.datasets.models import REJECTED, Dataset, DatasetStatus

pytestmark = pytest.mark.django_db


def test_an_image_folder_archive_becomes_a_ready_dataset(upload, owner):
    dataset = Dataset.objects.get(pk=upload(zip_bytes(class_entries(classes=3, per_class=10))))
    assert dataset.status == DatasetStatus.READY, dataset.error
    assert dataset.classes == ["class_0", "class_1", "class_2"]
    assert dataset.class_counts == {"class_0": 10, "class_1": 10, "class_2": 10}
    assert dataset.num_images == 30 and dataset.version == 1 and dataset.created_by == owner
    assert {s: sum(c.values()) for s, c in dataset.split_counts.items()} == {"train": 18, "val": 6, "test": 6}
    assert len(dataset.mean) == 3 and len(dataset.std) == 3 and all(0 < v < 1 for v in dataset.mean)
    assert dataset.progress == 100 and not dataset.upload  # the uploaded archive is not kept
    splits = dataset.splits()
    assert splits.classes == dataset.classes and len(splits.train) == 18
    assert all(p.startswith(str(dataset.path)) for p, _ in splits.train)


def test_a_wrapping_folder_and_system_litter_are_looked_through(upload):
    entries = class_entries(classes=2, per_class=6, prefix="my-animals/")
    entries["__MACOSX/my-animals/._img.png"] = b"\x00\x05\x16\x07"
    entries["my-animals/.DS_Store"] = b"junk"
    entries["my-animals/README.md"] = b"# Animals"
    dataset = Dataset.objects.get(pk=upload(zip_bytes(entries)))
    assert dataset.status == DatasetStatus.READY, dataset.error
    assert dataset.classes == ["class_0", "class_1"]
    assert dataset.report["ignored_count"] == 3


def test_train_val_test_folders_fix_the_split(upload):
    entries = {
        **class_entries(2, 8, prefix="train/"),
        **class_entries(2, 3, prefix="val/", seed=1),
        **class_entries(2, 2, prefix="test/", seed=2),
    }
    dataset = Dataset.objects.get(pk=upload(zip_bytes(entries)))
    assert dataset.fixed_split
    assert dataset.split_counts == {
        "train": {"class_0": 8, "class_1": 8},
        "val": {"class_0": 3, "class_1": 3},
        "test": {"class_0": 2, "class_1": 2},
    }
    splits = dataset.splits()
    assert all("/val/" in p for p, _ in splits.val) and all("/test/" in p for p, _ in splits.test)


def test_a_csv_of_filenames_and_labels_is_understood(upload):
    entries = {f"images/{i:03d}.png": image_bytes((200, 30 * (i % 2), 40), seed=i) for i in range(14)}
    rows = ["filename,label"] + [f"{i:03d}.png,{'cat' if i % 2 else 'dog'}" for i in range(12)]
    entries["labels.csv"] = "\n".join(rows).encode()
    dataset = Dataset.objects.get(pk=upload(zip_bytes(entries)))
    assert dataset.status == DatasetStatus.READY, dataset.error
    assert dataset.class_counts == {"cat": 6, "dog": 6}
    assert dataset.origin["layout"] == "csv" and dataset.origin["csv"] == "labels.csv"
    # The two images the CSV does not name are left out, and the report says which.
    assert dataset.report["unlisted"] == ["images/012.png", "images/013.png"]
    assert any("not listed in labels.csv" in c["title"] for c in dataset.report["checks"])


def test_images_of_mixed_modes_and_formats_are_accepted(upload):
    modes = [
        ("L", "PNG"),
        ("RGB", "JPEG"),
        ("RGBA", "PNG"),
        ("P", "PNG"),
        ("P", "GIF"),
        ("RGB", "BMP"),
        ("LA", "PNG"),
        ("I;16", "PNG"),
        ("RGB", "WEBP"),
        ("CMYK", "TIFF"),
    ]
    entries = {}
    for c in range(2):
        for i, (mode, fmt) in enumerate(modes):
            entries[f"c{c}/{i}.{fmt.lower()}"] = image_bytes((200 * c, 90, 40), mode=mode, fmt=fmt, seed=c * 50 + i)
    dataset = Dataset.objects.get(pk=upload(zip_bytes(entries)))
    assert dataset.status == DatasetStatus.READY, dataset.error
    assert dataset.num_images == 20
    assert {"L", "RGB", "RGBA", "P", "LA", "CMYK"} <= set(dataset.report["modes"])
    assert any(c["title"].startswith("Mixed image modes") for c in dataset.report["checks"])


def test_a_changed_archive_under_the_same_name_is_a_new_version(upload, client):
    first, second = upload(zip_bytes(class_entries(2, 6))), upload(zip_bytes(class_entries(2, 7)))
    v1, v2 = Dataset.objects.get(pk=first), Dataset.objects.get(pk=second)
    assert (v1.version, v2.version) == (1, 2) and v1.name == v2.name
    assert v1.content_hash != v2.content_hash and v1.num_images == 12 and v2.num_images == 14
    page = client.get(v2.get_absolute_url()).content.decode()
    assert f'href="{v1.get_absolute_url()}">v1</a>' in page


def test_the_same_archive_again_makes_no_new_version(upload, client):
    archive = zip_bytes(class_entries(2, 6))
    first = upload(archive)
    before = stored_files()
    second = upload(archive)
    assert list(Dataset.objects.values_list("pk", flat=True)) == [first]
    assert stored_files() == before  # the first version's files are untouched, nothing new is kept
    status = client.get(reverse("api_dataset_status", args=[second])).json()
    assert status["status"] == REJECTED and "identical to version 1 of Animals" in status["error"]


def test_the_page_of_a_dataset_being_processed_shows_its_progress(
    client, owner, team, django_capture_on_commit_callbacks
):
    client.force_login(owner)
    with django_capture_on_commit_callbacks():
        pk = created_id(post_upload(client, team, zip_bytes(class_entries(2, 6))))
    page = client.get(reverse("dataset_detail", args=[pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="progress-card"' in html and "Waiting for a worker" in html and "js/datasets.js" in html
    status = client.get(reverse("api_dataset_status", args=[pk])).json()
    assert status["status"] == DatasetStatus.PROCESSING and status["progress"] == 0


def test_the_upload_page_sends_the_archive_with_a_progress_bar(client, owner, team, django_capture_on_commit_callbacks):
    client.force_login(owner)
    page = client.get(reverse("dataset_upload")).content.decode()
    assert 'id="upload-progress"' in page and "js/datasets_upload.js" in page
    with django_capture_on_commit_callbacks():
        response = client.post(
            reverse("dataset_upload"),
            upload_form(team, zip_bytes(class_entries(2, 6))),
            headers={"X-Requested-With": "XMLHttpRequest"},
        )
    assert response.status_code == 201
    assert response.json() == {"redirect": Dataset.objects.get().get_absolute_url()}


def test_the_split_is_described_in_words(upload, client):
    entries = {**class_entries(2, 8, prefix="train/"), **class_entries(2, 3, prefix="test/", seed=2)}
    pk = upload(zip_bytes(entries))
    page = client.get(reverse("dataset_detail", args=[pk])).content.decode()
    assert (
        "Fixed by the archive&#x27;s train/ and test/ folders. Validation (20%) drawn per class from train with seed 0."
    ) in page
