"""A run watched by 0 and by 100 websocket clients on the same host: epoch-time ratio, and the
latency from an epoch's end to a client's receive. The server is a real Daphne process, the clients
real websockets in a process of their own (browsers would be elsewhere; this host pays for them
anyway), the run a real `fit` streaming through the recorder's `LiveSender`."""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import statistics
import time
from functools import partial

from django.conf import settings
from django.test import Client

from training import fit
from training.bench import Figure, Result, alternate
from training.bench.workload import dataset, parity_config
from training.callbacks import Throttled
from webapp.core.bench.database import team_with_user
from webapp.core.bench.product import LAST_WATCHERS
from webapp.experiments import live

WATCHERS = 100
EPOCH, STATUS = '{"type": "epoch"', '{"type": "status"'  # how live.event's JSON text begins


def _application():
    from channels.routing import get_default_application

    return get_default_application()


def start_server():
    """Daphne on a free port, forked from this process (so it shares the scratch database)."""
    from daphne.testing import DaphneProcess

    class FreshDaphneProcess(DaphneProcess):
        def run(self) -> None:  # threads and connections do not survive the fork: start clean
            from concurrent.futures import ThreadPoolExecutor

            from asgiref.sync import SyncToAsync
            from channels.layers import channel_layers

            SyncToAsync.single_thread_executor = ThreadPoolExecutor(max_workers=1)
            channel_layers.backends.clear()
            super().run()

    server = FreshDaphneProcess("127.0.0.1", partial(_application))
    server.start()
    if not server.ready.wait(timeout=120):
        server.terminate()
        raise RuntimeError("the Daphne server did not start")
    return server


async def _watch(url: str, sessions: list[str], opened, out) -> None:
    import websockets

    cookie = settings.SESSION_COOKIE_NAME
    sockets = await asyncio.gather(
        *(
            websockets.connect(url, additional_headers={"Cookie": f"{cookie}={s}", "Origin": "http://localhost"})
            for s in sessions
        )
    )
    opened.set()
    connected = time.process_time()

    async def listen(socket) -> list[tuple[int, float]]:
        received = []
        async for frame in socket:  # minimal parsing: only epochs and the end are decoded
            if frame.startswith(EPOCH):
                received.append((json.loads(frame)["metrics"]["epoch"], time.time()))
            elif frame.startswith(STATUS) and '"bench-done"' in frame:
                break
        await socket.close()
        return received

    received = await asyncio.gather(*(listen(s) for s in sockets))
    out.put((received, time.process_time() - connected))  # and the CPU the clients used: they share the run's cores


def _watchers_process(url: str, sessions: list[str], opened, out) -> None:
    asyncio.run(_watch(url, sessions, opened, out))


class Streaming(Throttled):
    """Streams as the worker's recorder does (progress at `live.PROGRESS_PER_SECOND`, every epoch), noting
    when each epoch was sent."""

    def __init__(self, experiment_id: int) -> None:
        super().__init__(live.PROGRESS_PER_SECOND)
        self.sender = live.LiveSender(experiment_id)
        self.sent_at: dict[int, float] = {}

    def on_batch_end(self, progress) -> None:
        if self.due(progress):
            self.sender.post("progress", live.progress_payload(progress.epoch, progress.batch, progress.batches, 0.5))

    def on_epoch_end(self, metrics) -> None:
        self.sent_at[metrics.epoch] = time.time()
        self.sender.post("epoch", {"metrics": metrics.to_dict()})

    def finish(self) -> None:
        self.sender.post("status", {"status": "bench-done"})
        self.sender.close()


def watchers(quick: bool) -> Result:
    count, epochs, rounds = (10, 3, 1) if quick else (WATCHERS, 4, 3)
    team, user, dataset_row = team_with_user("Watchers")
    from webapp.experiments.models import Experiment

    experiment = Experiment.objects.create(team=team, owner=user, dataset=dataset_row, name="watched", config={})
    sessions = []
    for _ in range(count):
        client = Client()
        client.force_login(user)
        sessions.append(client.cookies[settings.SESSION_COOKIE_NAME].value)
    data = dataset(80 if quick else 800)
    config = parity_config(32, epochs=epochs)
    server = start_server()
    url = f"ws://127.0.0.1:{server.port.value}/ws/experiments/{experiment.pk}/"
    latencies: list[float] = []
    client_cpu: list[tuple[float, float]] = []  # (CPU seconds of the client process, seconds of training)
    try:

        def run(watched: bool) -> float:
            streaming = Streaming(experiment.pk)
            clients = None
            if watched:
                opened, out = multiprocessing.Event(), multiprocessing.Queue()
                clients = multiprocessing.Process(target=_watchers_process, args=(url, sessions, opened, out))
                clients.start()
                if not opened.wait(timeout=300):
                    raise RuntimeError("the websocket clients did not connect")
            result = fit(config, data, [streaming])
            streaming.finish()
            if clients is not None:
                received, cpu = out.get(timeout=300)
                client_cpu.append((cpu, sum(m.seconds for m in result.history)))
                clients.join()
                _check_delivery(received, epochs)
                latencies.extend(at - streaming.sent_at[e] for one in received for e, at in one)
            return statistics.median(m.seconds for m in result.history[1:] or result.history)

        alone, watched = alternate(lambda: run(False), lambda: run(True), rounds)
    finally:
        server.terminate()
        server.join()
    result = Result(
        "watchers",
        [
            Figure("epoch, 0 watchers", "s", alone),
            Figure(f"epoch, {count} watchers", "s", watched),
            Figure("epoch end to websocket client", "ms", [x * 1000 for x in latencies]),
        ],
        ratio=statistics.median(watched) / statistics.median(alone),
        target=1.10,
    )
    ordered = sorted(latencies)
    if ordered:
        p50, p95 = ordered[len(ordered) // 2], ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
        result.notes.append(f"epoch end to client: p50 {p50 * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms (target p95 50 ms)")
        result.extra = {"latency_p50_ms": p50 * 1000, "latency_p95_ms": p95 * 1000}
        LAST_WATCHERS.update(result.extra)
    result.notes.append(f"every one of {count} clients received every epoch exactly once")
    if client_cpu:
        cpu, trained = (sum(x) for x in zip(*client_cpu, strict=True))
        result.notes.append(
            f"the clients' process used {cpu:.2f} s of CPU (after connecting) while the watched runs trained "
            f"{trained:.1f} s ({100 * cpu / trained:.0f}% of one core)"
        )
        result.extra["client_cpu_share"] = cpu / trained
    return result


def _check_delivery(received: list[list[tuple[int, float]]], epochs: int) -> None:
    for one in received:
        got = [e for e, _ in one]
        if got != list(range(1, epochs + 1)):
            raise RuntimeError(f"a client received epochs {got}, not 1..{epochs} once each")
