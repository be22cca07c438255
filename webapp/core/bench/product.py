"""The whole product against the plain command line, on this host.

- `whole_product`: one experiment submitted through the API (the form's validation, the row, the queue
  after commit, a real Celery worker process that claims the row, records every epoch, streams it live
  and saves checkpoints) against `python -m training` on the same folder and config: submit to final
  metric, alternately.
- `submit_latency`: submit (the API's POST) to task start (the row's `started_at`, set by the worker's
  claim), p50 and p95; with the epoch-end-to-websocket figures `watchers` measured in this run.
- `search_throughput`: a small grid sweep through the API (its driver task between trials) against
  `python -m training sweep` running the same trials one after another: trials per hour.

The plain sides run in this process, warm, as the worker is: starting Python and torch (seconds) is
not counted against the command line.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, redirect_stderr, redirect_stdout
from pathlib import Path

from django.conf import settings
from django.db import connection
from django.test import Client

from training.bench import Figure, Result, alternate, compare
from training.bench.workload import image_folder
from webapp.core.bench.database import team_with_user

ROOT = Path(__file__).resolve().parents[3]
LAST_WATCHERS: dict[str, float] = {}  # the epoch-to-client figures of `watchers`, when it ran before


def database_url(db: dict) -> str:
    """A DATABASE_URL for the worker process: the scratch database this process uses."""
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{Path(db['NAME']).resolve()}"
    auth = db.get("USER") or ""
    auth += f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgres://{auth + '@' if auth else ''}{db.get('HOST') or 'localhost'}{port}/{db['NAME']}"


_SHARED: dict | None = None  # inside `shared_worker()`: the worker all these benchmarks use


@contextmanager
def shared_worker() -> Iterator[None]:
    """Within it, the benchmarks below share one worker process (started by the first that needs one)."""
    global _SHARED
    with ExitStack() as stack:
        _SHARED = {"stack": stack}
        try:
            yield
        finally:
            _SHARED = None


@contextmanager
def worker(scratch: Path) -> Iterator[str]:
    """The shared worker (see `shared_worker`), else one for the caller alone."""
    if _SHARED is None:
        with _worker(scratch) as name:
            yield name
        return
    if "name" not in _SHARED:
        _SHARED["name"] = _SHARED["stack"].enter_context(_worker(scratch))
    yield _SHARED["name"]


@contextmanager
def _worker(scratch: Path) -> Iterator[str]:
    """A real Celery worker process (threads pool, concurrency 1, as a training host runs it) on the scratch
    database, with queues and checkpoint folders of its own; this process sends to those queues meanwhile."""
    prefix = f"bench-{uuid.uuid4().hex[:8]}-"
    name = f"{prefix}worker@localhost"
    env = {
        **os.environ,
        "DATABASE_URL": database_url(connection.settings_dict),
        "SECRET_KEY": settings.SECRET_KEY,  # with DATABASE_URL set (even a SQLite one) settings require it
        "DB_CONN_MAX_AGE": "0",
        "REDIS_URL": settings.REDIS_URL,
        "TRAINYARD_QUEUE_PREFIX": prefix,
        "TRAINYARD_CHECKPOINT_DIR": str(scratch / "checkpoints"),  # never the configured runs' folders
        "TRAINYARD_DATASET_CACHE_DIR": str(scratch / "cache"),
        "TRAINYARD_NO_BOOTSTRAP": "1",
    }
    command = [sys.executable, "-m", "celery", "-A", "webapp", "worker", "-Q", f"{prefix}cpu,{prefix}gpu"]
    command += ["--pool", "threads", "--concurrency", "1", "-n", name, "-l", "warning"]
    command += ["--without-mingle", "--without-gossip"]
    log = open(scratch / f"{prefix}worker.log", "w")  # noqa: SIM115 (closed below)
    proc = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    saved = settings.TRAINYARD_QUEUE_PREFIX
    settings.TRAINYARD_QUEUE_PREFIX = prefix
    try:
        _wait_ready(proc, name, scratch / f"{prefix}worker.log")
        yield name
    finally:
        settings.TRAINYARD_QUEUE_PREFIX = saved
        proc.terminate()
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def _wait_ready(proc: subprocess.Popen, name: str, log: Path, timeout: float = 180) -> None:
    from webapp.celery import app

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the bench's worker exited with {proc.returncode}: {log.read_text()[-2000:]}")
        if app.control.ping(destination=[name], timeout=0.5):
            return
    raise RuntimeError(f"the bench's worker did not answer in {timeout:.0f} s: {log.read_text()[-2000:]}")


def until(check: Callable[[], object], timeout: float, what: str, interval: float = 0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := check():
            return value
        time.sleep(interval)
    raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}")


class Job:
    """An image folder registered as a ready dataset (read in place), a logged-in API client, a config."""

    def __init__(self, scratch: Path, images: int, config: dict) -> None:
        from webapp.datasets import intake
        from webapp.datasets.models import Dataset

        self.folder = image_folder(scratch / f"data-{uuid.uuid4().hex[:6]}", 4, max(6, images // 4))
        team, self.user, _ = team_with_user(f"Product {uuid.uuid4().hex[:6]}")
        fractions = {"val_fraction": 0.15, "test_fraction": 0.15, "split_seed": 0}
        self.dataset = intake.add_in_place(Dataset(team=team, name="bench folder", root=str(self.folder), **fractions))
        self.client = Client()
        self.client.force_login(self.user)
        self.config = {"device": "cpu", "num_workers": 0, **config}
        self.scratch = scratch

    def post(self, url: str, body: dict) -> dict:
        response = self.client.post(url, json.dumps(body), content_type="application/json")
        if response.status_code != 201:
            raise RuntimeError(f"POST {url} answered {response.status_code}: {response.content[:500]!r}")
        return response.json()

    def submit(self) -> int:
        body = {"dataset": self.dataset.pk, "name": "bench", "presets": ["quick"], "config": self.config}
        return self.post("/api/experiments/", body)["id"]

    def cli(self, *args: str) -> list[str]:
        """The command line's arguments for this job (`args` first: a subcommand and its options)."""
        values = [f"--set={k}={v}" for k, v in self.config.items()]
        out = self.scratch / f"cli-{uuid.uuid4().hex[:6]}"
        return [*args, "--data", str(self.folder), "--preset", "quick", *values, "--out", str(out)]


def run_command_line(argv: list[str]) -> float:
    """`python -m training ARGS` in this (warm) process, as the worker is warm: its output discarded."""
    from training.__main__ import main

    started = time.perf_counter()
    with open(os.devnull, "w") as devnull, redirect_stdout(devnull), redirect_stderr(devnull):
        status = main(argv)
    if status != 0:
        raise RuntimeError(f"python -m training {' '.join(argv[:2])} exited with {status}")
    return time.perf_counter() - started


def _final(experiment_id: int):
    from webapp.experiments.models import Experiment
    from webapp.experiments.states import FINAL

    row = Experiment.objects.filter(pk=experiment_id).values("status", "test_metrics", "error").first()
    return row if row and row["status"] in FINAL else None


def run_web(job: Job, timeout: float = 600) -> float:
    """Submit through the API and wait for the final status with its test metrics."""
    started = time.perf_counter()
    pk = job.submit()
    row = until(lambda: _final(pk), timeout, f"experiment {pk} to finish", interval=0.05)
    if row["status"] != "succeeded" or not row["test_metrics"]:
        raise RuntimeError(f"experiment {pk} ended {row['status']}: {row['error']}")
    return time.perf_counter() - started


def run_plain(job: Job) -> float:
    """The plain script's work in a warm process (as the worker is): fit with checkpoints, then the test
    metrics, as `python -m training --out` runs it, on the same splits and resolved config."""
    from training import fit
    from training.presets import resolve_config

    config = resolve_config(["quick"], job.config)
    started = time.perf_counter()
    result = fit(config, job.dataset.splits(), checkpoint_dir=tempfile.mkdtemp(dir=job.scratch))
    if not result.test:
        raise RuntimeError("the plain run gave no test metrics")
    return time.perf_counter() - started


def whole_product(quick: bool) -> Result:
    """An experiment through the API, queue, worker, database, live stream and checkpoints against the
    same fit run plainly in a warm process: submit to final metric (target 1.10)."""
    images, epochs, rounds = (48, 1, 1) if quick else (800, 3, 4)
    scratch = Path(tempfile.mkdtemp(prefix="trainyard-bench-product-"))
    job = Job(scratch, images, {"epochs": epochs, "batch_size": 16 if quick else 64})
    with worker(scratch):  # the first round warms the worker up (its first task imports more) and is dropped
        plain, web = alternate(lambda: run_plain(job), lambda: run_web(job), rounds)
    notes = [
        f"{len(job.dataset.splits(local=False).train)} training images, {epochs} epochs of the quick preset; "
        "both sides warm (`python -m training` adds starting Python and torch, seconds, to the plain side)"
    ]
    return compare(
        "whole_product",
        Figure("plain fit (checkpoints, test), warm", "s", plain),
        Figure("web: submit to final metric", "s", web),
        1.10,
        notes,
    )


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def submit_latency(quick: bool) -> Result:
    """Submit (the API's POST) to task start (the worker's claim) on local Redis: p50, p95 (target 100 ms)."""
    from webapp.experiments.models import Experiment

    samples = 3 if quick else 20
    scratch = Path(tempfile.mkdtemp(prefix="trainyard-bench-latency-"))
    job = Job(scratch, 32, {"epochs": 1, "batch_size": 8})
    latencies, answers = [], []
    with worker(scratch):
        run_web(job)  # warm-up: the worker's first task imports and loads more than the next ones
        for _ in range(samples):
            submitted = time.time()
            pk = job.submit()
            answers.append((time.time() - submitted) * 1000)
            until(lambda pk=pk: _final(pk), 300, f"experiment {pk} to finish", interval=0.05)
            started = Experiment.objects.get(pk=pk).started_at.timestamp()
            latencies.append((started - submitted) * 1000)
    p95 = _percentile(latencies, 0.95)
    # The worker may claim the row before the POST has answered (the task is sent at commit): not a sum.
    figures = [Figure("submit to task start", "ms", latencies), Figure("the POST's answer", "ms", answers)]
    result = Result("submit_latency", figures, ratio=p95 / 100, target=1.0)
    result.extra = {"submit_p50_ms": _percentile(latencies, 0.5), "submit_p95_ms": p95}
    result.notes.append(f"submit to task start: p50 {result.extra['submit_p50_ms']:.1f} ms, p95 {p95:.1f} ms")
    result.notes.append("ratio: p95 over the 100 ms target")
    if LAST_WATCHERS:
        result.extra.update(LAST_WATCHERS)
        result.notes.append(
            "epoch end to websocket client (from `watchers`, 100 clients): p50 {:.1f} ms, p95 {:.1f} ms "
            "(target p95 50 ms)".format(LAST_WATCHERS["latency_p50_ms"], LAST_WATCHERS["latency_p95_ms"])
        )
    else:
        result.notes.append("epoch end to websocket client: run `watchers` in the same run to see it")
    return result


def run_sweep(job: Job, trials: list[float], timeout: float = 900) -> float:
    from webapp.sweeps.models import Sweep, SweepStatus

    body = {
        "name": "bench sweep",
        "dataset": job.dataset.pk,
        "presets": ["quick"],
        "config": job.config,
        "space": {"lr": trials},
        "method": "grid",
        "objective": "val_acc",
        "pruner": "none",
        "max_trials": len(trials),
        "parallelism": 1,
    }
    started = time.perf_counter()
    pk = job.post("/api/sweeps/", body)["id"]
    until(lambda: Sweep.objects.filter(pk=pk, status=SweepStatus.FINISHED).exists(), timeout, "the sweep", 0.05)
    seconds = time.perf_counter() - started
    done = Sweep.objects.get(pk=pk).trials.filter(experiment__status="succeeded").count()
    if done != len(trials):
        raise RuntimeError(f"the sweep finished with {done} of {len(trials)} trials succeeded")
    return seconds


def search_throughput(quick: bool) -> Result:
    """A grid sweep of tiny trials through the API (parallelism 1) against `python -m training sweep` (run
    warm, in this process) running the same trials one after another: trials per hour (target 1.10)."""
    trials = [0.001, 0.003] if quick else [0.0005, 0.001, 0.002, 0.004]
    images, epochs, rounds = (48, 1, 1) if quick else (400, 2, 3)
    scratch = Path(tempfile.mkdtemp(prefix="trainyard-bench-sweep-"))
    job = Job(scratch, images, {"epochs": epochs, "batch_size": 16 if quick else 32})
    space = scratch / "space.json"
    space.write_text(json.dumps({"lr": trials}))
    args = ["sweep", "--space", str(space), "--method", "grid", "--pruner", "none", "--trials", str(len(trials))]
    with worker(scratch):
        cli, web = alternate(lambda: run_command_line(job.cli(*args)), lambda: run_sweep(job, trials), rounds)
    per_hour = lambda seconds: [len(trials) * 3600 / s for s in seconds]  # noqa: E731
    result = compare(
        "search_throughput",
        Figure("python -m training sweep (warm)", "trials/h", per_hour(cli)),
        Figure("web sweep, parallelism 1", "trials/h", per_hour(web)),
        1.10,
    )
    result.ratio = result.figures[0].median / result.figures[1].median  # the command line's rate over the web's
    result.notes.append(
        f"{len(trials)} trials of {epochs} epochs on {images} images; ratio: the command line's trials "
        "per hour over the web's"
    )
    return result
