"""Object storage (S3, a real SeaweedFS server started by the tests): datasets, checkpoints, final models
and exports travel through it, so a worker on any host can process, run or resume any of them, with no
folder shared with the web server or another worker. Each worker process gets its own data, checkpoint,
dataset-cache and media folders; a host's folder is removed to prove nothing came from it."""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import torch
from django.urls import reverse

from tests.helpers import TINY_CONFIG, Worker, created_id, finished, post_upload, wait_until
from tests.images import class_entries, zip_bytes
from tests.test_reliability_workers import FAST_LEASES, LONG, cut_to, fresh, trained_once_each, wait_checkpoint
from training.export import EXPORTS
from webapp.core.queues import Queue
from webapp.datasets import cache
from webapp.datasets.models import Dataset, DatasetStatus
from webapp.experiments.files import checkpoint_dir
from webapp.experiments.models import Experiment
from webapp.experiments.states import Status
from webapp.experiments.tasks import enqueue, run_experiment

pytestmark = pytest.mark.deployment  # CI runs these in the services pass (PostgreSQL, Redis), as deployed

ROOT = Path(__file__).resolve().parent.parent


# --- settings ------------------------------------------------------------------------------------------
def storage_settings(tmp_path, **env) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith("TRAINYARD_S3_")}
    base.update({"TRAINYARD_DATA_DIR": str(tmp_path / "data"), "DJANGO_SETTINGS_MODULE": "webapp.settings", **env})
    code = (
        "import django; django.setup(); from django.core.files.storage import storages; d = storages['default']; "
        "print(type(d).__name__, getattr(d, 'bucket_name', '-'), getattr(d, 'addressing_style', '-'))"
    )
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=base, capture_output=True, text=True)


def test_without_a_bucket_files_stay_on_the_local_file_system(tmp_path):
    proc = storage_settings(tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["FileSystemStorage", "-", "-"]


def test_with_a_bucket_the_default_storage_is_s3_with_path_style_addressing(tmp_path):
    secret = "a-secret-that-never-shows"
    proc = storage_settings(
        tmp_path,
        TRAINYARD_S3_BUCKET="trainyard",
        TRAINYARD_S3_ENDPOINT_URL="http://store.internal:8333",
        TRAINYARD_S3_ACCESS_KEY_ID="key",
        TRAINYARD_S3_SECRET_ACCESS_KEY=secret,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["S3Storage", "trainyard", "path"]
    assert secret not in proc.stdout + proc.stderr


@pytest.mark.parametrize(
    "env, message",
    [
        ({}, "TRAINYARD_S3_ENDPOINT_URL, TRAINYARD_S3_ACCESS_KEY_ID, TRAINYARD_S3_SECRET_ACCESS_KEY must be set too"),
        (
            {"TRAINYARD_S3_ENDPOINT_URL": "http://s3:8333", "TRAINYARD_S3_ACCESS_KEY_ID": "k"},
            "so TRAINYARD_S3_SECRET_ACCESS_KEY must be set too",
        ),
        (
            {
                "TRAINYARD_S3_ENDPOINT_URL": "s3:8333",
                "TRAINYARD_S3_ACCESS_KEY_ID": "k",
                "TRAINYARD_S3_SECRET_ACCESS_KEY": "hidden-value",
            },
            "TRAINYARD_S3_ENDPOINT_URL='s3:8333' must start with http:// or https://",
        ),
        ({"TRAINYARD_CHECKPOINT_UPLOAD_EVERY": "0"}, "TRAINYARD_CHECKPOINT_UPLOAD_EVERY=0 must be at least 1"),
    ],
)
def test_an_incomplete_object_storage_setting_fails_at_start_naming_what_is_missing(tmp_path, env, message):
    bucket = {} if "TRAINYARD_CHECKPOINT_UPLOAD_EVERY" in env else {"TRAINYARD_S3_BUCKET": "trainyard"}
    proc = storage_settings(tmp_path, **bucket, **env)
    assert proc.returncode != 0
    assert "ImproperlyConfigured" in proc.stderr and message in proc.stderr, proc.stderr
    assert "hidden-value" not in proc.stderr


# --- helpers -----------------------------------------------------------------------------------------------
def host_env(folder: Path, s3: dict) -> dict[str, str]:
    """A host of its own: every local folder under `folder`, files shared only through the bucket."""
    return {
        **s3,
        "TRAINYARD_DATA_DIR": str(folder),
        "TRAINYARD_CHECKPOINT_DIR": str(folder / "checkpoints"),
        "TRAINYARD_DATASET_CACHE_DIR": str(folder / "dataset-cache"),
        "MEDIA_ROOT": str(folder / "media"),
    }


@pytest.fixture
def start_host(django_db_setup, tmp_path, own_queues, s3_env):
    """Start a worker process on a host of its own (name -> its folder); every one is stopped at the end."""
    from django.db import connection

    started: list[Worker] = []

    def start(name: str, queues: str = "gpu,cpu") -> Worker:
        folder = tmp_path / name
        worker = Worker(
            connection.settings_dict, tmp_path, queues=queues, env={**FAST_LEASES, **host_env(folder, s3_env)}
        )
        worker.folder = folder
        started.append(worker)
        worker.wait_ready()
        return worker

    yield start
    for worker in started:
        with contextlib.suppress(Exception):
            worker.stop()


def bucket_keys(s3_server, s3_env, prefix: str = "") -> list[str]:
    return s3_server.keys(s3_env["TRAINYARD_S3_BUCKET"], prefix)


def stored_epoch(s3_server, s3_env, experiment_id: int) -> int:
    body = s3_server.client().get_object(
        Bucket=s3_env["TRAINYARD_S3_BUCKET"], Key=f"experiments/{experiment_id}/last.pt"
    )
    return int(torch.load(io.BytesIO(body["Body"].read()), weights_only=True)["epoch"])


def uploaded_dataset(client, owner, name: str) -> Dataset:
    """A dataset uploaded through the web and processed here (the web host, as the dataset worker would):
    its images are in the bucket only."""
    from webapp.datasets.tasks import process_dataset

    client.force_login(owner)
    pk = created_id(post_upload(client, owner.teams.first(), zip_bytes(class_entries(3, 12, size=(16, 16))), name=name))
    process_dataset.apply(args=[pk])  # its message went to this test's own datasets queue, which no worker reads
    dataset = Dataset.objects.get(pk=pk)
    assert dataset.status == DatasetStatus.READY and not dataset.in_place, dataset.error
    return dataset


def experiment_on(dataset: Dataset, owner, **config) -> Experiment:
    from training import TrainConfig

    return Experiment.objects.create(
        team=dataset.team,
        owner=owner,
        dataset=dataset,
        name="stored run",
        config=TrainConfig.from_dict({**TINY_CONFIG, **config}).to_dict(),
        queue=Queue.CPU,
    )


# --- datasets ------------------------------------------------------------------------------------------
@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_an_upload_is_processed_by_a_worker_that_shares_no_folder_with_the_web(
    client,
    owner,
    team,
    start_host,
    s3_server,
    s3_env,
):
    from django.conf import settings

    def web_media_files() -> list[Path]:
        return sorted(p for p in Path(settings.MEDIA_ROOT).rglob("*") if p.is_file())

    media_before = web_media_files()
    worker = start_host("dataset-host", queues="datasets")
    client.force_login(owner)
    pk = created_id(post_upload(client, team, zip_bytes(class_entries(3, 10, size=(16, 16))), name="Remote"))
    assert any(k.startswith("datasets/uploads/") for k in bucket_keys(s3_server, s3_env))  # straight to the bucket
    dataset = wait_until(
        lambda: (d := Dataset.objects.filter(pk=pk).first()) is not None and not d.is_processing and d,
        120,
        message=lambda: f"processing to end; worker log:\n{worker.read_log()[-3000:]}",
    )
    assert dataset.status == DatasetStatus.READY, (dataset.error, worker.read_log()[-3000:])
    keys = bucket_keys(s3_server, s3_env)
    assert f"datasets/content/{dataset.content_hash}/images.zip" in keys
    assert any(k.startswith(f"datasets/content/{dataset.content_hash}/samples/") for k in keys)
    assert not any(k.startswith("datasets/uploads/") for k in keys)  # the worker deleted the upload
    assert web_media_files() == media_before  # nothing written on the web's disk
    assert not (Path(settings.DATASET_CACHE_DIR) / dataset.content_hash).exists()
    # The page's sample thumbnails come from the bucket; the web extracts the images when it needs them.
    page = client.get(reverse("dataset_detail", args=[pk]))
    assert page.status_code == 200
    assert len(dataset.splits().train) == 18 and Path(dataset.splits().train[0][0]).is_file()


@pytest.mark.django_db(transaction=True)
def test_a_stored_datasets_images_download_as_one_streamed_zip_for_its_team_only(client, owner, outsider, s3_env):
    dataset = uploaded_dataset(client, owner, "Zip me")
    url = reverse("dataset_archive", args=[dataset.pk])
    assert url in client.get(reverse("dataset_detail", args=[dataset.pk])).content.decode()
    response = client.get(url)
    assert response.status_code == 200 and response.streaming
    assert 'filename="zip-me-v1.zip"' in response["Content-Disposition"]
    with zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content))) as zf:
        assert len([n for n in zf.namelist() if n.endswith(".png")]) == 36
    client.force_login(outsider)
    assert client.get(url).status_code == 404


# --- checkpoints that travel --------------------------------------------------------------------------------
@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_run_killed_on_one_host_resumes_on_another_from_the_stored_checkpoint(
    client, owner, start_host, s3_server, s3_env
):
    experiment = experiment_on(uploaded_dataset(client, owner, "Travels"), owner, epochs=LONG)
    first = start_host("host-a")
    enqueue(experiment)
    wait_checkpoint(experiment)
    first.proc.kill()  # kill -9 on host A
    first.proc.wait()
    experiment = fresh(experiment)
    k = experiment.checkpoint_epoch
    assert k >= 1 and stored_epoch(s3_server, s3_env, experiment.pk) >= k  # the row never claims more than is stored
    shutil.rmtree(first.folder)  # host A is gone, with its disk
    cut_to(experiment, k + 2)

    second = start_host("host-b")
    experiment = finished(experiment)
    assert experiment.status == Status.SUCCEEDED, (experiment.error, second.read_log()[-3000:])
    assert experiment.restarts == 1 and experiment.worker == second.name
    assert f"resuming after epoch {k}" in experiment.log
    trained_once_each(experiment)
    assert stored_epoch(s3_server, s3_env, experiment.pk) == k + 2 == experiment.checkpoint_epoch
    assert f"experiments/{experiment.pk}/model.pt" in bucket_keys(s3_server, s3_env)
    assert (second.folder / "dataset-cache" / experiment.dataset.content_hash).is_dir()  # B fetched the images


# --- downloads from storage alone ---------------------------------------------------------------------------
@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_exports_and_the_final_model_download_when_the_files_live_only_in_storage(
    client,
    upload,
    owner,
    viewer,
    outsider,
    start_host,
    s3_server,
    s3_env,
):
    from webapp.experiments.predict import Predictor

    experiment = experiment_on(uploaded_dataset(client, owner, "Exports"), owner, epochs=2)
    worker = start_host("gpu-host")
    enqueue(experiment)
    experiment = finished(experiment)
    assert experiment.status == Status.SUCCEEDED, (experiment.error, worker.read_log()[-3000:])
    worker.stop()
    shutil.rmtree(worker.folder)  # the worker's host and disk are gone
    assert not checkpoint_dir(experiment.pk).exists()  # and the web never had the files

    client.force_login(outsider)
    assert client.get(reverse("experiment_download", args=[experiment.pk, "weights"])).status_code == 404
    client.force_login(viewer)
    page = client.get(experiment.get_absolute_url()).content.decode()
    for name in EXPORTS.names():
        url = reverse("experiment_download", args=[experiment.pk, name])
        assert url in page
        response = client.get(url)
        assert response.status_code == 200 and response.streaming, name
        body = b"".join(response.streaming_content)
        assert len(body) > 0 and EXPORTS.get(name).filename in response["Content-Disposition"]
        if name == "weights":
            state = torch.load(io.BytesIO(body), weights_only=True)
            assert any(isinstance(v, torch.Tensor) for v in state.values())
    keys = bucket_keys(s3_server, s3_env, f"experiments/{experiment.pk}/")
    assert {f"experiments/{experiment.pk}/exports/{EXPORTS.get(n).filename}" for n in EXPORTS.names()} <= set(keys)
    model = checkpoint_dir(experiment.pk) / "model.pt"  # downloaded once to build the exports
    assert Predictor.load(model).classes == ["class_0", "class_1", "class_2"]

    cache.forget(experiment.dataset.content_hash)  # the web extracts the images again to show a test image
    image = client.get(reverse("experiment_test_image", args=[experiment.pk, 0]))
    assert image.status_code == 200 and image["Content-Type"] == "image/png"

    shutil.rmtree(checkpoint_dir(experiment.pk))  # served from the bucket, not rebuilt
    response = client.get(reverse("api_experiment_export", args=[experiment.pk, "onnx"]))
    assert response.status_code == 200 and len(b"".join(response.streaming_content)) > 0
    assert not (checkpoint_dir(experiment.pk) / "exports").exists()

    Experiment.objects.get(pk=experiment.pk).delete()  # deleting the run deletes its objects
    assert bucket_keys(s3_server, s3_env, f"experiments/{experiment.pk}/") == []


# --- in this process: the worker's side of the task, with the bucket as storage ------------------------------
@pytest.mark.django_db(transaction=True)
def test_training_longer_and_starting_from_a_run_load_its_files_from_storage(
    make_experiment, own_queues, s3_server, s3_env
):
    from webapp.experiments import actions
    from webapp.experiments.tasks import _fit_keywords

    parent = make_experiment(epochs=2)
    assert run_experiment.apply(args=[parent.pk]).get() == Status.SUCCEEDED
    prefix = f"experiments/{parent.pk}/"
    assert bucket_keys(s3_server, s3_env, prefix) == [f"{prefix}last.pt", f"{prefix}model.pt"]
    assert stored_epoch(s3_server, s3_env, parent.pk) == fresh(parent).checkpoint_epoch == 2
    child = make_experiment(epochs=1)
    Experiment.objects.filter(pk=child.pk).delete()  # made again through the action, with init_from
    child.pk, child.init_from = None, fresh(parent)
    child = actions.create(child)

    shutil.rmtree(checkpoint_dir(parent.pk))  # another host: nothing of the parent on its disk
    parent = fresh(parent)
    assert parent.requeue(extra_epochs=1)
    assert run_experiment.apply(args=[parent.pk]).get() == Status.SUCCEEDED
    parent = fresh(parent)
    assert "resuming after epoch 2" in parent.log and parent.checkpoint_epoch == 3
    assert f"{prefix}model-epoch2.pt" in bucket_keys(s3_server, s3_env, prefix)  # kept for the child

    shutil.rmtree(checkpoint_dir(parent.pk))
    start = _fit_keywords(fresh(child))["init_from"]
    assert start.is_file() and torch.load(start, weights_only=True)["epoch"] == 2  # downloaded, the kept one
    assert run_experiment.apply(args=[child.pk]).get() == Status.SUCCEEDED


@pytest.mark.django_db(transaction=True)
def test_a_stored_checkpoint_missing_from_storage_fails_the_resume_with_a_clear_message(
    make_experiment, own_queues, s3_env
):
    experiment = make_experiment(epochs=3)
    Experiment.objects.filter(pk=experiment.pk).update(checkpoint_epoch=1)
    assert run_experiment.apply(args=[experiment.pk]).get() == Status.FAILED
    error = fresh(experiment).error
    assert "The checkpoint of epoch 1 in storage is missing" in error and "Clone the experiment" in error


@pytest.mark.django_db(transaction=True)
def test_the_row_names_only_a_stored_epoch_when_checkpoints_upload_every_second_epoch(
    make_experiment, settings, s3_server, s3_env
):
    from webapp.experiments.recorder import ExperimentRecorder

    settings.TRAINYARD_CHECKPOINT_UPLOAD_EVERY = 2
    experiment = make_experiment(epochs=4)
    recorder = ExperimentRecorder(experiment)
    local = checkpoint_dir(experiment.pk) / "last.pt"
    local.parent.mkdir(parents=True)
    try:
        for epoch, stored in [(1, None), (2, 2), (3, 2)]:
            torch.save({"epoch": epoch}, local)
            recorder.on_checkpoint(str(local), epoch)
            recorder.wait_uploads()  # they run on a thread of their own
            assert fresh(experiment).checkpoint_epoch == stored
            if stored is not None:
                assert stored_epoch(s3_server, s3_env, experiment.pk) == stored
    finally:
        recorder.close()


@pytest.mark.django_db(transaction=True)
def test_a_run_ending_between_uploads_stores_its_last_checkpoint(
    make_experiment, settings, own_queues, s3_server, s3_env
):
    settings.TRAINYARD_CHECKPOINT_UPLOAD_EVERY = 2
    experiment = make_experiment(epochs=3)
    assert run_experiment.apply(args=[experiment.pk]).get() == Status.SUCCEEDED
    assert fresh(experiment).checkpoint_epoch == 3 == stored_epoch(s3_server, s3_env, experiment.pk)


@pytest.mark.django_db(transaction=True)
def test_prune_orphans_deletes_the_stored_files_of_experiments_that_are_gone(make_experiment, s3_server, s3_env):
    from django.core.management import call_command

    kept = make_experiment()
    client, bucket = s3_server.client(), s3_env["TRAINYARD_S3_BUCKET"]
    gone = Experiment.objects.order_by("-pk").first().pk + 1000
    for pk in (kept.pk, gone):
        client.put_object(Bucket=bucket, Key=f"experiments/{pk}/last.pt", Body=b"checkpoint")
        client.put_object(Bucket=bucket, Key=f"experiments/{pk}/exports/model.onnx", Body=b"onnx")
    out = io.StringIO()
    call_command("prune_orphans", stdout=out)
    assert "the stored files of 1 deleted experiments" in out.getvalue()
    assert bucket_keys(s3_server, s3_env, "experiments/") == [
        f"experiments/{kept.pk}/exports/model.onnx",
        f"experiments/{kept.pk}/last.pt",
    ]
