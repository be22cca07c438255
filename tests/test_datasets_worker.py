"""Uploads processed end to end by a real Celery worker on the `datasets` queue, with the real
database and Redis: a good archive becomes ready; a bad one leaves nothing and its message waits."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.datasets_files import stored_files
from tests.helpers import created_id, post_upload, wait_until
from tests.images import class_entries, truncated_png, zip_bytes
from webapp.datasets.models import REJECTED, Dataset, DatasetStatus

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def processed(client, pk: int) -> tuple[dict, list[dict]]:
    """What the page does: poll the status endpoint until processing ends. Returns the last and all answers."""
    seen = []

    def answer() -> dict | None:
        seen.append(client.get(reverse("api_dataset_status", args=[pk])).json())
        return seen[-1] if seen[-1]["status"] != DatasetStatus.PROCESSING else None

    return wait_until(answer, 120, message=lambda: f"processing to end: {seen[-1]}"), seen


def test_the_worker_makes_an_upload_ready(client, owner, team, datasets_worker):
    client.force_login(owner)
    pk = created_id(post_upload(client, team, zip_bytes(class_entries(3, 20, size=(32, 32))), name="On the worker"))
    final, seen = processed(client, pk)
    assert final["status"] == DatasetStatus.READY, (final, datasets_worker.read_log()[-3000:])
    assert final["progress"] == 100
    assert all(0 <= s["progress"] <= 100 for s in seen)
    dataset = Dataset.objects.get(pk=pk)
    assert dataset.num_images == 60 and dataset.class_counts == {f"class_{i}": 20 for i in range(3)}
    assert not dataset.upload  # the uploaded archive was deleted by the worker
    assert len(dataset.splits().train) == 36


def test_the_worker_rejects_a_bad_upload_and_leaves_nothing(client, owner, team, datasets_worker):
    client.force_login(owner)
    before = stored_files()
    pk = created_id(post_upload(client, team, zip_bytes({**class_entries(2, 6), "class_0/cut.png": truncated_png()})))
    final, _ = processed(client, pk)
    assert final["status"] == REJECTED and "class_0/cut.png" in final["error"], datasets_worker.read_log()[-3000:]
    assert not Dataset.objects.filter(pk=pk).exists()
    assert stored_files() == before
    assert "class_0/cut.png" in client.get(reverse("dataset_detail", args=[pk])).content.decode()
