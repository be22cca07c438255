"""docker-compose.yml (the control host) and docker-compose.worker.yml (a GPU host that runs only workers)
for a team deployment, checked by Debian's docker-compose (no engine needed)."""

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


SECRETS = {
    "SECRET_KEY": "s" * 50,
    "POSTGRES_PASSWORD": "pw",
    "REDIS_PASSWORD": "rp",
    "TRAINYARD_S3_ACCESS_KEY_ID": "ak",
    "TRAINYARD_S3_SECRET_ACCESS_KEY": "sk",
}
GPU_HOST = {"CONTROL_HOST": "10.0.0.10", "WORKER_HOST": "gpu1"}
# What the compose files read from the environment: the test's own values only.
READ = {*SECRETS, *GPU_HOST, "TRAINYARD_GPU_CLASS", "TRAINYARD_GPU_CLASSES", "TRAINYARD_SERVICES_ADDR"}


def compose(*args: str, file: str = "docker-compose.yml", **env: str) -> subprocess.CompletedProcess:
    assert COMPOSE, "docker-compose is missing: apt-get install -y docker-compose"
    clean = {k: v for k, v in os.environ.items() if k not in READ}
    return subprocess.run(
        [COMPOSE, "-f", str(ROOT / file), *args],
        env={**clean, **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
    )


def services_of(file: str = "docker-compose.yml", **env: str) -> dict:
    proc = compose("config", file=file, **env)
    assert proc.returncode == 0, proc.stderr
    return yaml.safe_load(proc.stdout)["services"]


def volumes(service: dict) -> list[str]:
    return [v["source"] if isinstance(v, dict) else v.split(":")[0] for v in service.get("volumes", [])]


def published(service: dict) -> list[str]:
    """ "address:published" of each port it publishes."""
    out = []
    for port in service.get("ports", []):
        if isinstance(port, dict):
            out.append(f"{port.get('host_ip', '0.0.0.0')}:{port['published']}")
        else:
            parts = str(port).split(":")
            out.append(":".join(parts[:-1]) if len(parts) == 3 else f"0.0.0.0:{parts[0]}")
    return out


@needs_compose
def test_the_compose_file_is_valid():
    proc = compose("config", "-q", **SECRETS)
    assert proc.returncode == 0, proc.stderr


@needs_compose
def test_it_refuses_to_start_without_secrets():
    proc = compose("config", "-q")
    assert proc.returncode != 0
    assert "set POSTGRES_PASSWORD" in proc.stderr or "set SECRET_KEY" in proc.stderr


@needs_compose
def test_it_runs_postgres_redis_web_and_a_worker_that_reserves_one_gpu():
    services = services_of(**SECRETS)
    assert {"postgres", "redis", "objectstore", "web", "worker-gpu0", "worker-data"} <= set(services)
    worker = services["worker-gpu0"]
    devices = worker["deploy"]["resources"]["reservations"]["devices"]
    assert devices == [{"driver": "nvidia", "device_ids": ["0"], "capabilities": ["gpu"]}]
    assert (
        "--concurrency" in worker["command"] and worker["command"][worker["command"].index("--concurrency") + 1] == "1"
    )
    assert "gpu,cpu" in worker["command"]
    # No volume is shared between web and workers: datasets and checkpoints go through the object store.
    mounts = {name: volumes(services[name]) for name in ("web", "worker-gpu0", "worker-data")}
    assert not set(mounts["web"]) & (set(mounts["worker-gpu0"]) | set(mounts["worker-data"]))
    assert "static" in mounts["web"]  # shared with the proxy, which serves it
    assert services["worker-gpu0"]["environment"]["TRAINYARD_DATASET_CACHE_DIR"] == "/cache"  # local, per worker
    # A deploy's SIGTERM leaves time to stop at the next batch, checkpoint and requeue (Docker's default is 10 s).
    assert all("stop_grace_period" in services[name] for name in ("worker-gpu0", "worker-data"))
    assert services["web"]["environment"]["DATABASE_URL"].startswith("postgres://trainyard:pw@postgres")
    assert (ROOT / "Dockerfile").exists()


@needs_compose
def test_nginx_is_in_front_with_the_upload_cap_and_redis_has_a_password():
    services = services_of(**SECRETS)
    assert "ports" not in services["web"]  # reached through the proxy only
    proxy = services["proxy"]
    assert {p["target"] if isinstance(p, dict) else int(p.split(":")[-1]) for p in proxy["ports"]} == {80, 443}
    assert proxy["environment"]["TRAINYARD_BODY_MAX"] == "8193m"  # 8 GiB archive cap + 1 MiB of form fields
    assert services["web"]["environment"]["TRAINYARD_DATASET_MAX_BYTES"] == str(8 * 2**30)
    assert "--requirepass" in services["redis"]["command"] and "rp" in services["redis"]["command"]
    assert services["web"]["environment"]["REDIS_URL"] == "redis://:rp@redis:6379/0"
    assert services["worker-gpu0"]["environment"]["REDIS_URL"] == "redis://:rp@redis:6379/0"


@needs_compose
def test_the_object_store_gets_its_keys_from_the_environment_and_web_and_workers_use_it():
    services = services_of(**SECRETS)
    store = services["objectstore"]
    assert store["image"].startswith("chrislusf/seaweedfs:")
    assert store["environment"]["TRAINYARD_S3_ACCESS_KEY_ID"] == "ak"
    assert store["environment"]["TRAINYARD_S3_SECRET_ACCESS_KEY"] == "sk"
    assert "objectdata" in volumes(store)
    # The script that writes its config and makes the bucket (run for real: test_deployment_objectstore.py).
    assert store["entrypoint"] == ["/bin/sh", "/etc/trainyard/start.sh"]
    assert (ROOT / "deploy" / "seaweedfs" / "start.sh").exists() and "stop_grace_period" in store
    for name in ("web", "worker-gpu0", "worker-data"):
        env = services[name]["environment"]
        assert env["TRAINYARD_S3_ENDPOINT_URL"] == "http://objectstore:8333"
        assert (env["TRAINYARD_S3_BUCKET"], env["TRAINYARD_S3_ACCESS_KEY_ID"]) == ("trainyard", "ak")
        assert env["TRAINYARD_S3_SECRET_ACCESS_KEY"] == "sk" and env["TRAINYARD_CHECKPOINT_UPLOAD_EVERY"] == "1"
    # A missing key is refused before anything starts.
    proc = compose("config", "-q", **{k: v for k, v in SECRETS.items() if k != "TRAINYARD_S3_SECRET_ACCESS_KEY"})
    assert proc.returncode != 0 and "set TRAINYARD_S3_SECRET_ACCESS_KEY" in proc.stderr


@needs_compose
def test_the_services_gpu_hosts_reach_listen_on_the_loopback_unless_an_address_is_given():
    services = services_of(**SECRETS)
    assert published(services["postgres"]) == ["127.0.0.1:5432"]
    assert published(services["redis"]) == ["127.0.0.1:6379"]
    assert published(services["objectstore"]) == ["127.0.0.1:8333"]
    services = services_of(**SECRETS, TRAINYARD_SERVICES_ADDR="10.0.0.10")
    for name, port in (("postgres", 5432), ("redis", 6379), ("objectstore", 8333)):
        assert published(services[name]) == [f"10.0.0.10:{port}"]


@needs_compose
def test_the_gpu_host_file_is_valid_and_refuses_to_start_without_its_settings():
    proc = compose("config", "-q", file="docker-compose.worker.yml", **SECRETS, **GPU_HOST)
    assert proc.returncode == 0, proc.stderr
    for missing in ("CONTROL_HOST", "WORKER_HOST", "REDIS_PASSWORD", "TRAINYARD_S3_ACCESS_KEY_ID"):
        env = {k: v for k, v in {**SECRETS, **GPU_HOST}.items() if k != missing}
        proc = compose("config", "-q", file="docker-compose.worker.yml", **env)
        assert proc.returncode != 0 and f"set {missing}" in proc.stderr, (missing, proc.stderr)


@needs_compose
def test_the_gpu_host_runs_only_workers_on_the_control_hosts_services():
    services = services_of("docker-compose.worker.yml", **SECRETS, **GPU_HOST, TRAINYARD_GPU_CLASS="h200")
    assert set(services) == {"worker-gpu0"}
    worker = services["worker-gpu0"]
    devices = worker["deploy"]["resources"]["reservations"]["devices"]
    assert devices == [{"driver": "nvidia", "device_ids": ["0"], "capabilities": ["gpu"]}]
    assert "gpu,cpu" in worker["command"] and "stop_grace_period" in worker
    assert worker["hostname"] == "gpu1"  # its name on the workers page
    env = worker["environment"]
    assert env["DATABASE_URL"] == "postgres://trainyard:pw@10.0.0.10:5432/trainyard"
    assert env["REDIS_URL"] == "redis://:rp@10.0.0.10:6379/0"
    assert env["TRAINYARD_S3_ENDPOINT_URL"] == "http://10.0.0.10:8333"
    assert (env["TRAINYARD_S3_ACCESS_KEY_ID"], env["TRAINYARD_S3_SECRET_ACCESS_KEY"]) == ("ak", "sk")
    assert env["TRAINYARD_GPU_CLASS"] == "h200"  # it also serves the queue gpu-h200
    assert env["TRAINYARD_DATASET_CACHE_DIR"] == "/cache"
    assert set(volumes(worker)) == {"gpu0-data", "cache-gpu0"}  # its own disk, nothing shared with the control host


@needs_compose
def test_the_control_hosts_gpu_worker_passes_its_gpu_class():
    services = services_of(**SECRETS, TRAINYARD_GPU_CLASS="a100", TRAINYARD_GPU_CLASSES="a100,h200")
    assert services["worker-gpu0"]["environment"]["TRAINYARD_GPU_CLASS"] == "a100"
    assert services["web"]["environment"]["TRAINYARD_GPU_CLASSES"] == "a100,h200"
