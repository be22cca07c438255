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
from training import checkpoint, pretrained
from training.transfer import load_init_from
from webapp.asgi import application
from webapp.datasets.models import Dataset
from webapp.experiments.models import Experiment
from webapp.experiments.states import Status


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
def test_every_page_and_api_endpoint_hides_another_teams_objects(client, outsider, foreign):
    client.force_login(outsider)
    run, dataset = foreign["run"].pk, foreign["dataset"].pk
    reads = [
        reverse("experiment_detail", args=[run]),
        reverse("experiment_create") + f"?clone={run}",
        reverse("api_experiment_detail", args=[run]),
        reverse("api_experiment_metrics", args=[run]),
        reverse("dataset_detail", args=[dataset]),
        reverse("dataset_augment", args=[dataset]),
        reverse("dataset_sample", args=[dataset, 0, 0]),
        reverse("dataset_upload") + f"?from={dataset}",
        reverse("api_dataset_detail", args=[dataset]),
        reverse("api_dataset_status", args=[dataset]),
        reverse("api_dataset_augment_preview", args=[dataset]),
    ]
    for url in reads:
        assert client.get(url).status_code == 404, url
    writes = [
        reverse(name, args=[run])
        for name in (
            "experiment_cancel",
            "experiment_resume",
            "experiment_extend",
            "api_experiment_cancel",
            "api_experiment_resume",
            "api_experiment_extend",
        )
    ]
    for url in writes:
        assert client.post(url, {"epochs": 5}).status_code == 404, url
    assert Experiment.objects.get(pk=run).status == Status.SUCCEEDED
    listed = [e["id"] for e in client.get(reverse("api_experiment_list")).json()]
    assert run not in listed
    assert dataset not in [d["id"] for d in client.get(reverse("api_dataset_list")).json()]


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
