"""Settings come from the environment, and bad values fail loudly at start, naming the variable."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def load_settings(tmp_path, **env) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "DEBUG"}}
    base.update({"TRAINYARD_DATA_DIR": str(tmp_path / "data"), "DJANGO_SETTINGS_MODULE": "webapp.settings", **env})
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.DATABASES['default']['ENGINE'], s.REDIS_URL, s.DEBUG, s.CELERY_BROKER_URL)"
    )
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=base, capture_output=True, text=True)


def test_with_nothing_set_it_uses_a_sqlite_file_and_the_embedded_redis_socket(tmp_path):
    proc = load_settings(tmp_path)
    assert proc.returncode == 0, proc.stderr
    engine, redis_url, debug, broker = proc.stdout.split()
    assert engine == "django.db.backends.sqlite3"
    assert redis_url == f"unix://{tmp_path / 'data' / 'redis.sock'}"
    assert broker == f"redis+socket://{tmp_path / 'data' / 'redis.sock'}"
    assert debug == "False"
    # The embedded secret key is random, kept private in the data folder.
    key_file = tmp_path / "data" / "secret_key"
    assert key_file.stat().st_mode & 0o777 == 0o600 and len(key_file.read_text()) > 40


def test_services_mode_reads_database_url_and_redis_url(tmp_path):
    proc = load_settings(
        tmp_path,
        DATABASE_URL="postgres://u@db.example:5432/trainyard",
        REDIS_URL="redis://cache.example:6379/2",
        SECRET_KEY="x" * 50,
        DEBUG="yes",
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == [
        "django.db.backends.postgresql",
        "redis://cache.example:6379/2",
        "True",
        "redis://cache.example:6379/2",
    ]


@pytest.mark.parametrize(
    "env, message",
    [
        ({"DEBUG": "maybe"}, "DEBUG='maybe' is not a boolean"),
        ({"REDIS_URL": "localhost:6379"}, "REDIS_URL='localhost:6379' must start with"),
        ({"DATABASE_URL": "nonsense://x", "SECRET_KEY": "k" * 50}, "DATABASE_URL is not a database URL"),
        ({"DATABASE_URL": "postgres://u@h/db"}, "SECRET_KEY must be set"),
        ({"TRAINYARD_CHECKPOINT_DIR": "relative/path"}, "must be an absolute path"),
        (
            {"DB_CONN_MAX_AGE": "ten", "DATABASE_URL": "postgres://u@h/db", "SECRET_KEY": "k" * 50},
            "DB_CONN_MAX_AGE='ten' is not an integer",
        ),
    ],
)
def test_a_bad_value_stops_the_start_with_a_message(tmp_path, env, message):
    proc = load_settings(tmp_path, **env)
    assert proc.returncode != 0
    assert "ImproperlyConfigured" in proc.stderr and message in proc.stderr
