"""Checkpoints and exports go with their experiment; orphaned uploads and experiment folders are pruned."""

from __future__ import annotations

import os
import shutil
import time

import pytest
from django.core.files.base import ContentFile
from django.core.management import call_command

from webapp.datasets import storage
from webapp.experiments import files
from webapp.experiments.models import Experiment

pytestmark = pytest.mark.django_db


PLANTED: list = []


@pytest.fixture(autouse=True)
def _no_planted_files_left():
    """Planted folders go with the test: a later experiment that gets the same id must not find them."""
    yield
    while PLANTED:
        shutil.rmtree(PLANTED.pop(), ignore_errors=True)


def planted_folder(experiment_id: int):
    folder = files.checkpoint_dir(experiment_id)
    PLANTED.append(folder)
    (folder / "exports").mkdir(parents=True, exist_ok=True)
    files.final_model_path(experiment_id).write_bytes(b"weights")
    files.last_checkpoint_path(experiment_id).write_bytes(b"checkpoint")
    (folder / "exports" / "model.onnx").write_bytes(b"onnx")
    return folder


def age(path, hours: float) -> None:
    then = time.time() - hours * 3600
    os.utime(path, (then, then))


def test_deleting_an_experiment_deletes_its_checkpoints_and_exports(
    make_experiment, django_capture_on_commit_callbacks
):
    experiment, other = make_experiment(), make_experiment()
    folder, kept = planted_folder(experiment.pk), planted_folder(other.pk)
    with django_capture_on_commit_callbacks(execute=True):
        experiment.delete()
    assert not folder.exists() and kept.exists()


def test_a_rolled_back_delete_keeps_the_files(make_experiment, django_capture_on_commit_callbacks):
    from django.db import transaction

    experiment = make_experiment()
    folder = planted_folder(experiment.pk)
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError), transaction.atomic():
        Experiment.objects.filter(pk=experiment.pk).delete()
        raise RuntimeError("rolled back")
    assert folder.exists() and Experiment.objects.filter(pk=experiment.pk).exists()


def test_pruning_removes_old_orphans_and_keeps_the_rest(make_experiment, tiny_dataset, settings):
    store = storage.storage()
    orphan = store.save(f"{storage.UPLOAD_PREFIX}/orphan-test.zip", ContentFile(b"zip"))
    fresh = store.save(f"{storage.UPLOAD_PREFIX}/fresh-test.zip", ContentFile(b"zip"))
    used = store.save(f"{storage.UPLOAD_PREFIX}/used-test.zip", ContentFile(b"zip"))
    type(tiny_dataset).objects.filter(pk=tiny_dataset.pk).update(upload=used)
    for name in (orphan, used):
        age(store.path(name), 48)
    live = planted_folder(make_experiment().pk)
    gone = planted_folder(987654)  # no such experiment
    age(live, 48)
    age(gone, 48)

    call_command("prune_orphans", "--hours", "24")

    assert not store.exists(orphan) and store.exists(fresh) and store.exists(used)
    assert live.exists() and not gone.exists()
    store.delete(fresh)
    store.delete(used)
