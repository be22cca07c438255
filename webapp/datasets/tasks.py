"""The Celery task that processes a dataset, on the `datasets` queue. It takes the id, never an ORM object."""

from __future__ import annotations

from celery import shared_task

from webapp.core.queues import Queue, send_after_commit
from webapp.datasets.processing import process


def enqueue(dataset_id: int) -> None:
    """Send the processing task once the transaction that marked the row `processing` has committed."""
    send_after_commit(process_dataset, dataset_id, queue=Queue.DATASETS)


@shared_task(bind=True, name="datasets.process", ignore_result=True)
def process_dataset(self, dataset_id: int) -> str:
    # Expected failures (bad uploads) end inside `process` with a message for the user, so nothing is raised.
    return process(dataset_id, worker=self.request.hostname or "")
