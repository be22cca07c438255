"""The Celery task that processes a dataset, on the `datasets` queue. It takes the id, never an ORM object."""

from __future__ import annotations

from celery import shared_task

from webapp.core.queues import DATASETS, broker_queue
from webapp.datasets.processing import process


def send(dataset_id: int) -> None:
    process_dataset.apply_async(args=[dataset_id], queue=broker_queue(DATASETS))


@shared_task(name="datasets.process", ignore_result=True)
def process_dataset(dataset_id: int) -> str:
    # Expected failures (bad uploads) end inside `process` with a message for the user, so nothing is raised.
    return process(dataset_id)
