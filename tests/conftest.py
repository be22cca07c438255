from __future__ import annotations

import contextlib
import os
import uuid
from pathlib import Path

import pytest

from tests.helpers import TINY_CONFIG, Worker, created_id, folder_dataset, post_upload, wait_until
from tests.seaweedfs import s3_env, s3_server  # noqa: F401 (fixtures: a real S3 server, a bucket per test)
from webapp.core.queues import Queue
from webapp.datasets.models import Dataset
from webapp.datasets.tasks import process_dataset
from webapp.experiments.models import Experiment
from webapp.teams.models import Role, Team

PASSWORD = "correct-horse-battery-staple"


@pytest.fixture
def team(db) -> Team:
    return Team.objects.create(name="Vision lab")


@pytest.fixture
def other_team(db) -> Team:
    return Team.objects.create(name="Other lab")


def _user(django_user_model, name: str, team: Team | None, role: str = Role.MEMBER):
    user = django_user_model.objects.create_user(name, f"{name}@example.com", PASSWORD)
    if team is not None:
        team.add_member(user, role)
    return user


@pytest.fixture
def owner(django_user_model, team):
    return _user(django_user_model, "alice", team, Role.OWNER)


@pytest.fixture
def teammate(django_user_model, team):
    return _user(django_user_model, "bob", team, Role.MEMBER)


@pytest.fixture
def viewer(django_user_model, team):
    return _user(django_user_model, "victor", team, Role.VIEWER)


@pytest.fixture
def outsider(django_user_model, other_team):
    return _user(django_user_model, "mallory", other_team, Role.OWNER)


@pytest.fixture
def tiny_dataset(team) -> Dataset:
    """A ready dataset of the team, read in place: 3 classes of 12 small images."""
    return folder_dataset(team, name=f"Colors {uuid.uuid4().hex[:8]}")


@pytest.fixture
def make_experiment(owner, tiny_dataset):
    """Queued experiments on `tiny_dataset` with TINY_CONFIG (and the changes given), not sent to a worker."""

    def make(**config_changes) -> Experiment:
        from training import TrainConfig

        config = TrainConfig.from_dict({**TINY_CONFIG, **config_changes}).to_dict()
        return Experiment.objects.create(
            team=tiny_dataset.team, owner=owner, dataset=tiny_dataset, name="tiny run", config=config, queue=Queue.CPU
        )

    return make


@pytest.fixture
def admin_client(client, django_user_model):
    """A signed-in superuser's client, for the Django admin."""
    client.force_login(django_user_model.objects.create_superuser("root", "root@example.com", PASSWORD))
    return client


@pytest.fixture
def upload(client, owner, team, django_capture_on_commit_callbacks):
    """Upload a zip archive from the upload page as the team's owner (`team=` another team of theirs), then
    run the processing task it sent, here, as the dataset worker would. Returns the dataset's id: its row
    is ready, or gone when processing rejected the archive (tests/test_datasets_worker.py uses the real worker)."""
    client.force_login(owner)

    def make(archive: bytes, team=team, **fields) -> int:
        with django_capture_on_commit_callbacks() as callbacks:
            pk = created_id(post_upload(client, team, archive, **fields))
        assert len(callbacks) == 1  # the task is sent once the row is committed
        process_dataset.apply(args=[pk])
        return pk

    return make


@pytest.fixture(autouse=True)
def _fresh_channel_layer():
    """Each test runs its own event loop; a channel layer built in another loop holds locks of that loop."""
    from channels.layers import channel_layers

    channel_layers.backends.clear()
    yield
    channel_layers.backends.clear()


@pytest.fixture(scope="session", autouse=True)
def _other_processes_leave_the_test_database(django_db_setup, django_db_blocker):
    """PostgreSQL only drops the test database once worker and live-server processes have gone."""
    yield
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    from asgiref.sync import SyncToAsync
    from django.db import connections

    # Async tests ran database calls in asgiref's executor thread: its connection is another session.
    SyncToAsync.single_thread_executor.submit(connections.close_all).result(timeout=10)

    def others_connected() -> int:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            return cursor.fetchone()[0]

    with django_db_blocker.unblock():
        # If one stays, Django's teardown says which session still holds the database.
        with contextlib.suppress(AssertionError):
            wait_until(lambda: others_connected() == 0, 15, message="the other sessions to leave")
        connection.close()


# The session's shared workers do not reap: the tests that kill workers do it with workers on queues of
# their own, and a shared worker reaping their expired leases would requeue the run onto the shared
# queues (another prefix, another storage), where it is not theirs to run.
NO_REAPER = {"TRAINYARD_REAPER_SECONDS": str(7 * 24 * 3600)}


@pytest.fixture(scope="session")
def celery_worker(django_db_setup, tmp_path_factory):
    """One real Celery worker process for the session, on the test database and Redis."""
    from django.db import connection

    worker = Worker(connection.settings_dict, tmp_path_factory.mktemp("worker-logs"), env=NO_REAPER)
    try:
        worker.wait_ready()
        yield worker
    finally:
        worker.stop()


@pytest.fixture
def own_queues(settings, monkeypatch):
    """Broker queues of this test's own (a fresh prefix, also for the worker processes it starts): the
    session's shared workers cannot take its tasks."""
    prefix = f"own-{uuid.uuid4().hex[:8]}-"
    settings.TRAINYARD_QUEUE_PREFIX = prefix
    monkeypatch.setenv("TRAINYARD_QUEUE_PREFIX", prefix)  # the worker processes read it too
    return prefix


@pytest.fixture(scope="session")
def datasets_worker(django_db_setup, tmp_path_factory):
    """A real Celery worker process for the `datasets` queue (uploads, validation)."""
    from django.db import connection

    worker = Worker(
        connection.settings_dict, tmp_path_factory.mktemp("datasets-worker-logs"), queues="datasets", env=NO_REAPER
    )
    try:
        worker.wait_ready()
        yield worker
    finally:
        worker.stop()


# Fixtures through which a test sees the mode (its database, Redis, workers or live server).
MODE_FIXTURES = {"db", "transactional_db", "live_server", "settings", "client", "admin_client", "celery_worker"}


def _sees_the_mode(item) -> bool:
    from django.test import SimpleTestCase

    if any(item.get_closest_marker(m) for m in ("django_db", "browser", "worker")):
        return True
    cls = getattr(item, "cls", None)
    if cls is not None and issubclass(cls, SimpleTestCase):
        return True
    return bool(MODE_FIXTURES & set(getattr(item, "fixturenames", ())))


# The test files whose behaviour depends on the database engine or on Redis (claims and leases, locks,
# queues, the lists' JSON queries, live streams, uploads, the sweep driver, the team cap), with real
# workers: CI runs them in the embedded mode (SQLite, embedded Redis) as well as in the services mode.
EMBEDDED_TOO = {
    "test_api.py",
    "test_experiment_list.py",
    "test_experiment_queue_list.py",
    "test_experiment_actions.py",
    "test_experiment_states.py",
    "test_reliability_leases.py",
    "test_live_consumer.py",
    "test_live_stream.py",
    "test_datasets_upload.py",
    "test_datasets_chunked_upload.py",
    "test_datasets_worker.py",
    "test_sweep_driver.py",
    "test_security_team_cap.py",
    "test_worker_pipeline.py",
    "test_queue_control.py",
    "test_reliability_workers.py",
}


def pytest_collection_modifyitems(config, items):
    # Tests of the training library alone (no database, Redis, worker or web server) are the same in every
    # mode: `-m "not library"` leaves them out of a second run in another mode (.ci/run does).
    for item in items:
        if not _sees_the_mode(item):
            item.add_marker(pytest.mark.library)
        if item.path.name in EMBEDDED_TOO:
            item.add_marker(pytest.mark.embedded)
    # Browser tests need Chromium. Where the run asks for them (CI=true) a missing browser fails them.
    if Path(os.environ.get("TRAINYARD_CHROMIUM", "/usr/bin/chromium")).exists():
        return
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        return  # they will fail with a clear message
    skip = pytest.mark.skip(reason="Chromium is not installed (apt-get install chromium); CI=true makes this a failure")
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(skip)
