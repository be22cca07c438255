"""Datasets in the Django admin, through its real forms: add an upload, see status/counts/version in
the list, thumbnails per class and the health report, re-validate, and protection of used datasets."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from tests.datasets_files import stored_files
from tests.images import class_entries, truncated_png, zip_bytes
from webapp.datasets import storage
from webapp.datasets.models import Dataset, DatasetStatus
from webapp.datasets.tasks import process_dataset
from webapp.experiments.models import Experiment

pytestmark = pytest.mark.django_db

ADD_URL = reverse("admin:datasets_dataset_add")
LIST_URL = reverse("admin:datasets_dataset_changelist")


def add_form(team, **changes) -> dict:
    """What the admin's add page posts for an upload."""
    return {
        "team": team.pk,
        "name": "Flowers",
        "description": "",
        "add_source": "upload",
        "folder": "",
        "torchvision": "",
        "torchvision_folder": "",
        "download": "on",
        "split_seed": 0,
        "val_fraction": 0.2,
        "test_fraction": 0.2,
        "_save": "Save",
        **changes,
    }


def admin_upload(admin_client, team, archive: bytes, capture, **changes) -> int:
    with capture() as callbacks:
        response = admin_client.post(
            ADD_URL,
            add_form(team, zip_archive=SimpleUploadedFile("flowers.zip", archive, "application/zip"), **changes),
        )
    assert response.status_code == 302 and response.url == LIST_URL, response.context["adminform"].form.errors
    assert len(callbacks) == 1
    dataset = Dataset.objects.latest("pk")
    process_dataset.apply(args=[dataset.pk])
    return dataset.pk


def test_an_admin_uploads_an_archive_through_the_admin_form(admin_client, team, django_capture_on_commit_callbacks):
    assert admin_client.get(ADD_URL).status_code == 200
    pk = admin_upload(admin_client, team, zip_bytes(class_entries(3, 6)), django_capture_on_commit_callbacks)
    dataset = Dataset.objects.get(pk=pk)
    assert dataset.status == DatasetStatus.READY and dataset.num_images == 18 and dataset.team == team
    assert dataset.created_by.username == "root" and dataset.origin["filename"] == "flowers.zip"
    assert dataset.archive == f"datasets/content/{dataset.content_hash}/images.zip"
    listing = admin_client.get(LIST_URL).content.decode()
    assert "Flowers" in listing and "Ready" in listing and ">18<" in listing and ">3<" in listing
    assert f'href="/admin/datasets/dataset/{pk}/change/"' in listing


def test_the_admin_form_rejects_a_file_that_is_not_a_zip_with_a_field_error(admin_client, team):
    before = stored_files()
    response = admin_client.post(
        ADD_URL,
        add_form(team, zip_archive=SimpleUploadedFile("bad.zip", b"no zip here" * 20, "application/zip")),
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "not a zip archive" in errors["zip_archive"][0]
    assert not Dataset.objects.exists() and stored_files() == before


def test_the_admin_list_shows_a_rejection_found_by_the_worker(admin_client, team, django_capture_on_commit_callbacks):
    before = stored_files()
    admin_upload(
        admin_client,
        team,
        zip_bytes({**class_entries(2, 6), "class_1/cut.png": truncated_png()}),
        django_capture_on_commit_callbacks,
    )
    assert not Dataset.objects.exists() and stored_files() == before
    listing = admin_client.get(LIST_URL).content.decode()
    assert "The upload of Flowers was rejected" in listing and "class_1/cut.png" in listing


def test_the_change_page_shows_thumbnails_per_class_and_the_health_report(
    admin_client, team, django_capture_on_commit_callbacks
):
    pk = admin_upload(admin_client, team, zip_bytes(class_entries(2, 6)), django_capture_on_commit_callbacks)
    page = admin_client.get(reverse("admin:datasets_dataset_change", args=[pk])).content.decode()
    assert "Thumbnails per class" in page and "No image appears in more than one split" in page
    thumbnail = reverse("admin:datasets_dataset_sample", args=[pk, 1, 0])
    assert thumbnail in page
    response = admin_client.get(thumbnail)
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    with Image.open(io.BytesIO(b"".join(response.streaming_content))) as img:
        assert img.size == (12, 12)
    assert admin_client.get(reverse("admin:datasets_dataset_sample", args=[pk, 5, 0])).status_code == 404


def test_the_revalidate_action_queues_the_selected_datasets(admin_client, team, django_capture_on_commit_callbacks):
    pk = admin_upload(admin_client, team, zip_bytes(class_entries(2, 6)), django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks() as callbacks:
        response = admin_client.post(LIST_URL, {"action": "revalidate", "_selected_action": [pk]}, follow=True)
    assert "Queued 1 dataset for re-validation: Flowers v1" in response.content.decode()
    assert len(callbacks) == 1 and Dataset.objects.get(pk=pk).status == DatasetStatus.PROCESSING
    process_dataset.apply(args=[pk])
    assert Dataset.objects.get(pk=pk).status == DatasetStatus.READY


def test_a_revalidation_that_fails_marks_the_dataset_failed_and_keeps_it(
    admin_client, team, tmp_path, settings, django_capture_on_commit_callbacks
):
    pk = admin_upload(admin_client, team, zip_bytes(class_entries(2, 6)), django_capture_on_commit_callbacks)
    dataset = Dataset.objects.get(pk=pk)
    settings.DATASET_CACHE_DIR = tmp_path / "fresh"  # this host has no copy...
    storage.delete(dataset.archive)  # ...and the stored images are gone (a broken share)
    with django_capture_on_commit_callbacks():
        admin_client.post(LIST_URL, {"action": "revalidate", "_selected_action": [pk]})
    process_dataset.apply(args=[pk])
    dataset.refresh_from_db()
    assert dataset.status == DatasetStatus.FAILED and "missing from storage" in dataset.error


@pytest.fixture
def used(admin_client, team, owner, django_capture_on_commit_callbacks) -> Dataset:
    pk = admin_upload(admin_client, team, zip_bytes(class_entries(2, 6)), django_capture_on_commit_callbacks)
    dataset = Dataset.objects.get(pk=pk)
    Experiment.objects.create(team=team, owner=owner, dataset=dataset, name="uses it", config={"epochs": 1})
    return dataset


def test_deleting_a_used_dataset_shows_the_experiments_that_protect_it(admin_client, used):
    url = reverse("admin:datasets_dataset_delete", args=[used.pk])
    page = admin_client.get(url)
    assert page.status_code == 200
    assert "would require deleting the following protected related objects" in page.content.decode()
    assert "uses it" in page.content.decode()
    assert admin_client.post(url, {"post": "yes"}).status_code == 200
    assert Dataset.objects.filter(pk=used.pk).exists()


def test_bulk_deleting_a_used_dataset_is_refused_with_a_message(admin_client, used):
    response = admin_client.post(LIST_URL, {"action": "delete_selected", "_selected_action": [used.pk], "post": "yes"})
    assert response.status_code == 200 and "protected" in response.content.decode()
    assert Dataset.objects.filter(pk=used.pk).exists()


def test_a_used_dataset_keeps_its_data_and_split_read_only(admin_client, used):
    url = reverse("admin:datasets_dataset_change", args=[used.pk])
    page = admin_client.get(url).content.decode()
    assert "1 experiment. Its data and split are locked" in page and "version 2" in page
    assert 'name="split_seed"' not in page and 'name="description"' in page
    response = admin_client.post(url, {"description": "now described", "split_seed": 99, "_save": "Save"})
    assert response.status_code == 302
    used.refresh_from_db()
    assert used.description == "now described" and used.split_seed == 0


def test_a_used_dataset_refuses_changes_made_in_code_too(used):
    from django.core.exceptions import ValidationError

    used.split_seed = 3
    with pytest.raises(ValidationError, match="Experiments use this dataset"):
        used.full_clean()


def test_an_unused_dataset_can_get_a_new_split_and_is_processed_again(
    admin_client, team, django_capture_on_commit_callbacks
):
    pk = admin_upload(admin_client, team, zip_bytes(class_entries(2, 10)), django_capture_on_commit_callbacks)
    before = Dataset.objects.get(pk=pk)
    with django_capture_on_commit_callbacks() as callbacks:
        response = admin_client.post(
            reverse("admin:datasets_dataset_change", args=[pk]),
            {"description": "", "split_seed": 42, "val_fraction": 0.2, "test_fraction": 0.2, "_save": "Save"},
        )
    assert response.status_code == 302 and len(callbacks) == 1
    process_dataset.apply(args=[pk])
    after = Dataset.objects.get(pk=pk)
    assert after.is_ready and after.split_seed == 42 and after.split_file != before.split_file
    assert after.content_hash == before.content_hash
