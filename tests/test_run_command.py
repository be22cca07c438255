"""`python3 manage.py up`: one command brings the whole product up, and Ctrl-C stops all of it."""

from __future__ import annotations

import http.cookiejar
import os
import re
import signal
import socket
import subprocess
import sys
import urllib.parse
import urllib.request
from pathlib import Path

import psutil
import pytest

from tests.helpers import wait_until

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.worker


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ready_output(proc: subprocess.Popen, log: Path) -> str | None:
    """What `up` printed, once it says it is ready; it must not have exited meanwhile."""
    output = log.read_text()
    assert proc.poll() is None, output
    return output if "Press Ctrl-C" in output else None


def still_running(processes: list[psutil.Process]) -> list[int]:
    return [p.pid for p in processes if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]


def test_up_serves_the_dashboard_with_a_demo_login_and_stops_everything_on_ctrl_c(tmp_path):
    port = free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "TRAINYARD_QUEUE_PREFIX", "TRAINYARD_CHANNEL_PREFIX"}
    }
    env["TRAINYARD_DATA_DIR"] = str(tmp_path / "data")
    log = open(tmp_path / "up.log", "w+")  # noqa: SIM115 (the server writes to it while the test reads)
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "up", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        output = wait_until(lambda: ready_output(proc, tmp_path / "up.log"), 180, 0.5, message="`up` to be ready")
        assert f"Trainyard is running at http://127.0.0.1:{port}/" in output, output
        username, password = re.search(r"Sign in as (\S+) / (\S+)", output).groups()
        assert username == "demo" and len(password) >= 12

        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        base = f"http://127.0.0.1:{port}"
        login_page = opener.open(f"{base}/login/").read().decode()
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login_page).group(1)
        body = urllib.parse.urlencode({"username": username, "password": password, "csrfmiddlewaretoken": token})
        dashboard = opener.open(f"{base}/login/", data=body.encode()).read().decode()
        assert "New experiment" in dashboard
        datasets = opener.open(f"{base}/datasets/").read().decode()
        assert "Handwritten digits (demo)" in datasets and ("1797" in datasets or "1,797" in datasets)
        plotly_js = opener.open(f"{base}/static/vendor/plotly/plotly.min.js")
        assert plotly_js.status == 200 and int(plotly_js.headers["Content-Length"]) > 1_000_000

        children = psutil.Process(proc.pid).children(recursive=True)
        names = " ".join(" ".join(c.cmdline()) for c in children)
        assert "redis-server" in names and "celery" in names and "daphne" in names
    finally:
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=60)
        log.close()
    assert code == 0, (tmp_path / "up.log").read_text()
    wait_until(lambda: not still_running(children), 30, message=lambda: f"{still_running(children)} to stop")
