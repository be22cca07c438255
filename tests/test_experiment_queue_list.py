"""The dashboard's queue at scale: the next 20 queued runs in queue order, the heading counting all, and a
link to the rest (the list filtered by status); the history page is cut from ids, then its rows loaded."""

from __future__ import annotations

import re

import pytest

from tests.helpers import TINY_CONFIG
from webapp.experiments.models import Experiment
from webapp.experiments.states import Status
from webapp.experiments.views import QUEUE_SHOWN

pytestmark = pytest.mark.django_db


def test_the_dashboard_shows_the_next_runs_of_a_long_queue_and_counts_them_all(client, owner, tiny_dataset):
    rows = Experiment.objects.bulk_create(
        Experiment(team=tiny_dataset.team, owner=owner, dataset=tiny_dataset, name=f"q{i}", config=TINY_CONFIG)
        for i in range(QUEUE_SHOWN + 5)
    )
    assert all(r.status == Status.QUEUED for r in Experiment.objects.filter(pk__in=[r.pk for r in rows]))
    client.force_login(owner)
    html = client.get("/").content.decode()
    queue = html[html.index('id="queued-list"') : html.index('id="history-list"')]
    assert re.search(rf'class="count">{QUEUE_SHOWN + 5}<', queue)
    positions = [int(p) for p in re.findall(r"data-position>(\d+)", queue)]
    assert positions == list(range(1, QUEUE_SHOWN + 1))  # the next ones, in queue order
    assert f"all {QUEUE_SHOWN + 5} queued" in queue and "?status=queued" in queue
    api = client.get("/api/experiments/?status=queued&page_size=10").json()
    assert api["count"] == QUEUE_SHOWN + 5 and len(api["results"]) == 10
    newest = sorted(rows, key=lambda r: (r.created_at, r.pk), reverse=True)[:10]
    assert [r["id"] for r in api["results"]] == [r.pk for r in newest]  # the page's order survives its second query
