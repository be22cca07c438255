"""A dataset being processed holds a lease too: a lost worker's dataset is processed again by another
worker by itself (real worker process, real Redis), a duplicate message does nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.helpers import Worker, created_id, post_upload, wait_until
from tests.images import class_entries, zip_bytes
from webapp.core.queues import Queue
from webapp.datasets import notices
from webapp.datasets.models import WAITING, Dataset, DatasetStatus
from webapp.datasets.processing import _claim
from webapp.datasets.reaper import reap

pytestmark = pytest.mark.django_db

FAST_LEASES = {"TRAINYARD_HEARTBEAT_SECONDS": "0.3", "TRAINYARD_LEASE_SECONDS": "3", "TRAINYARD_REAPER_SECONDS": "0.5"}


def held_by_a_dead_worker(pk: int, restarts: int = 0) -> None:
    """As a worker killed mid-processing leaves the row: started, its lease run out."""
    Dataset.objects.filter(pk=pk).update(
        stage="Extracting",
        lease_holder="dead@host/0",
        lease_expires_at=timezone.now() - timedelta(seconds=1),
        restarts=restarts,
    )


def uploaded(client, owner, team, django_capture_on_commit_callbacks) -> int:
    client.force_login(owner)
    with django_capture_on_commit_callbacks():  # its message is not sent: the dead worker "took" it
        return created_id(post_upload(client, team, zip_bytes(class_entries(3, 8, size=(16, 16)))))


def test_a_duplicate_message_does_not_process_a_dataset_twice(client, owner, team, django_capture_on_commit_callbacks):
    pk = uploaded(client, owner, team, django_capture_on_commit_callbacks)
    assert _claim(pk, "w1@host/a")
    assert not _claim(pk, "w2@host/b")  # live lease
    Dataset.objects.filter(pk=pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    assert _claim(pk, "w2@host/b")  # lost: taken over, as a restart
    assert Dataset.objects.get(pk=pk).restarts == 1


def test_the_reaper_sends_a_lost_dataset_again_then_gives_up(
    client, owner, team, django_capture_on_commit_callbacks, settings
):
    settings.TRAINYARD_MAX_RESTARTS = 1
    pk = uploaded(client, owner, team, django_capture_on_commit_callbacks)
    held_by_a_dead_worker(pk)
    with django_capture_on_commit_callbacks() as sent:
        assert reap() == [pk]
    assert len(sent) == 1
    dataset = Dataset.objects.get(pk=pk)
    assert (dataset.stage, dataset.restarts, dataset.lease_holder) == (WAITING, 1, "")
    held_by_a_dead_worker(pk, restarts=1)
    assert reap() == [pk]
    assert not Dataset.objects.filter(pk=pk).exists()  # a new upload that fails leaves nothing but its reason
    assert "its worker was lost" in notices.rejection(pk)["message"]


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_dataset_whose_worker_was_lost_is_processed_by_another_worker(
    client, owner, team, django_capture_on_commit_callbacks, tmp_path, own_queues
):
    from django.db import connection

    pk = uploaded(client, owner, team, django_capture_on_commit_callbacks)
    held_by_a_dead_worker(pk)
    worker = Worker(connection.settings_dict, tmp_path, queues=Queue.DATASETS, env=FAST_LEASES)
    try:
        worker.wait_ready()
        wait_until(
            lambda: Dataset.objects.get(pk=pk).status == DatasetStatus.READY,
            120,
            message=lambda: f"the dataset to be ready; worker log:\n{worker.read_log()[-3000:]}",
        )
    finally:
        worker.stop()
    dataset = Dataset.objects.get(pk=pk)
    assert dataset.restarts == 1 and dataset.lease_holder == "" and dataset.num_images == 24


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_killing_the_worker_mid_processing_hands_the_dataset_to_the_next_worker(
    client, owner, team, tmp_path, own_queues
):
    from django.db import connection

    client.force_login(owner)
    first = Worker(connection.settings_dict, tmp_path, queues=Queue.DATASETS, env=FAST_LEASES)
    second = None
    try:
        first.wait_ready()
        # Enough images that checking them takes a while: the worker is killed in the middle.
        pk = created_id(post_upload(client, team, zip_bytes(class_entries(3, 150, size=(64, 64)))))
        started = wait_until(
            lambda: (d := Dataset.objects.get(pk=pk)).stage not in {WAITING, "Starting"} and d, 120, 0.05
        )
        assert started.status == DatasetStatus.PROCESSING, "processing ended before the worker could be killed"
        first.proc.kill()
        first.proc.wait()
        second = Worker(connection.settings_dict, tmp_path, queues=Queue.DATASETS, env=FAST_LEASES)
        second.wait_ready()
        wait_until(
            lambda: Dataset.objects.get(pk=pk).status == DatasetStatus.READY,
            180,
            message=lambda: f"the dataset to be ready; worker log:\n{second.read_log()[-3000:]}",
        )
    finally:
        first.stop()
        if second is not None:
            second.stop()
    dataset = Dataset.objects.get(pk=pk)
    assert dataset.restarts == 1 and dataset.num_images == 450 and not dataset.upload
