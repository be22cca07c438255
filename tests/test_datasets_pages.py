"""Dataset pages and API: who sees what (outsiders get 404, viewers cannot upload), the sample images
the grid shows, and the JSON the pages and scripts read."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from tests.helpers import created_id, folder_dataset, post_upload, upload_form
from tests.images import class_entries, zip_bytes
from webapp.datasets.models import Dataset, DatasetStatus
from webapp.datasets.tasks import process_dataset

pytestmark = pytest.mark.django_db


@pytest.fixture
def dataset(team) -> Dataset:
    """A processed in-place dataset (3 classes of 12 images)."""
    return folder_dataset(team, split_seed=0, val_fraction=0.25, test_fraction=0.25)


def page_urls(dataset: Dataset) -> list[str]:
    return [
        dataset.get_absolute_url(),
        reverse("dataset_augment", args=[dataset.pk]),
        reverse("dataset_sample", args=[dataset.pk, 0, 0]),
        reverse("api_dataset_detail", args=[dataset.pk]),
        reverse("api_dataset_status", args=[dataset.pk]),
        reverse("api_dataset_augment_preview", args=[dataset.pk]) + "?preset=light",
    ]


def test_pages_require_sign_in(client, dataset):
    for url in [reverse("dataset_list"), reverse("dataset_upload"), dataset.get_absolute_url()]:
        response = client.get(url)
        assert response.status_code == 302 and response.url.startswith(reverse("login"))
    assert client.get(reverse("api_dataset_list")).status_code == 403


def test_an_outsider_gets_404_everywhere(client, dataset, outsider):
    client.force_login(outsider)
    for url in page_urls(dataset):
        assert client.get(url).status_code == 404, url
    assert client.get(reverse("dataset_upload") + f"?from={dataset.pk}").status_code == 404
    assert "Colors" not in client.get(reverse("dataset_list")).content.decode()
    assert client.get(reverse("api_dataset_list")).json()["results"] == []


def test_a_viewer_sees_everything_but_cannot_upload(client, dataset, viewer):
    client.force_login(viewer)
    for url in page_urls(dataset):
        assert client.get(url).status_code == 200, url
    page = client.get(dataset.get_absolute_url()).content.decode()
    assert "Upload a new version" not in page
    assert "Upload a dataset" not in client.get(reverse("dataset_list")).content.decode()
    assert client.get(reverse("dataset_upload")).status_code == 403
    archive = zip_bytes(class_entries(2, 6))
    assert post_upload(client, dataset.team, archive, name="X").status_code == 403
    response = client.post(reverse("api_dataset_list"), upload_form(dataset.team, archive, name="X"))
    assert response.status_code == 403 and "Viewers cannot upload" in response.json()["error"]
    assert Dataset.objects.count() == 1


def test_a_member_of_two_teams_uploads_only_where_they_may_write(client, dataset, viewer, other_team):
    other_team.add_member(viewer, "member")  # viewer in the dataset's team, member of another
    client.force_login(viewer)
    form = client.get(reverse("dataset_upload")).context["form"]
    assert list(form.fields["team"].queryset) == [other_team]
    response = post_upload(client, dataset.team, zip_bytes(class_entries(2, 6)), name="X")
    assert "team" in response.context["form"].errors
    assert Dataset.objects.count() == 1


def test_the_list_shows_the_newest_version_of_each_dataset(client, dataset, owner, team):
    client.force_login(owner)
    page = client.get(reverse("dataset_list")).content.decode()
    assert "Colors" in page and "v1" in page and "Ready" in page and ">36<" in page
    folder_dataset(team, folder={"per_class": 10}, version=2)
    page = client.get(reverse("dataset_list")).content.decode()
    assert page.count(">Colors</a>") == 1 and "v2 · 2 versions" in page and ">30<" in page and ">36<" not in page


def test_the_dataset_page_shows_charts_samples_and_the_split(client, dataset, teammate):
    client.force_login(teammate)
    response = client.get(dataset.get_absolute_url())
    page = response.content.decode()
    assert "vendor/plotly/plotly.min.js" in page and "js/datasets.js" in page
    for cls in range(3):
        assert reverse("dataset_sample", args=[dataset.pk, cls, 0]) in page
    assert response.context["split_totals"] == {"train": 18, "val": 9, "test": 9}
    assert response.context["page_data"]["splits"] == {"train": [6, 6, 6], "val": [3, 3, 3], "test": [3, 3, 3]}
    assert f'href="/datasets/upload/?from={dataset.pk}">Upload a new version' in page  # a member may


def test_sample_images_are_real_pngs(client, dataset, teammate):
    client.force_login(teammate)
    response = client.get(reverse("dataset_sample", args=[dataset.pk, 2, 3]))
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    with Image.open(io.BytesIO(b"".join(response.streaming_content))) as img:
        assert img.format == "PNG" and img.size == (12, 12) and img.mode == "RGB"
    assert client.get(reverse("dataset_sample", args=[dataset.pk, 3, 0])).status_code == 404
    assert client.get(reverse("dataset_sample", args=[dataset.pk, 0, 8])).status_code == 404


def test_the_api_describes_the_dataset(client, dataset, teammate):
    client.force_login(teammate)
    listed = client.get(reverse("api_dataset_list")).json()["results"]
    assert [d["name"] for d in listed] == ["Colors"]
    data = client.get(reverse("api_dataset_detail", args=[dataset.pk])).json()
    assert data["classes"] == ["class_0", "class_1", "class_2"] and data["num_images"] == 36
    assert data["split"] == {
        "seed": 0,
        "val_fraction": 0.25,
        "test_fraction": 0.25,
        "fixed": False,
        "counts": dataset.split_counts,
    }
    assert len(data["mean"]) == 3 and data["report"]["duplicates"]["groups"] == 0
    assert client.get(reverse("api_dataset_status", args=[dataset.pk])).json() == dataset.status_dict()


def test_the_api_accepts_an_upload(client, owner, team, django_capture_on_commit_callbacks):
    client.force_login(owner)
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(
            reverse("api_dataset_list"),
            {
                "team": team.pk,
                "name": "Via API",
                "archive": SimpleUploadedFile("a.zip", zip_bytes(class_entries(2, 6))),
            },
        )
    assert response.status_code == 201, response.json()
    assert response.json()["status"] == DatasetStatus.PROCESSING and len(callbacks) == 1
    assert Dataset.objects.get(name="Via API").val_fraction == 0.15  # the form's default


def test_the_upload_page_offers_a_new_version_of_an_upload(client, owner, team, django_capture_on_commit_callbacks):
    client.force_login(owner)
    fields = {"name": "Birds", "split_seed": 3, "val_fraction": 0.1, "test_fraction": 0.2}
    with django_capture_on_commit_callbacks():
        pk = created_id(post_upload(client, team, zip_bytes(class_entries(2, 6)), **fields))
    again = post_upload(client, team, zip_bytes(class_entries(2, 7)), **fields)
    assert "Version 1 of Birds is still being processed" in " ".join(again.context["form"].errors["name"])
    process_dataset.apply(args=[pk])
    page = client.get(reverse("dataset_detail", args=[pk])).content.decode()
    assert f"?from={pk}" in page
    form = client.get(reverse("dataset_upload") + f"?from={pk}").context["form"]
    assert form.initial["name"] == "Birds" and form.initial["split_seed"] == 3 and form.initial["test_fraction"] == 0.2
