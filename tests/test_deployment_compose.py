"""docker-compose.yml for a team deployment, checked by Debian's docker-compose (no engine needed)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = shutil.which("docker-compose")
needs_compose = pytest.mark.skipif(
    COMPOSE is None and os.environ.get("CI", "").lower() not in {"1", "true", "yes"},
    reason="docker-compose is not installed (apt-get install docker-compose); CI=true makes this a failure",
)


def compose(*args: str, **env: str) -> subprocess.CompletedProcess:
    assert COMPOSE, "docker-compose is missing: apt-get install -y docker-compose"
    clean = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "POSTGRES_PASSWORD", "REDIS_PASSWORD"}}
    return subprocess.run(
        [COMPOSE, "-f", str(ROOT / "docker-compose.yml"), *args],
        env={**clean, **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
    )


@needs_compose
def test_the_compose_file_is_valid():
    proc = compose("config", "-q", SECRET_KEY="s" * 50, POSTGRES_PASSWORD="pw", REDIS_PASSWORD="rp")
    assert proc.returncode == 0, proc.stderr


@needs_compose
def test_it_refuses_to_start_without_secrets():
    proc = compose("config", "-q")
    assert proc.returncode != 0
    assert "set POSTGRES_PASSWORD" in proc.stderr or "set SECRET_KEY" in proc.stderr


@needs_compose
def test_it_runs_postgres_redis_web_and_a_worker_that_reserves_one_gpu():
    proc = compose("config", SECRET_KEY="s" * 50, POSTGRES_PASSWORD="pw", REDIS_PASSWORD="rp")
    config = yaml.safe_load(proc.stdout)
    services = config["services"]
    assert {"postgres", "redis", "web", "worker-gpu0", "worker-data"} <= set(services)
    worker = services["worker-gpu0"]
    devices = worker["deploy"]["resources"]["reservations"]["devices"]
    assert devices == [{"driver": "nvidia", "device_ids": ["0"], "capabilities": ["gpu"]}]
    assert (
        "--concurrency" in worker["command"] and worker["command"][worker["command"].index("--concurrency") + 1] == "1"
    )
    assert "gpu,cpu" in worker["command"]
    # Web and workers share one storage volume for datasets and checkpoints.
    mounts = {
        name: [v["source"] if isinstance(v, dict) else v.split(":")[0] for v in services[name]["volumes"]]
        for name in ("web", "worker-gpu0")
    }
    assert "storage" in mounts["web"] and "storage" in mounts["worker-gpu0"]
    assert services["worker-gpu0"]["environment"]["TRAINYARD_DATASET_CACHE_DIR"] == "/cache"  # local, per worker
    # A deploy's SIGTERM leaves time to stop at the next batch, checkpoint and requeue (Docker's default is 10 s).
    assert all("stop_grace_period" in services[name] for name in ("worker-gpu0", "worker-data"))
    assert services["web"]["environment"]["DATABASE_URL"].startswith("postgres://trainyard:pw@postgres")
    assert (ROOT / "Dockerfile").exists()


@needs_compose
def test_nginx_is_in_front_with_the_upload_cap_and_redis_has_a_password():
    proc = compose("config", SECRET_KEY="s" * 50, POSTGRES_PASSWORD="pw", REDIS_PASSWORD="rp")
    services = yaml.safe_load(proc.stdout)["services"]
    assert "ports" not in services["web"]  # reached through the proxy only
    proxy = services["proxy"]
    assert {p["target"] if isinstance(p, dict) else int(p.split(":")[-1]) for p in proxy["ports"]} == {80, 443}
    assert proxy["environment"]["TRAINYARD_BODY_MAX"] == "8193m"  # 8 GiB archive cap + 1 MiB of form fields
    assert services["web"]["environment"]["TRAINYARD_DATASET_MAX_BYTES"] == str(8 * 2**30)
    assert "--requirepass" in services["redis"]["command"] and "rp" in services["redis"]["command"]
    assert services["web"]["environment"]["REDIS_URL"] == "redis://:rp@redis:6379/0"
    assert services["worker-gpu0"]["environment"]["REDIS_URL"] == "redis://:rp@redis:6379/0"
