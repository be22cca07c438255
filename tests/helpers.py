"""Real processes and clients that several test files use, and the tiny training config.
(Images, image folders and archives: `tests.images`.)"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from tests.images import make_image_folder

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

    def __init__(
        self, db_settings: dict, log_dir: Path, queues: str = "gpu,cpu", env: dict | None = None, **extra_env: str
    ) -> None:
        from django.conf import settings

        self.name = f"test-{uuid.uuid4().hex[:8]}@localhost"
        self.log_path = log_dir / f"{self.name.split('@')[0]}.log"
        prefix = settings.TRAINYARD_QUEUE_PREFIX
        env = {
            **os.environ,
            "DATABASE_URL": database_url(db_settings),
            "DB_CONN_MAX_AGE": "0",
            "PYTHONUNBUFFERED": "1",
            **(env or {}),
            **extra_env,
        }
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

        def answers() -> bool:
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited with {self.proc.returncode}:\n{self.read_log()}")
            return bool(app.control.ping(destination=[self.name], timeout=0.5))

        wait_until(answers, timeout, interval=0, message=lambda: f"the worker to answer; its log:\n{self.read_log()}")

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


T = TypeVar("T")


def wait_until(
    predicate: Callable[[], T],
    timeout: float = 120,
    interval: float = 0.2,
    message: str | Callable[[], str] = "condition",
) -> T:
    """Poll `predicate` until it returns something truthy, and return that; fail after `timeout` seconds,
    saying what was awaited (`message`, or what it returns when it is a function: e.g. a log read then)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message() if callable(message) else message}")


# --- datasets, made the way users make them ---------------------------------------------------------
def folder_dataset(team, name: str = "Colors", folder: dict | None = None, **fields):
    """A ready dataset read in place from a new image folder (`make_image_folder(**folder)`) under the media
    folder, processed now in this process (as the demo data is)."""
    from django.conf import settings

    from webapp.datasets import intake
    from webapp.datasets.models import Dataset

    root = f"datasets/test/{uuid.uuid4().hex[:8]}"
    make_image_folder(Path(settings.MEDIA_ROOT) / root, **(folder or {}))
    return intake.add_in_place(Dataset(team=team, name=name, root=root, **fields))


def upload_form(team, archive: bytes, name: str = "Animals", filename: str = "upload.zip", **fields) -> dict:
    """What the upload page posts: a team, a name, the zip archive and the split settings."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    return {
        "team": team.pk,
        "name": name,
        "description": "",
        "split_seed": 0,
        "val_fraction": 0.2,
        "test_fraction": 0.2,
        "archive": SimpleUploadedFile(filename, archive, "application/zip"),
        **fields,
    }


def post_upload(client, team, archive: bytes, **fields):
    from django.urls import reverse

    return client.post(reverse("dataset_upload"), upload_form(team, archive, **fields))


def created_id(response) -> int:
    """The id of the dataset an accepted upload redirected to (its page, /datasets/<id>/)."""
    assert response.status_code == 302, response.context["form"].errors if response.context else response
    return int(response.url.rstrip("/").split("/")[-1])


# --- experiments -----------------------------------------------------------------------------------
def experiment_form(dataset, **changes) -> dict:
    """What the browser posts to create an experiment: every config field as the form shows it (TINY_CONFIG
    over the defaults), then `changes`."""
    from training import TrainConfig

    config = TrainConfig.from_dict(TINY_CONFIG).to_dict()
    data = {"name": "first try", "description": "", "dataset": dataset.pk, "priority": "normal", "tags": ""}
    data.update({k: ("on" if v else "") if isinstance(v, bool) else v for k, v in config.items()})
    data.update(changes)
    return data


def finished(experiment, timeout: float = 180):
    """The experiment's row once its status is final (a worker took it to its end, or it was cancelled)."""
    from webapp.experiments.models import Experiment
    from webapp.experiments.states import FINAL

    return wait_until(
        lambda: (e := Experiment.objects.get(pk=experiment.pk)).status in FINAL and e,
        timeout,
        message=f"#{experiment.pk} to finish",
    )
