"""Every kind of bad upload, built as a real file: rejected with a message naming what is wrong, and
nothing left behind (no dataset row, no stored or extracted file).

The form answers at once only what the zip's end record says (not a zip, too many entries, too large);
everything else, from the archive's directory and labels CSV to the images, is found by the processing
task on the dataset worker, never in the web request (run here in this process; test_datasets_worker.py
runs it on the real worker), after which the row and its files are gone and the message waits for the page.
"""

from __future__ import annotations

import contextlib
import io
import zipfile

import pytest
from django.urls import reverse

from tests.datasets_files import stored_files
from tests.helpers import created_id, post_upload, upload_form
from tests.images import big_png, class_entries, image_bytes, truncated_png, zip_bytes, zip_with_link
from webapp.datasets.models import REJECTED, Dataset
from webapp.datasets.tasks import process_dataset

pytestmark = pytest.mark.django_db


def rejected_at_once(client, team, archive: bytes) -> str:
    """Post the archive; it must come back as a field error, leaving nothing (only what the zip's end record
    shows). Returns the message."""
    before = stored_files()
    response = post_upload(client, team, archive)
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert "archive" in errors, errors
    assert not Dataset.objects.exists()
    assert stored_files() == before
    return " ".join(errors["archive"])


def rejected_by_worker(client, team, archive: bytes) -> str:
    """An archive the form accepts and the dataset worker rejects for what its directory holds."""
    return rejected_by_processing(client, team, archive, contextlib.nullcontext)[0]


def rejected_by_processing(client, team, archive: bytes, capture) -> tuple[str, int]:
    """Post the archive (accepted for processing), run the task, and check that nothing is left.
    Returns the message and the id the rejected dataset had."""
    before = stored_files()
    with capture():
        pk = created_id(post_upload(client, team, archive))
    assert stored_files() != before  # the upload was stored while it waited for the worker
    process_dataset.apply(args=[pk])
    assert not Dataset.objects.exists()
    assert stored_files() == before
    # The page that was following the upload, and the status endpoint it polls, show the message.
    status = client.get(reverse("api_dataset_status", args=[pk])).json()
    assert status["status"] == REJECTED and status.keys() == Dataset(pk=pk).status_dict().keys()
    page = client.get(reverse("dataset_detail", args=[pk]))
    html = page.content.decode()
    assert page.status_code == 200 and status["error"] in html.replace("&#x27;", "'")
    assert f"/datasets/upload/?team={team.pk}&amp;name=Animals" in html  # "Upload a corrected archive"
    return status["error"], pk


@pytest.fixture
def member(client, owner):
    client.force_login(owner)
    return owner


GOOD = class_entries(classes=2, per_class=6)


# --- found in the archive's directory, answered by the form -------------------------------------
@pytest.mark.parametrize(
    "bad_name, message",
    [
        ("../evil.png", "Paths that escape the folder (..)"),
        ("class_0/../../evil.png", "Paths that escape the folder (..)"),
        ("/etc/evil.png", "Absolute paths"),
        ("C:/Windows/evil.png", "Absolute paths"),
        ("..\\evil.png", "Paths that escape the folder (..)"),
    ],
)
def test_paths_that_escape_the_folder_are_rejected_by_name(client, member, team, bad_name, message):
    text = rejected_by_worker(client, team, zip_bytes({**GOOD, bad_name: image_bytes()}))
    assert message in text and bad_name in text


def test_a_symbolic_link_in_the_archive_is_rejected(client, member, team):
    text = rejected_by_worker(client, team, zip_with_link(GOOD, "class_0/passwords.png", "/etc/passwd"))
    assert "Symbolic links (1): class_0/passwords.png" in text and "class_0/passwords.png" in text


def test_more_entries_than_the_cap_are_rejected(client, member, team, settings):
    settings.DATASET_MAX_ENTRIES = 10
    text = rejected_at_once(client, team, zip_bytes(class_entries(classes=2, per_class=6)))
    assert "12 entries; the limit is 10" in text


def test_more_unpacked_data_than_the_cap_is_rejected(client, member, team, settings):
    archive = zip_bytes({**GOOD, "class_0/huge.png": bytes(100_000)})
    settings.DATASET_MAX_BYTES = len(archive) + 100  # the archive fits, its contents unpacked do not
    text = rejected_by_worker(client, team, archive)
    assert "More data than the limit" in text and "would unpack to" in text


def test_an_entry_with_a_bomb_like_compression_ratio_is_rejected(client, member, team):
    bomb = zip_bytes({**GOOD, "class_0/bomb.png": bytes(8 * 2**20)})  # 8 MiB of zeros packs to a few KiB
    assert zipfile.ZipFile(io.BytesIO(bomb)).getinfo("class_0/bomb.png").compress_size < 2**16
    text = rejected_by_worker(client, team, bomb)
    assert "Entries that unpack to more than 200× their packed size" in text and "class_0/bomb.png" in text


def test_a_file_that_is_not_a_zip_is_rejected(client, member, team):
    assert "not a zip archive" in rejected_at_once(client, team, b"GIF89a this is no archive" * 10)


def test_files_that_are_not_images_are_rejected_by_name(client, member, team):
    text = rejected_by_worker(
        client, team, zip_bytes({**GOOD, "class_0/notes.docx": b"PK...", "class_1/run.sh": b"rm"})
    )
    assert "Files that are not images (2): class_0/notes.docx, class_1/run.sh." in text


def test_images_outside_class_folders_are_rejected(client, member, team):
    text = rejected_by_worker(client, team, zip_bytes({**GOOD, "stray.png": image_bytes()}))
    assert "Images outside class folders (1): stray.png." in text


def test_an_empty_archive_is_rejected(client, member, team):
    assert "The dataset is empty" in rejected_by_worker(client, team, zip_bytes({"README.md": b"nothing here"}))


def test_a_single_class_is_rejected(client, member, team):
    assert "at least two classes" in rejected_by_worker(client, team, zip_bytes(class_entries(classes=1, per_class=6)))


def test_a_csv_naming_images_that_are_not_there_is_rejected(client, member, team):
    entries = {f"{i}.png": image_bytes(seed=i) for i in range(6)}
    entries["labels.csv"] = b"\n".join(
        [b"filename,label"] + [f"{i}.png,{'a' if i % 2 else 'b'}".encode() for i in range(6)] + [b"ghost.png,a"]
    )
    text = rejected_by_worker(client, team, zip_bytes(entries))
    assert "Files named in labels.csv that are not images in the archive (1): ghost.png." in text


def test_split_folders_mixed_with_class_folders_are_rejected(client, member, team):
    entries = {**class_entries(2, 6, prefix="train/"), **class_entries(2, 6, names=["cats", "dogs"])}
    text = rejected_by_worker(client, team, zip_bytes(entries))
    assert "Folders next to the split folders" in text and "cats, dogs" in text


# --- found inside the images, by the processing task ---------------------------------------------
def test_a_file_with_an_image_name_that_is_no_image_is_rejected(
    client, member, team, django_capture_on_commit_callbacks
):
    text, _ = rejected_by_processing(
        client, team, zip_bytes({**GOOD, "class_1/fake.png": b"just some text"}), django_capture_on_commit_callbacks
    )
    assert "Files that are not readable images" in text and "class_1/fake.png" in text


def test_a_truncated_image_is_rejected(client, member, team, django_capture_on_commit_callbacks):
    text, _ = rejected_by_processing(
        client, team, zip_bytes({**GOOD, "class_0/cut.png": truncated_png()}), django_capture_on_commit_callbacks
    )
    assert "Corrupt or truncated images" in text and "class_0/cut.png" in text


def test_a_corrupt_jpeg_is_rejected(client, member, team, django_capture_on_commit_callbacks):
    jpeg = bytearray(image_bytes(size=(64, 64), fmt="JPEG"))
    jpeg[200:600] = bytes(400)  # scan data overwritten: the header still reads, the pixels do not
    del jpeg[700:]
    text, _ = rejected_by_processing(
        client, team, zip_bytes({**GOOD, "class_0/broken.jpg": bytes(jpeg)}), django_capture_on_commit_callbacks
    )
    assert "Corrupt or truncated images" in text and "class_0/broken.jpg" in text


def test_an_image_over_the_pixel_limit_is_rejected_before_it_is_decoded(
    client, member, team, django_capture_on_commit_callbacks
):
    bomb = big_png(8000, 6000)  # 48 megapixels in a few KiB: over the default limit of 40 megapixels
    assert len(bomb) < 100_000
    text, _ = rejected_by_processing(
        client, team, zip_bytes({**GOOD, "class_1/bomb.png": bomb}), django_capture_on_commit_callbacks
    )
    assert "Images over the limit of 40,000,000 pixels (1)" in text and "class_1/bomb.png (8000×6000)" in text


def test_classes_below_the_minimum_are_rejected(client, member, team, django_capture_on_commit_callbacks):
    entries = {**GOOD, **class_entries(1, 2, names=["rare"], seed=9)}
    text, _ = rejected_by_processing(client, team, zip_bytes(entries), django_capture_on_commit_callbacks)
    assert "Classes with fewer than 5 images (1): rare (2)." in text


def test_all_problems_are_named_in_one_message(client, member, team, django_capture_on_commit_callbacks):
    entries = {**GOOD, "class_0/cut.png": truncated_png(), "class_1/fake.png": b"text", "class_1/also.gif": b"GIF"}
    text, _ = rejected_by_processing(client, team, zip_bytes(entries), django_capture_on_commit_callbacks)
    assert "Corrupt or truncated images" in text and "class_0/cut.png" in text
    assert "Files that are not readable images (2): class_1/also.gif, class_1/fake.png." in text


def test_the_uploader_sees_the_rejection_once_on_the_dataset_list(
    client, member, team, django_capture_on_commit_callbacks
):
    rejected_by_processing(
        client, team, zip_bytes({**GOOD, "class_0/cut.png": truncated_png()}), django_capture_on_commit_callbacks
    )
    first = client.get(reverse("dataset_list")).content.decode()
    assert "The upload of Animals was rejected" in first and "class_0/cut.png" in first
    assert "was rejected" not in client.get(reverse("dataset_list")).content.decode()


def test_an_outsider_cannot_read_a_rejection_meant_for_another_team(
    client, member, team, outsider, django_capture_on_commit_callbacks
):
    _, pk = rejected_by_processing(
        client, team, zip_bytes({**GOOD, "class_0/cut.png": truncated_png()}), django_capture_on_commit_callbacks
    )
    client.force_login(outsider)
    assert client.get(reverse("api_dataset_status", args=[pk])).status_code == 404
    assert client.get(reverse("dataset_detail", args=[pk])).status_code == 404


# --- the same checks through the API ---------------------------------------------------------------
def test_the_api_answers_a_bad_archive_with_an_error_body(client, member, team):
    before = stored_files()
    response = client.post(reverse("api_dataset_list"), upload_form(team, b"no zip at all" * 10))
    assert response.status_code == 400
    error = response.json()["errors"]["archive"][0]
    assert "not a zip archive" in error["message"]
    assert not Dataset.objects.exists() and stored_files() == before


def test_the_api_reports_what_the_worker_found_in_the_archive(client, member, team):
    response = client.post(reverse("api_dataset_list"), upload_form(team, zip_bytes({**GOOD, "../evil.png": b"x"})))
    assert response.status_code == 201
    pk = response.json()["id"]
    process_dataset.apply(args=[pk])
    status = client.get(reverse("api_dataset_status", args=[pk])).json()
    assert status["status"] == REJECTED
    assert "Paths that escape the folder" in status["error"] and "../evil.png" in status["error"]
    assert not Dataset.objects.exists()


def test_an_upload_bigger_than_the_cap_is_refused_before_it_is_parsed(client, member, team, settings):
    settings.DATASET_MAX_BYTES = 1000  # the request may be this plus 1 MiB for the other fields
    before = stored_files()
    big = zip_bytes({**class_entries(2, 6), "class_0/pad.png": bytes(2**20 + 4096)}, compression=zipfile.ZIP_STORED)
    response = post_upload(client, team, big)
    assert response.status_code == 413
    assert "The upload is larger than the limit of" in response.content.decode()
    api = client.post(reverse("api_dataset_list"), upload_form(team, big, name="Big"))
    assert api.status_code == 413 and "larger than the limit" in api.json()["error"]
    assert not Dataset.objects.exists() and stored_files() == before
