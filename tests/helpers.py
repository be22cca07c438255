"""Real processes and clients that several test files use, and the tiny training config.
(Images, image folders and archives: `tests.images`.)"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

# The dataset tests import this from here still; new code imports it from tests.images.
from tests.images import make_image_folder  # noqa: F401

# A config small enough that two epochs take a second or two on one CPU core.
TINY_CONFIG = {
    "arch": "small_cnn",
    "depth": 2,
    "width": 8,
    "image_size": 16,
    "epochs": 2,
    "batch_size": 8,
    "lr": 0.01,
    "device": "cpu",
    "seed": 0,
}


def database_url(settings_dict: dict) -> str:
    """A DATABASE_URL for another process that must use this (test) database."""
    engine = settings_dict["ENGINE"]
    if engine.endswith("sqlite3"):
        return f"sqlite:///{Path(settings_dict['NAME']).resolve()}"
    if engine.endswith("postgresql"):
        user = settings_dict.get("USER") or ""
        password = f":{settings_dict['PASSWORD']}" if settings_dict.get("PASSWORD") else ""
        auth = f"{user}{password}@" if user else ""
        host = settings_dict.get("HOST") or "localhost"
        port = f":{settings_dict['PORT']}" if settings_dict.get("PORT") else ""
        return f"postgres://{auth}{host}{port}/{settings_dict['NAME']}"
    raise RuntimeError(f"no DATABASE_URL for engine {engine}")


class Worker:
    """A real Celery worker process on the test database and the test Redis."""

    def __init__(self, db_settings: dict, log_dir: Path, queues: str = "gpu,cpu") -> None:
        from django.conf import settings

        self.name = f"test-{uuid.uuid4().hex[:8]}@localhost"
        self.log_path = log_dir / f"{self.name.split('@')[0]}.log"
        prefix = settings.TRAINYARD_QUEUE_PREFIX
        env = {**os.environ, "DATABASE_URL": database_url(db_settings), "DB_CONN_MAX_AGE": "0", "PYTHONUNBUFFERED": "1"}
        self.log = open(self.log_path, "w")  # noqa: SIM115 (closed in stop)
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "webapp",
                "worker",
                "-Q",
                ",".join(prefix + q for q in queues.split(",")),
                "--pool",
                "threads",
                "--concurrency",
                "1",
                "-n",
                self.name,
                "-l",
                "info",
                "--without-mingle",
                "--without-gossip",
            ],
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            cwd=Path(__file__).resolve().parent.parent,
        )

    def wait_ready(self, timeout: float = 90) -> None:
        from webapp.celery import app

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited with {self.proc.returncode}:\n{self.read_log()}")
            if app.control.ping(destination=[self.name], timeout=0.5):
                return
        raise RuntimeError(f"worker did not answer within {timeout}s:\n{self.read_log()}")

    def read_log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout: float = 30) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def ws_communicator(experiment_id: int, session_key: str | None = None, origin: str = "http://localhost"):
    """A websocket client on the real ASGI application (auth middleware, origin check, routing)."""
    from channels.testing import WebsocketCommunicator

    from webapp.asgi import application

    headers = [(b"origin", origin.encode()), (b"host", b"localhost")]
    if session_key:
        headers.append((b"cookie", f"{settings_cookie_name()}={session_key}".encode()))
    return WebsocketCommunicator(application, f"/ws/experiments/{experiment_id}/", headers=headers)


def settings_cookie_name() -> str:
    from django.conf import settings

    return settings.SESSION_COOKIE_NAME


def session_for(user) -> str:
    """Sign `user` in the way the login view does and return the session key (committed)."""
    from django.test import Client

    client = Client()
    client.force_login(user)
    return client.cookies[settings_cookie_name()].value


def wait_until(predicate, timeout: float = 120, interval: float = 0.2, message: str = "condition"):
    """Poll `predicate` until it returns something truthy; fail with `message` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}")
