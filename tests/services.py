"""pytest plugin, loaded with `-p tests.services` before Django reads its settings.

With nothing set, the suite runs in the embedded mode: a fresh data folder (SQLite test database,
media, checkpoints) and a real redis-server on a unix socket in it, both removed at the end. With
DATABASE_URL / REDIS_URL set (CI), those servers are used instead.
"""

from __future__ import annotations

import atexit
import os
import secrets
import shutil
import tempfile
from pathlib import Path

from webapp.core import embedded_redis

_made_data_dir = "TRAINYARD_DATA_DIR" not in os.environ
if _made_data_dir:
    os.environ["TRAINYARD_DATA_DIR"] = tempfile.mkdtemp(prefix="trainyard-test-")
DATA_DIR = Path(os.environ["TRAINYARD_DATA_DIR"])
os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(40))
# Each session gets its own channel-layer prefix, so runs sharing one Redis never hear each other.
_session = secrets.token_hex(4)
os.environ.setdefault("TRAINYARD_CHANNEL_PREFIX", f"trainyard-test-{_session}")
os.environ.setdefault("TRAINYARD_QUEUE_PREFIX", f"test-{_session}-")

_redis = None
if "REDIS_URL" not in os.environ:
    _socket = DATA_DIR / "redis.sock"
    _redis = embedded_redis.start(_socket, DATA_DIR / "redis.log")
    os.environ["REDIS_URL"] = embedded_redis.socket_url(_socket)


@atexit.register
def _cleanup() -> None:
    if _redis is not None:
        embedded_redis.stop(_redis)
    if _made_data_dir:
        shutil.rmtree(DATA_DIR, ignore_errors=True)
