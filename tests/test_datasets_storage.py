"""Files go through Django's storage API (here also an in-memory storage, as a stand-in for remote
storage such as S3: it has no local paths), and each host keeps a cache of extracted datasets keyed
by content hash, made once from storage and shared by identical datasets."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from tests.images import class_entries, zip_bytes
from webapp.datasets import storage
from webapp.datasets.models import Dataset

pytestmark = pytest.mark.django_db
ENTRIES = class_entries(2, 6)


@pytest.fixture
def stored(upload):
    """The dataset an upload of `entries` made (None: rejected)."""

    def make(name: str, entries=ENTRIES, **options) -> Dataset | None:
        return Dataset.objects.filter(pk=upload(zip_bytes(entries), name=name, **options)).first()

    return make


@pytest.fixture
def cache(settings, tmp_path):
    settings.DATASET_CACHE_DIR = tmp_path / "cache"
    return settings.DATASET_CACHE_DIR


@pytest.fixture
def remote_storage(settings):
    """Django's InMemoryStorage as the default storage: like S3, it has files but no paths on this host."""
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"}}
    return storage.storage()


def test_the_cache_folder_is_named_by_the_content_hash(stored, cache):
    dataset = stored("A")
    assert dataset.path == cache / dataset.content_hash and dataset.path.is_dir()
    assert sorted(p.relative_to(dataset.path).as_posix() for p in dataset.path.rglob("*.png")) == sorted(ENTRIES)


def test_identical_datasets_share_stored_files_and_the_cache(
    stored, cache, other_team, owner, django_capture_on_commit_callbacks
):
    other_team.add_member(owner, "member")
    first, second = stored("A"), stored("B", team=other_team)
    assert first.content_hash == second.content_hash and first.archive == second.archive
    assert first.path == second.path
    with django_capture_on_commit_callbacks(execute=True) as callbacks:  # files are removed after the commit
        first.delete()
    assert len(callbacks) == 1
    assert storage.storage().exists(second.archive) and second.path.is_dir()  # kept: the other one uses them


def test_deleting_the_last_user_of_the_content_removes_its_files(stored, cache, django_capture_on_commit_callbacks):
    dataset = stored("A")
    names = [dataset.archive, dataset.split_file, *dataset.report["samples"]["class_0"]]
    assert all(storage.storage().exists(n) for n in names)
    with django_capture_on_commit_callbacks(execute=True):
        dataset.delete()
    assert not any(storage.storage().exists(n) for n in names)
    assert not dataset.path.exists()


def test_a_worker_without_a_copy_extracts_it_from_storage_once(stored, cache, settings, tmp_path):
    dataset = stored("A")
    settings.DATASET_CACHE_DIR = tmp_path / "gpu-host-cache"
    fresh = Dataset.objects.get(pk=dataset.pk)
    first = fresh.splits()
    marker = tmp_path / "gpu-host-cache" / f"{dataset.content_hash}.ready"
    assert marker.exists()
    made = marker.stat().st_mtime_ns
    assert fresh.splits().train == first.train and marker.stat().st_mtime_ns == made  # reused, not extracted again


def test_uploads_and_datasets_work_on_storage_without_local_paths(stored, cache, remote_storage, settings, tmp_path):
    dataset = stored("Remote")
    assert dataset.is_ready, dataset.error
    assert remote_storage.exists(dataset.archive) and remote_storage.exists(dataset.split_file)
    settings.DATASET_CACHE_DIR = tmp_path / "another-host"
    fresh = Dataset.objects.get(pk=dataset.pk)
    assert len(fresh.splits().train) == 8 and fresh.path.is_relative_to(tmp_path / "another-host")


def test_a_rejected_upload_leaves_nothing_in_remote_storage(stored, cache, remote_storage):
    stored("Broken", entries={**ENTRIES, "class_0/fake.png": b"not an image"})
    assert not Dataset.objects.exists()
    folders, files = remote_storage.listdir("datasets/uploads")
    assert files == []


def test_pruning_the_cache_keeps_what_datasets_use(stored, cache, capsys):
    dataset = stored("A")
    orphan = cache / ("0" * 64)
    (orphan / "x").mkdir(parents=True)
    (cache / f"{'0' * 64}.ready").touch()
    call_command("prune_dataset_cache")
    assert dataset.path.is_dir() and not orphan.exists() and not (cache / f"{'0' * 64}.ready").exists()
    assert "2 entries, freed" in capsys.readouterr().out
