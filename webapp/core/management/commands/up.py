"""Run the whole product: Redis (embedded unless REDIS_URL is set), a Celery worker and the ASGI server."""

from __future__ import annotations

import io
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from webapp.core import embedded_redis
from webapp.core.queues import TRAINING_QUEUES, Queue, broker_queue


def _reachable(host: str) -> str:
    """Where this machine reaches a server bound to `host` (all addresses: the loopback one)."""
    return "127.0.0.1" if host in {"0.0.0.0", "::"} else host


class Command(BaseCommand):
    help = (
        "Migrate, create the demo data (demo mode), start Redis, a Celery worker and the web server; Ctrl-C stops all."
    )

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("TRAINYARD_HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("TRAINYARD_PORT", "8000")))
        parser.add_argument(
            "--queues",
            default=os.environ.get("TRAINYARD_WORKER_QUEUES", ",".join(TRAINING_QUEUES)),
            help="queues the local worker consumes",
        )

    def handle(self, *args, host: str, port: int, queues: str, **options):
        self.children: list[tuple[str, subprocess.Popen]] = []
        self.commands: dict[str, tuple[list[str], dict[str, str]]] = {}  # how to start a worker again
        self.launched: dict[str, float] = {}
        self.delays: dict[str, float] = {}
        self.stopping = False
        signal.signal(signal.SIGINT, self._on_signal)
        signal.signal(signal.SIGTERM, self._on_signal)
        try:
            self._prepare()
            credentials = self._demo() if settings.TRAINYARD_DEMO else None
            env = {**os.environ, "REDIS_URL": settings.REDIS_URL, "PYTHONUNBUFFERED": "1"}
            self._start_redis()
            self._recover()
            self._spawn("worker", self._worker_args([q.strip() for q in queues.split(",")], 1, "trainyard-local"), env)
            # Dataset uploads are processed by their own worker, so they never wait behind a training run.
            self._spawn("dataset worker", self._worker_args([Queue.DATASETS], 2, "trainyard-datasets"), env)
            self._spawn(
                "web", [sys.executable, "-m", "daphne", "-b", host, "-p", str(port), "webapp.asgi:application"], env
            )
            self._wait_for_port(host, port)
            self._greet(host, port, credentials)
            self._watch()
        finally:
            self._stop_all()

    def _start_redis(self) -> None:
        if settings.EMBEDDED_REDIS and not embedded_redis.is_up(settings.REDIS_URL):
            sock = Path(settings.REDIS_URL.removeprefix("unix://"))
            self.stdout.write(f"starting the embedded Redis on {sock}")
            self.children.append(("redis", embedded_redis.start(sock, Path(settings.DATA_DIR) / "redis.log")))
        elif not embedded_redis.is_up(settings.REDIS_URL):
            raise CommandError(f"no Redis answers at REDIS_URL={settings.REDIS_URL}")

    def _recover(self) -> None:
        """Work whose worker was lost while nothing ran goes back to the queue, and queued work whose
        message the broker lost is sent again (the workers reap lost work on their own afterwards)."""
        from webapp.core import recovery

        for what, found in (
            ("resumed, their worker was lost", recovery.reap()),
            ("sent again", recovery.resend_lost()),
        ):
            for kind, ids in found.items():
                if ids:
                    self.stdout.write(f"{kind} {what}: {', '.join(f'#{i}' for i in ids)}")

    @staticmethod
    def _worker_args(queues: list[str], concurrency: int, name: str) -> list[str]:
        return [
            *(sys.executable, "-m", "celery", "-A", "webapp", "worker"),
            *("-Q", ",".join(broker_queue(q) for q in queues)),
            *("--pool", "threads", "--concurrency", str(concurrency)),
            *("-n", f"{name}@%h", "-l", "info"),
        ]

    def _greet(self, host: str, port: int, credentials: str | None) -> None:
        self.stdout.write(self.style.SUCCESS(f"\nTrainyard is running at http://{_reachable(host)}:{port}/"))
        if credentials:
            self.stdout.write(self.style.SUCCESS(f"Sign in as {credentials}"))
        self.stdout.write("Press Ctrl-C to stop.\n")

    def _prepare(self) -> None:
        self.stdout.write("migrating the database")
        call_command("migrate", interactive=False, verbosity=0)
        call_command("collectstatic", interactive=False, verbosity=0)

    def _wait_for_port(self, host: str, port: int, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not self.stopping:
            try:
                with socket.create_connection((_reachable(host), port), timeout=1):
                    return
            except OSError:
                for name, proc in self.children:
                    if proc.poll() is not None:
                        raise CommandError(f"the {name} process exited with code {proc.returncode}") from None
                time.sleep(0.2)

    def _demo(self) -> str | None:
        call_command("create_demo_dataset", stdout=self.stdout)
        if not settings.EMBEDDED:  # the demo superuser only in the embedded mode
            return None
        out = io.StringIO()
        call_command("create_demo_login", stdout=out)
        return out.getvalue().strip()

    def _spawn(self, name: str, args: list[str], env: dict[str, str]) -> None:
        self.commands[name] = (args, env)
        self.children.append((name, self._launch(name)))

    def _launch(self, name: str) -> subprocess.Popen:
        # Own process group: Ctrl-C reaches this command, which stops the children in order.
        args, env = self.commands[name]
        self.launched[name] = time.monotonic()
        return subprocess.Popen(args, env=env, cwd=settings.BASE_DIR, start_new_session=True)

    def _restart(self, i: int, name: str, proc: subprocess.Popen) -> None:
        """Start a worker that exited again; one that keeps crashing at once waits longer each time (to 60 s)."""
        quick = time.monotonic() - self.launched[name] < 60
        delay = min(60.0, 2 * self.delays.get(name, 0.5)) if quick else 1.0
        self.delays[name] = delay
        self.stdout.write(
            self.style.WARNING(f"the {name} process exited with code {proc.returncode}; restarting it in {delay:.0f} s")
        )
        deadline = time.monotonic() + delay
        while time.monotonic() < deadline and not self.stopping:
            time.sleep(0.2)
        if not self.stopping:
            self.children[i] = (name, self._launch(name))

    def _on_signal(self, signum, frame) -> None:
        self.stopping = True

    def _watch(self) -> None:
        """Supervise: a worker that exits is started again (its lost run is resumed through its lease);
        Redis or the web server exiting stops everything."""
        while not self.stopping:
            for i, (name, proc) in enumerate(self.children):
                if proc.poll() is None or self.stopping:
                    continue
                if not name.endswith("worker"):
                    raise CommandError(f"the {name} process exited with code {proc.returncode}; stopping everything")
                self._restart(i, name, proc)
            time.sleep(0.5)
        self.stdout.write("\nstopping…")

    def _stop_all(self) -> None:
        # Web first (no new work), then the worker (it stops a running experiment at the next batch), Redis last.
        for name, proc in reversed(self.children):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    self.stderr.write(f"{name} did not stop in 30 s; killing it")
                    proc.kill()
                    proc.wait()
        self.children.clear()
