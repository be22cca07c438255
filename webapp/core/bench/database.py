"""A throw-away database for the web benchmarks (the configured one is never touched), and its rows."""

from __future__ import annotations

import tempfile
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.db import connection
from django.test.utils import _TestState, setup_test_environment, teardown_test_environment

from training import TrainConfig


@contextmanager
def scratch_database():
    """A fresh test database: a SQLite file when the configured one is SQLite (forked servers share it), else
    a database named after the current one with `_bench` (never the current one, which stays untouched)."""
    saved_test = dict(settings.DATABASES["default"].get("TEST", {}))
    if connection.vendor == "sqlite":
        folder = Path(tempfile.mkdtemp(prefix="trainyard-bench-db-"))
        settings.DATABASES["default"].setdefault("TEST", {})["NAME"] = str(folder / "bench.sqlite3")
        connection.settings_dict["TEST"] = settings.DATABASES["default"]["TEST"]
    else:  # a server database: one of its own, beside the configured one (or beside a test run's)
        settings.DATABASES["default"].setdefault("TEST", {})["NAME"] = f"{connection.settings_dict['NAME']}_bench"
        connection.settings_dict["TEST"] = settings.DATABASES["default"]["TEST"]
    ours = not hasattr(_TestState, "saved_data")  # not already inside a test run (the bench's own test)
    if ours:
        setup_test_environment()
    old_name = connection.settings_dict["NAME"]  # back to it afterwards (create_test_db returns the new name)
    connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        yield
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
        settings.DATABASES["default"]["TEST"] = connection.settings_dict["TEST"] = saved_test
        if ours:
            teardown_test_environment()


def team_with_user(name: str = "Bench"):
    from django.contrib.auth import get_user_model

    from webapp.datasets.models import Dataset, DatasetStatus
    from webapp.teams.models import Role, Team

    team = Team.objects.create(name=name)
    user = get_user_model().objects.create_user(f"{name.lower()}-user", password="bench-password-not-secret")
    team.add_member(user, Role.OWNER)
    dataset = Dataset.objects.create(team=team, name="bench data", status=DatasetStatus.READY, num_images=1000)
    return team, user, dataset


def add_experiments(team, user, dataset, count: int, queued_share: float = 0.03) -> None:
    """`count` experiments, a few of them queued, the rest succeeded (bulk inserts)."""
    from webapp.experiments.models import Experiment
    from webapp.experiments.states import Status

    config = TrainConfig(epochs=10).to_dict()
    queued = int(count * queued_share)
    rows = [
        Experiment(
            team=team,
            owner=user,
            dataset=dataset,
            name=f"run {i}",
            config=config,
            status=Status.QUEUED if i < queued else Status.SUCCEEDED,
        )
        for i in range(count)
    ]
    Experiment.objects.bulk_create(rows, batch_size=1000)
    analyze()


def analyze() -> None:
    """Fresh planner statistics after a bulk insert, as a database that grew to this size has them
    (PostgreSQL's autovacuum, SQLite's `ANALYZE`): without them the planner guesses a handful of rows."""
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def add_epochs(experiment, count: int) -> None:
    from webapp.experiments.models import EpochMetric

    rows = [
        EpochMetric(
            experiment=experiment,
            epoch=e,
            train_loss=1 / e,
            train_acc=1 - 1 / (e + 1),
            val_loss=1.1 / e,
            val_acc=1 - 1.2 / (e + 1),
            lr=1e-3,
            seconds=1.0,
            images_per_sec=1000.0,
        )
        for e in range(1, count + 1)
    ]
    EpochMetric.objects.bulk_create(rows, batch_size=1000)
