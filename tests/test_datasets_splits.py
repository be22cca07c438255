"""Splits: drawn per class from a stored seed and fractions, the same every time for a dataset version,
different for a different seed; folders that fix a split are kept; missing parts are drawn from train."""

from __future__ import annotations

import shutil

import pytest

from tests.helpers import post_upload
from tests.images import class_entries, zip_bytes
from webapp.datasets import storage
from webapp.datasets.models import Dataset

pytestmark = pytest.mark.django_db

# Three classes of different sizes, so proportions are visible.
ENTRIES = {
    **class_entries(1, 20, names=["ant"]),
    **class_entries(1, 40, names=["bee"], seed=1),
    **class_entries(1, 60, names=["cow"], seed=2),
}


@pytest.fixture
def ready(upload):
    """A ready dataset from an upload of `entries` (three classes of different sizes unless given)."""

    def make(name: str, entries=ENTRIES, seed: int = 0, val: float = 0.2, test: float = 0.1) -> Dataset:
        pk = upload(zip_bytes(entries), name=name, split_seed=seed, val_fraction=val, test_fraction=test)
        dataset = Dataset.objects.get(pk=pk)
        assert dataset.is_ready, dataset.error
        return dataset

    return make


def relative(dataset: Dataset) -> dict[str, list]:
    splits = dataset.splits()
    root = str(dataset.path) + "/"
    return {
        part: sorted((p.removeprefix(root), label) for p, label in getattr(splits, part))
        for part in ("train", "val", "test")
    }


def test_the_same_seed_draws_the_same_split(ready):
    first, second = ready("A", seed=7), ready("B", seed=7)
    assert first.content_hash == second.content_hash  # same images...
    assert relative(first) == relative(second)  # ...same seed, same split
    assert relative(first) == relative(first)  # and a dataset gives the same split every time


def test_a_different_seed_draws_a_different_split(ready):
    a, b = ready("A", seed=1), ready("B", seed=2)
    assert relative(a)["val"] != relative(b)["val"]
    # Only which images, not how many: the proportions are the same.
    assert a.split_counts == b.split_counts


def test_stratification_keeps_class_proportions(ready):
    dataset = ready("A", val=0.2, test=0.1)
    assert dataset.split_counts == {
        "train": {"ant": 14, "bee": 28, "cow": 42},
        "val": {"ant": 4, "bee": 8, "cow": 12},
        "test": {"ant": 2, "bee": 4, "cow": 6},
    }
    for part in ("train", "val", "test"):
        counts = dataset.split_counts[part]
        total = sum(counts.values())
        assert counts["ant"] / total == pytest.approx(20 / 120, abs=0.01)
        assert counts["cow"] / total == pytest.approx(60 / 120, abs=0.01)


def test_the_split_stays_the_same_when_a_worker_extracts_the_dataset_again(ready, settings, tmp_path):
    dataset = ready("A", seed=3)
    before = relative(dataset)
    # Another host: an empty cache. The images come back from storage, the split from its stored file.
    settings.DATASET_CACHE_DIR = tmp_path / "other-host-cache"
    fresh = Dataset.objects.get(pk=dataset.pk)
    assert not fresh.path.exists()
    assert relative(fresh) == before
    assert fresh.path.is_dir() and str(fresh.path).startswith(str(tmp_path))


def test_the_split_is_stored_and_not_recomputed(ready):
    """The stored split file is the record: an experiment reads it, whatever the seed code does later."""
    dataset = ready("A", seed=5)
    stored = storage.load_split(dataset.split_file)
    assert stored["classes"] == dataset.classes
    assert sorted(map(tuple, stored["val"])) == relative(dataset)["val"]


def test_a_train_and_test_layout_draws_validation_from_train(ready):
    entries = {**class_entries(2, 10, prefix="train/"), **class_entries(2, 3, prefix="test/", seed=1)}
    dataset = ready("A", entries=entries, val=0.2, test=0.3)
    assert dataset.split_counts == {
        "train": {"class_0": 8, "class_1": 8},
        "val": {"class_0": 2, "class_1": 2},
        "test": {"class_0": 3, "class_1": 3},
    }
    assert dataset.report["split_origin"] == {"train": "folder", "val": "drawn", "test": "folder"}
    assert all("/train/" in p for p, _ in dataset.splits().val)


def test_a_train_and_val_layout_has_no_test_split(ready):
    entries = {**class_entries(2, 8, prefix="train/"), **class_entries(2, 3, prefix="validation/", seed=1)}
    dataset = ready("A", entries=entries)
    assert sum(dataset.split_counts["test"].values()) == 0 and sum(dataset.split_counts["val"].values()) == 6
    assert dataset.splits().test == []


def test_fractions_that_leave_too_little_for_training_are_refused(client, owner, team):
    client.force_login(owner)
    response = post_upload(client, team, zip_bytes(ENTRIES), val_fraction=0.5, test_fraction=0.5)
    assert "at most 90%" in " ".join(response.context["form"].errors["test_fraction"])
    assert not Dataset.objects.exists()


def test_a_folder_without_a_stored_split_derives_the_same_one(ready):
    dataset = ready("A", seed=11)
    expected = relative(dataset)
    dataset.split_file = ""  # rows made in code before processing: the split is derived the same way
    assert relative(dataset) == expected


def test_a_deleted_cache_folder_is_rebuilt(ready):
    dataset = ready("A")
    shutil.rmtree(dataset.path)
    assert relative(dataset)["train"]  # extracted again from storage


def test_the_split_can_be_read_without_extracting_the_images(ready, settings, tmp_path):
    dataset = ready("A", seed=4)
    expected = relative(dataset)
    settings.DATASET_CACHE_DIR = tmp_path / "web-host"  # a web server has no copy, and needs none
    fresh = Dataset.objects.get(pk=dataset.pk)
    assert relative_of(fresh.splits(local=False), fresh) == expected
    assert not fresh.path.exists()


def relative_of(splits, dataset: Dataset) -> dict[str, list]:
    root = str(dataset.path) + "/"
    return {
        part: sorted((p.removeprefix(root), label) for p, label in getattr(splits, part))
        for part in ("train", "val", "test")
    }
