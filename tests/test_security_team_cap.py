"""A per-team cap on running experiments (TRAINYARD_TEAM_MAX_RUNNING): a worker that would exceed it
leaves the run queued and looks again later, so one team cannot hold every worker."""

from __future__ import annotations

import pytest

from tests.helpers import Worker, folder_dataset, wait_until
from webapp.core.queues import broker_queue
from webapp.experiments.models import Experiment
from webapp.experiments.states import Status
from webapp.experiments.tasks import run_experiment

CAPPED_QUEUE = "capped-cpu"  # its own queue: the session's uncapped worker never takes these


@pytest.mark.django_db
def test_a_claim_over_the_cap_leaves_the_run_queued(make_experiment):
    running, waiting = make_experiment(), make_experiment()
    assert running.claim_within_team_cap("w1", "w1-lease", cap=1) is True
    assert waiting.claim_within_team_cap("w2", "w2-lease", cap=1) is None
    waiting.refresh_from_db()
    assert waiting.status == Status.QUEUED and waiting.started_at is None
    assert waiting.claim_within_team_cap("w2", "w2-lease", cap=2) is True  # a larger cap, or none, lets it run
    assert make_experiment().claim_within_team_cap("w3", "w3-lease", cap=0) is True


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_two_workers_run_one_experiment_of_a_capped_team_at_a_time(make_experiment, team, other_team, tmp_path):
    from django.db import connection

    workers = [
        Worker(
            connection.settings_dict,
            tmp_path,
            queues=CAPPED_QUEUE,
            TRAINYARD_TEAM_MAX_RUNNING="1",
            TRAINYARD_TEAM_RETRY_SECONDS="1",
        )
        for _ in range(2)
    ]
    try:
        for worker in workers:
            worker.wait_ready()
        capped = [make_experiment(epochs=3), make_experiment(epochs=3)]
        other = Experiment.objects.create(
            team=other_team,
            owner=capped[0].owner,
            dataset=folder_dataset(other_team, "Other data", folder={"classes": 2, "seed": 4}),
            name="other team's run",
            config=capped[0].config,
            queue=capped[0].queue,
        )
        for experiment in [*capped, other]:
            run_experiment.apply_async(args=[experiment.pk], queue=broker_queue(CAPPED_QUEUE))
        most_at_once = 0

        def all_done() -> bool:
            nonlocal most_at_once
            rows = list(Experiment.objects.filter(team=team).values_list("status", flat=True))
            most_at_once = max(most_at_once, rows.count(Status.RUNNING))
            everyone = Experiment.objects.filter(pk__in=[e.pk for e in [*capped, other]])
            return all(s == Status.SUCCEEDED for s in everyone.values_list("status", flat=True))

        wait_until(all_done, 600, interval=0.05, message=lambda: "\n".join(w.read_log()[-3000:] for w in workers))
        assert most_at_once == 1
        logs = "".join(w.read_log() for w in workers)
        assert "Retry in 1s" in logs  # one of the team's runs waited for the other
    finally:
        for worker in workers:
            worker.stop()
