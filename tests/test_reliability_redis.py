"""A Redis restart in the middle of a run (its own redis-server, which this test stops and starts again):
the run loses at most some live frames, never the run; no epoch row is lost."""

from __future__ import annotations

import pytest

from tests.helpers import Worker, finished, wait_until
from tests.test_reliability_workers import FAST_LEASES, trained_once_each, wait_checkpoint
from webapp.core import embedded_redis
from webapp.core.queues import broker_queue
from webapp.env import redis_url_for_celery
from webapp.experiments.states import Status
from webapp.experiments.tasks import run_experiment

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

EPOCHS = 20  # the run must still be going when Redis stops: it stops after the first checkpoint


def test_a_run_survives_a_redis_restart(make_experiment, tmp_path):
    from django.db import connection

    from webapp.celery import app

    sock = tmp_path / "redis.sock"
    url = embedded_redis.socket_url(sock)
    server = embedded_redis.start(sock)
    worker = Worker(connection.settings_dict, tmp_path, env={**FAST_LEASES, "REDIS_URL": url})
    try:
        wait_until(lambda: "ready." in worker.read_log(), 120, message=lambda: f"the worker:\n{worker.read_log()}")
        experiment = make_experiment(epochs=EPOCHS)
        with app.connection_for_write(redis_url_for_celery(url)) as conn:
            run_experiment.apply_async(args=[experiment.pk], queue=broker_queue(experiment.queue), connection=conn)
        k = wait_checkpoint(experiment).checkpoint_epoch

        embedded_redis.stop(server)  # the broker and the channel layer are gone...
        wait_checkpoint(experiment, min(k + 1, EPOCHS))  # ...and training goes on
        server = embedded_redis.start(sock)  # back, with its append-only file

        experiment = finished(experiment)
        assert experiment.status == Status.SUCCEEDED, f"{experiment.error}\n{worker.read_log()[-3000:]}"
        assert experiment.worker == worker.name
        assert experiment.restarts == 0
        trained_once_each(experiment)
    finally:
        worker.stop()
        embedded_redis.stop(server)
