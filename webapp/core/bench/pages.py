"""Pages at scale: server time and query count of the experiments list (dashboard and API) at a small
and a large number of experiments, and of an experiment page with a long history."""

from __future__ import annotations

import time

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from training.bench import Figure, Result
from webapp.core.bench.database import add_epochs, add_experiments, team_with_user


def _timed(client: Client, url: str, rounds: int) -> tuple[list[float], int]:
    """Server time (ms) of `rounds` GETs after one warm-up, and the queries one GET makes."""
    client.get(url)
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise RuntimeError(f"GET {url} answered {response.status_code}")
    with CaptureQueriesContext(connection) as queries:
        client.get(url)
    return times, len(queries)


def pages(quick: bool) -> Result:
    small, large = (10, 200) if quick else (100, 10_000)
    epochs = 50 if quick else 1000
    rounds = 2 if quick else 5
    result = Result("pages")
    team, user, dataset = team_with_user()
    client = Client()
    client.force_login(user)
    measured: dict[str, dict[int, float]] = {}
    add_experiments(team, user, dataset, small)
    for count in (small, large):
        if count == large:
            add_experiments(team, user, dataset, large - small)
        for label, url in (("dashboard /", "/"), ("API /api/experiments/", "/api/experiments/")):
            times, queries = _timed(client, url, rounds)
            result.figures.append(Figure(f"{label} at {count:,} experiments", "ms", times))
            result.notes.append(f"{label} at {count:,} experiments: {queries} queries")
            measured.setdefault(label, {})[count] = result.figures[-1].median
    experiment = team.experiments.order_by("pk").first()
    add_epochs(experiment, epochs)
    times, queries = _timed(client, f"/experiments/{experiment.pk}/", rounds)
    result.figures.append(Figure(f"experiment page, {epochs:,} epochs", "ms", times))
    result.notes.append(f"experiment page with {epochs:,} epochs: {queries} queries")
    ratios = {label: m[large] / m[small] for label, m in measured.items()}
    result.ratio, result.target = max(ratios.values()), 2.0
    result.notes.append(
        "ratio: the slower list's server time at {:,} over {:,} experiments ({})".format(
            large, small, ", ".join(f"{k} {v:.2f}" for k, v in ratios.items())
        )
    )
    return result
