"""Each attack is tried and refused: a foreign websocket origin, another team's ids in every form and API
field, a checkpoint with a pickle payload. (An oversized body without a session: test_security_bodies.py;
a burst of failed logins: test_security_login.py.)"""

from __future__ import annotations

import pickle

import pytest
import torch
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.urls import reverse

from tests.helpers import experiment_form, session_for, upload_form, ws_communicator
from tests.images import class_entries, zip_bytes
from tests.results_helpers import trained_run
from tests.sweep_helpers import sweep_form, sweep_with_trial
from training import checkpoint, pretrained
from training.transfer import load_init_from
from webapp.asgi import application
from webapp.datasets.models import Dataset
from webapp.experiments.models import Experiment
from webapp.experiments.states import Status
from webapp.sweeps.models import Sweep, SweepStatus


# --- a foreign websocket origin ----------------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("origin", ["http://evil.example", "null", "http://localhost.evil.example"])
async def test_a_websocket_from_another_origin_is_refused_even_with_a_session(make_experiment, owner, origin):
    experiment = await database_sync_to_async(make_experiment)()
    session = await database_sync_to_async(session_for)(owner)
    for communicator in (
        ws_communicator(experiment.pk, session, origin=origin),
        WebsocketCommunicator(
            application,
            "/ws/experiments/",
            headers=[
                (b"origin", origin.encode()),
                (b"host", b"localhost"),
                (b"cookie", f"sessionid={session}".encode()),
            ],
        ),
    ):
        connected, _ = await communicator.connect()
        assert not connected
        await communicator.disconnect()  # let the refusing consumer end, rather than be cancelled at teardown


# --- another team's ids ------------------------------------------------------------------------------
@pytest.fixture
def foreign(make_experiment, tiny_dataset, other_team):
    """A finished run and a dataset of `team`, which the outsider (a member of other_team) must not reach."""
    run = make_experiment()
    Experiment.objects.filter(pk=run.pk).update(status=Status.SUCCEEDED)
    return {"run": run, "dataset": tiny_dataset}


@pytest.fixture
def own_dataset(other_team):
    from tests.helpers import folder_dataset

    return folder_dataset(other_team, "Outsider data", folder={"classes": 2, "seed": 5})


@pytest.mark.django_db
@pytest.mark.parametrize("field", ["dataset", "init_from", "cloned_from"])
def test_the_experiment_form_refuses_another_teams_ids(client, outsider, foreign, own_dataset, field):
    client.force_login(outsider)
    values = {"dataset": foreign["dataset"].pk, "init_from": foreign["run"].pk, "cloned_from": foreign["run"].pk}
    response = client.post(reverse("experiment_create"), {**experiment_form(own_dataset), field: values[field]})
    assert response.status_code == 200
    assert "Select a valid choice" in " ".join(response.context["form"].errors[field])
    assert Experiment.objects.filter(owner=outsider).count() == 0


@pytest.mark.django_db
def test_the_upload_form_and_api_refuse_another_teams_id(client, outsider, team):
    client.force_login(outsider)
    archive = zip_bytes(class_entries(classes=2, per_class=5))
    response = client.post(reverse("dataset_upload"), upload_form(team, archive))
    assert response.status_code == 200 and "team" in response.context["form"].errors
    response = client.post(reverse("api_dataset_list"), upload_form(team, archive, name="Via API"))
    assert response.status_code == 400 and "team" in response.json()["errors"]
    assert not Dataset.objects.filter(name__in=["Animals", "Via API"]).exists()


@pytest.mark.django_db
def test_the_sweep_form_estimate_and_api_refuse_another_teams_dataset(client, outsider, foreign, own_dataset):
    client.force_login(outsider)
    form = {**sweep_form(own_dataset, {"lr": [0.01, 0.02]}), "dataset": foreign["dataset"].pk}
    response = client.post(reverse("sweep_create"), form)
    assert response.status_code == 200
    assert "Select a valid choice" in " ".join(response.context["form"].errors["dataset"])
    response = client.post(reverse("sweep_estimate"), form)
    assert response.status_code == 400 and "dataset" in response.json()["errors"]
    body = {"name": "via API", "dataset": foreign["dataset"].pk, "space": {"lr": [0.01, 0.02]}, "max_trials": 2}
    response = client.post(reverse("api_sweep_list"), body, content_type="application/json")
    assert response.status_code == 400 and "dataset" in response.json()["errors"]
    assert not Sweep.objects.filter(owner=outsider).exists()


def foreign_reads(run: int, dataset: int, sweep: int, trial: int) -> list[str]:
    """Every page and API read of another team's run (finished, with its model), dataset and sweep (whose
    trial's run is compared with the first)."""
    return [
        reverse("experiment_detail", args=[run]),
        reverse("experiment_create") + f"?clone={run}",
        reverse("experiment_results", args=[run]),
        reverse("experiment_download", args=[run, "card_json"]),
        reverse("experiment_confusion_images", args=[run]) + "?label=a&predicted=a",
        reverse("experiment_test_image", args=[run, 0]),
        reverse("experiment_compare") + f"?ids={run},{trial}",
        reverse("api_experiment_detail", args=[run]),
        reverse("api_experiment_metrics", args=[run]),
        reverse("api_experiment_exports", args=[run]),
        reverse("api_experiment_export", args=[run, "card_json"]),
        reverse("dataset_detail", args=[dataset]),
        reverse("dataset_augment", args=[dataset]),
        reverse("dataset_sample", args=[dataset, 0, 0]),
        reverse("dataset_upload") + f"?from={dataset}",
        reverse("api_dataset_detail", args=[dataset]),
        reverse("api_dataset_versions", args=[dataset]),
        reverse("api_dataset_status", args=[dataset]),
        reverse("api_dataset_augment_preview", args=[dataset]) + "?preset=light",
        reverse("sweep_detail", args=[sweep]),
        reverse("api_sweep_detail", args=[sweep]),
    ]


def foreign_writes(run: int, sweep: int) -> list[str]:
    experiments = ["experiment_cancel", "experiment_resume", "experiment_extend", "experiment_notes"]
    experiments += ["api_experiment_cancel", "api_experiment_resume", "api_experiment_extend"]
    experiments += ["api_experiment_predict"]
    sweeps = ["sweep_stop", "sweep_resume", "sweep_add_trials", "api_sweep_stop", "api_sweep_resume"]
    sweeps += ["api_sweep_add_trials"]
    return [reverse(name, args=[run]) for name in experiments] + [reverse(name, args=[sweep]) for name in sweeps]


@pytest.mark.django_db
def test_every_page_and_api_endpoint_hides_another_teams_objects(client, owner, outsider, tiny_dataset):
    finished = trained_run(tiny_dataset, owner)
    sweep = sweep_with_trial(owner, tiny_dataset)
    run, dataset = finished.pk, tiny_dataset.pk
    reads = foreign_reads(run, dataset, sweep.pk, sweep.trials.get().experiment_id)
    client.force_login(owner)  # the team sees each of them: the 404s below are the outsider's alone
    seen = {url: client.get(url).status_code for url in reads}
    assert {url: status for url, status in seen.items() if status != 200} == {}
    client.force_login(outsider)
    for url in reads:
        assert client.get(url).status_code == 404, url
    for url in foreign_writes(run, sweep.pk):
        assert client.post(url, {"epochs": 5, "trials": 1, "notes": "mine"}).status_code == 404, url
    assert Experiment.objects.get(pk=run).status == Status.SUCCEEDED
    assert Experiment.objects.get(pk=run).notes == finished.notes
    assert Sweep.objects.get(pk=sweep.pk).status == SweepStatus.RUNNING
    assert Sweep.objects.get(pk=sweep.pk).max_trials == sweep.max_trials
    lists = {"api_experiment_list": run, "api_dataset_list": dataset, "api_sweep_list": sweep.pk}
    for name, pk in lists.items():
        body = client.get(reverse(name)).json()
        rows = body["results"] if isinstance(body, dict) else body  # paginated lists, or a plain one
        assert pk not in [row["id"] for row in rows], name


# --- a checkpoint with a pickle payload --------------------------------------------------------------
class Payload:
    """Unpickling this runs a command that leaves a file behind: the proof that the pickle ran."""

    def __init__(self, marker) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        import os

        return (os.system, (f"touch {self.marker}",))


@pytest.fixture
def poisoned(tmp_path):
    path = tmp_path / "model.pt"
    marker = tmp_path / "pwned"
    torch.save({"model": {}, "config": {"arch": "small_cnn"}, "x": Payload(marker)}, path)
    # A real attack: loaded without weights_only, the file runs its command (here: touches the marker).
    torch.load(path, weights_only=False)
    assert marker.exists()
    marker.unlink()
    return path, marker


def test_every_checkpoint_loader_refuses_a_pickle_payload(poisoned, monkeypatch):
    from training import TrainConfig
    from training.models import create_model

    path, marker = poisoned
    with pytest.raises(pickle.UnpicklingError):
        checkpoint.load(path)
    config = TrainConfig.from_dict({"arch": "small_cnn", "image_size": 16, "epochs": 1})
    with pytest.raises(pickle.UnpicklingError):
        load_init_from(create_model("small_cnn", 2, 16), path, config, ["a", "b"])
    monkeypatch.setattr(pretrained, "weights_file", lambda name: path)
    with pytest.raises(pretrained.PretrainedWeightsMissing):
        pretrained.load_weights("ResNet18_Weights.IMAGENET1K_V1")
    assert not marker.exists()


def test_resuming_from_a_poisoned_checkpoint_refuses_it(poisoned):
    from training import TrainConfig, fit

    path, marker = poisoned
    config = TrainConfig.from_dict({"arch": "small_cnn", "image_size": 12, "epochs": 1, "batch_size": 4})
    with pytest.raises(pickle.UnpicklingError):
        fit(config, None, [], resume_from=path)  # the checkpoint is read first, before any data
    assert not marker.exists()
