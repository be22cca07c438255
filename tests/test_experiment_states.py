"""An experiment's states, defined once (webapp/experiments/states.py): what each allows, what each
training outcome becomes, and the pages' scripts getting them from the server instead of literals."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from django.urls import reverse

from training.callbacks import Outcome
from webapp.datasets.models import REJECTED, DatasetStatus
from webapp.experiments import states
from webapp.experiments.models import Experiment
from webapp.experiments.states import EXTENDABLE, FINAL, RESUMABLE, STATUS_OF_OUTCOME, CancelOutcome, Status

pytestmark = pytest.mark.django_db

SCRIPTS = Path(__file__).resolve().parent.parent / "static" / "js"


def test_every_training_outcome_ends_in_a_final_status():
    assert set(STATUS_OF_OUTCOME) == set(Outcome)
    assert set(STATUS_OF_OUTCOME.values()) <= FINAL
    assert STATUS_OF_OUTCOME[Outcome.PRUNED] == Status.PRUNED


def test_every_status_is_either_active_or_final_and_only_final_ones_are_acted_on():
    assert set(Status) == FINAL | states.ACTIVE and not FINAL & states.ACTIVE
    assert RESUMABLE <= FINAL and EXTENDABLE <= FINAL and not RESUMABLE & EXTENDABLE


def test_a_pruned_trial_trains_more_epochs_but_is_not_resumed(client, make_experiment, owner):
    experiment = make_experiment(epochs=4)
    Experiment.objects.filter(pk=experiment.pk).update(status=Status.PRUNED, checkpoint_epoch=2)
    client.force_login(owner)
    response = client.post(reverse("experiment_resume", args=[experiment.pk]), follow=True)
    assert "Only a cancelled or failed experiment can be resumed" in response.content.decode()
    experiment.refresh_from_db()
    assert experiment.status == Status.PRUNED

    response = client.post(reverse("experiment_extend", args=[experiment.pk]), {"epochs": 2}, follow=True)
    assert "from epoch 3 to 6" in response.content.decode()
    experiment.refresh_from_db()
    assert experiment.status == Status.QUEUED and experiment.epochs == 6


def test_the_api_cancel_says_what_it_did(client, make_experiment, owner):
    queued, running = make_experiment(), make_experiment()
    Experiment.objects.filter(pk=running.pk).update(status=Status.RUNNING)
    client.force_login(owner)
    answer = client.post(reverse("api_experiment_cancel", args=[queued.pk])).json()
    assert answer["outcome"] == CancelOutcome.CANCELLED and answer["status"] == Status.CANCELLED
    answer = client.post(reverse("api_experiment_cancel", args=[running.pk])).json()
    assert answer["outcome"] == CancelOutcome.STOPPING and answer["cancel_requested"] is True


def test_the_live_page_gets_the_states_and_the_experiment_from_the_server(client, make_experiment, owner):
    experiment = make_experiment()
    client.force_login(owner)
    response = client.get(experiment.get_absolute_url())
    html = response.content.decode()
    data = json.loads(re.search(r'<script id="experiment-data" type="application/json">(.*?)</script>', html)[1])
    assert data["states"] == json.loads(json.dumps(states.for_pages()))
    assert data["experiment"] == experiment.summary_dict()
    assert data["metrics_url"] == reverse("api_experiment_metrics", args=[experiment.pk])
    # The action buttons name a set, which the script looks up in the states it was given.
    shown_when = set(re.findall(r'data-show-when="([^"]+)"', html))
    assert shown_when == {"active", "resumable", "extendable"} and shown_when <= set(data["states"])


@pytest.mark.parametrize("script", sorted(p.name for p in SCRIPTS.glob("*.js")))
def test_no_script_spells_out_a_status(script):
    text = (SCRIPTS / script).read_text()
    for status in [*Status.values, *DatasetStatus.values, REJECTED]:
        assert f'"{status}"' not in text and f"'{status}'" not in text, f"{script} spells out {status!r}"
