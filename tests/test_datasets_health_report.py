"""The health report's figures on a planted dataset: known counts, a duplicate that crosses splits
(leakage), a duplicate within a split, one image under two labels, and class imbalance."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.images import class_entries, image_bytes, zip_bytes
from training.layout import SPLITS, SplitOrigin
from webapp.datasets.models import Dataset

pytestmark = pytest.mark.django_db


@pytest.fixture
def planted(upload) -> Dataset:
    entries = {
        **class_entries(2, 12, prefix="train/", names=["cats", "dogs"]),
        **class_entries(2, 3, prefix="val/", names=["cats", "dogs"], seed=1),
        **class_entries(2, 2, prefix="test/", names=["cats", "dogs"], seed=2),
        **class_entries(1, 4, prefix="train/", names=["birds"], seed=3),
        **class_entries(1, 1, prefix="val/", names=["birds"], seed=4),
    }
    # Planted: a training image copied into test (leakage), a copy within train, and a cat also filed as a dog.
    entries["test/cats/leaked.png"] = entries["train/cats/img_000.png"]
    entries["train/dogs/copy.png"] = entries["train/dogs/img_000.png"]
    entries["train/dogs/mislabeled.png"] = entries["train/cats/img_001.png"]
    entries["train/birds/wide.png"] = image_bytes(size=(40, 20), seed=77)
    pk = upload(zip_bytes(entries), name="Planted", val_fraction=0.15, test_fraction=0.15)
    dataset = Dataset.objects.get(pk=pk)
    assert dataset.is_ready, dataset.error
    return dataset


def test_the_counts_per_class_and_split_are_exact(planted):
    assert planted.classes == ["birds", "cats", "dogs"]
    assert planted.class_counts == {"birds": 6, "cats": 18, "dogs": 19}
    assert planted.num_images == 43
    assert planted.split_counts == {
        "train": {"birds": 5, "cats": 12, "dogs": 14},
        "val": {"birds": 1, "cats": 3, "dogs": 3},
        "test": {"birds": 0, "cats": 3, "dogs": 2},
    }
    assert planted.fixed_split and planted.report["split_origin"] == dict.fromkeys(SPLITS, SplitOrigin.FOLDER)


def test_the_duplicate_across_splits_is_reported_as_leakage(planted):
    leakage = planted.report["leakage"]
    assert leakage["groups"] == 1 and leakage["files"] == 2
    assert leakage["examples"] == [
        {
            "files": ["test/cats/leaked.png", "train/cats/img_000.png"],
            "splits": ["test", "train"],
            "labels": ["cats", "cats"],
        }
    ]
    check = next(c for c in planted.report["checks"] if "leakage" in c["title"])
    assert check["level"] == "problem" and "test/cats/leaked.png = train/cats/img_000.png" in check["detail"]


def test_duplicates_and_conflicting_labels_are_counted(planted):
    duplicates = planted.report["duplicates"]
    assert duplicates["groups"] == 3 and duplicates["extra_files"] == 3
    assert planted.report["conflicts"]["groups"] == 1
    assert planted.report["conflicts"]["examples"][0]["files"] == [
        "train/cats/img_001.png",
        "train/dogs/mislabeled.png",
    ]
    titles = [c["title"] for c in planted.report["checks"]]
    assert "3 files are exact copies of another file" in titles
    assert "1 image appears under more than one label (identical files in different class folders)" in titles


def test_class_imbalance_is_measured(planted):
    assert planted.report["imbalance"] == {"ratio": round(19 / 6, 3), "largest": ["dogs", 19], "smallest": ["birds", 6]}
    assert "Classes are imbalanced: dogs has 3.2× the images of birds" in [c["title"] for c in planted.report["checks"]]


def test_image_sizes_and_few_evaluation_images_are_reported(planted):
    sizes = planted.report["sizes"]
    assert sizes["min"] == [12, 12] and sizes["max"] == [40, 20] and sizes["distinct"] == 2
    assert sorted(sizes["counts"]) == [[12, 12, 42], [40, 20, 1]]
    few = next(c for c in planted.report["checks"] if c["title"].startswith("Fewer than 5 validation images"))
    assert "birds (1)" in few["detail"] and "cats (3)" in few["detail"]


def test_the_stored_mean_and_std_come_from_the_training_split(planted):
    from training.data import compute_stats

    train = planted.splits().train
    mean, std = compute_stats(train, image_size=64, max_images=len(train))
    assert planted.channel_stats() == (planted.mean, planted.std)
    assert planted.mean == pytest.approx(mean, abs=1e-4) and planted.std == pytest.approx(std, abs=1e-4)


def test_the_dataset_page_shows_the_report(client, planted):
    page = client.get(planted.get_absolute_url()).content.decode()
    assert "2 files are identical images in different splits (leakage)" in page
    assert "3 files are exact copies of another file" in page
    assert "Classes are imbalanced" in page
    assert 'id="chart-classes"' in page and 'id="chart-sizes"' in page
    data = client.get(reverse("api_dataset_detail", args=[planted.pk])).json()
    assert data["report"]["leakage"]["files"] == 2 and data["class_counts"]["dogs"] == 19


def test_the_dataset_list_flags_problems_and_warnings_by_name(client, planted):
    page = client.get(reverse("dataset_list")).content.decode()
    assert (
        'class="health-flag problem" title="2 files are identical images in different splits (leakage)">leakage<'
        in page
    )
    assert ">label conflicts<" in page and ">duplicates<" in page and ">imbalanced 3.2×<" in page
