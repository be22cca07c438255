"""The augmentation preview: presets come from the training library's registry, and the endpoint
returns real images: the same samples, each augmented several times, as training would."""

from __future__ import annotations

import base64
import io

import pytest
from django.urls import reverse
from PIL import Image

from tests.helpers import folder_dataset
from training.augment import list_augmentations
from webapp.datasets.models import Dataset, DatasetStatus

pytestmark = pytest.mark.django_db


@pytest.fixture
def dataset(team, teammate, client) -> Dataset:
    client.force_login(teammate)
    return folder_dataset(team, folder={"classes": 3, "per_class": 10, "size": 24})


def preview(client, dataset, **params):
    return client.get(reverse("api_dataset_augment_preview", args=[dataset.pk]), params)


def decode(data_url: str) -> Image.Image:
    assert data_url.startswith("data:image/png;base64,")
    img = Image.open(io.BytesIO(base64.b64decode(data_url.split(",", 1)[1])))
    img.load()
    return img


def test_the_page_offers_every_preset_of_the_training_registry(client, dataset):
    page = client.get(reverse("dataset_augment", args=[dataset.pk])).content.decode()
    for name in list_augmentations():
        assert f'<option value="{name}"' in page
    assert "js/datasets_augment.js" in page


def test_each_class_gets_a_row_of_real_augmented_images(client, dataset):
    response = preview(client, dataset, preset="heavy", n=4, image_size=32, seed=1)
    assert response.status_code == 200
    body = response.json()
    assert body["preset"] == "heavy" and body["n"] == 4 and "rotate" in body["spec"]
    assert [row["class"] for row in body["rows"]] == ["class_0", "class_1", "class_2"]
    for row in body["rows"]:
        images = [decode(row["original"])] + [decode(u) for u in row["augmented"]]
        assert len(images) == 5 and all(img.size == (32, 32) and img.mode == "RGB" for img in images)
    # A heavy preset changes the picture; the four versions differ from each other.
    pixels = {decode(u).tobytes() for u in body["rows"][0]["augmented"]}
    assert len(pixels) == 4


def test_the_same_seed_shows_the_same_images_and_another_seed_others(client, dataset):
    first = preview(client, dataset, preset="standard", n=3, seed=5).json()
    again = preview(client, dataset, preset="standard", n=3, seed=5).json()
    other = preview(client, dataset, preset="standard", n=3, seed=6).json()
    assert first["rows"] == again["rows"]
    assert first["rows"][0]["augmented"] != other["rows"][0]["augmented"]


def test_no_augmentation_returns_the_resized_original(client, dataset):
    body = preview(client, dataset, preset="none", n=2, image_size=16).json()
    row = body["rows"][1]
    assert decode(row["augmented"][0]).tobytes() == decode(row["original"]).tobytes()


def test_one_class_can_be_previewed_with_all_its_samples(client, dataset):
    body = preview(client, dataset, preset="light", n=2, **{"class": 2}).json()
    assert [row["class"] for row in body["rows"]] == ["class_2"] * 8


def test_a_custom_preset_uses_the_operations_given(client, dataset):
    body = preview(client, dataset, preset="custom", custom_ops="vflip=1.0", n=1, image_size=24).json()
    row = body["rows"][0]
    original, flipped = decode(row["original"]), decode(row["augmented"][0])
    assert flipped.tobytes() == original.transpose(Image.Transpose.FLIP_TOP_BOTTOM).tobytes()


@pytest.mark.parametrize(
    "params, message",
    [
        ({"preset": "sparkles"}, "Unknown augmentation preset 'sparkles'"),
        ({"preset": "light", "n": "lots"}, "n must be a whole number"),
        ({}, "Choose an augmentation preset"),
        ({"preset": "light", "n": 99}, "n must be between 1 and 12"),
        ({"preset": "light", "image_size": 4096}, "image_size must be between 8 and 512"),
        ({"preset": "custom"}, "takes its operations from custom_ops"),
        ({"preset": "custom", "custom_ops": "explode=3"}, "unknown operation 'explode'"),
        ({"preset": "light", "class": 7}, "class must be between 0 and 2"),
    ],
)
def test_bad_requests_get_a_clear_error_naming_the_field(client, dataset, params, message):
    response = preview(client, dataset, **params)
    body = response.json()
    assert response.status_code == 400 and message in body["error"]
    assert [error["message"] for errors in body["errors"].values() for error in errors] == [body["error"]]


def test_a_dataset_still_processing_has_no_preview_yet(client, dataset):
    Dataset.objects.filter(pk=dataset.pk).update(status=DatasetStatus.PROCESSING)
    response = preview(client, dataset, preset="light")
    assert response.status_code == 409 and "processing" in response.json()["error"]
