"""`manage.py up` supervises its workers, and the embedded Redis keeps queued messages across a restart."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.request

import psutil
import pytest
import redis

from tests.helpers import wait_until
from tests.test_run_command import ROOT, free_port, ready_output, still_running
from webapp.core import embedded_redis

pytestmark = pytest.mark.worker


def test_the_embedded_redis_keeps_its_data_across_a_restart(tmp_path):
    sock = tmp_path / "redis.sock"
    server = embedded_redis.start(sock)
    try:
        redis.Redis.from_url(embedded_redis.socket_url(sock)).rpush("queue", "a message")
    finally:
        embedded_redis.stop(server)
    assert (tmp_path / "appendonly.aof").exists()
    server = embedded_redis.start(sock)
    try:
        assert redis.Redis.from_url(embedded_redis.socket_url(sock)).lrange("queue", 0, -1) == [b"a message"]
    finally:
        embedded_redis.stop(server)


def training_workers(up: subprocess.Popen) -> list[psutil.Process]:
    children = psutil.Process(up.pid).children(recursive=True)
    return [c for c in children if c.is_running() and "trainyard-local@" in " ".join(c.cmdline())]


def test_up_restarts_a_crashed_worker_and_the_web_server_stays_up(tmp_path):
    port = free_port()
    skip = {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "TRAINYARD_QUEUE_PREFIX", "TRAINYARD_CHANNEL_PREFIX"}
    env = {k: v for k, v in os.environ.items() if k not in skip}
    env |= {"TRAINYARD_DATA_DIR": str(tmp_path / "data"), "TRAINYARD_DEMO": "0"}
    log_path = tmp_path / "up.log"
    log = open(log_path, "w+")  # noqa: SIM115 (the server writes to it while the test reads)
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "up", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_until(lambda: ready_output(proc, log_path), 180, 0.5, message="`up` to be ready")
        [crashed] = wait_until(lambda: training_workers(proc), 60, message="the training worker")
        crashed.kill()  # a crash: kill -9
        wait_until(
            lambda: "the worker process exited with code -9; restarting it" in log_path.read_text(),
            60,
            message=lambda: f"`up` to say it restarts the worker:\n{log_path.read_text()}",
        )
        wait_until(lambda: [w for w in training_workers(proc) if w.pid != crashed.pid], 60, message="a new worker")
        assert proc.poll() is None
        assert urllib.request.urlopen(f"http://127.0.0.1:{port}/login/").status == 200
        children = psutil.Process(proc.pid).children(recursive=True)
    finally:
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=90)
        log.close()
    assert code == 0, log_path.read_text()
    wait_until(lambda: not still_running(children), 30, message=lambda: f"{still_running(children)} to stop")
