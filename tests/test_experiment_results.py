"""A finished run's results on the web: downloads (built on first request, cached, streamed), predictions
on uploaded images (page and API), the confusion gallery and its images, the reproducibility record; and
who may see each (team members and viewers; outsiders get 404, signed-out users nothing)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from tests.helpers import finished
from training.inference import Predictor
from webapp.experiments.files import exports_dir, final_model_path
from webapp.experiments.models import Experiment
from webapp.experiments.states import Status
from webapp.experiments.tasks import enqueue, run_experiment

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def run(make_experiment) -> Experiment:
    """A finished tiny run (the task run here, in this process; the worker test below uses a real worker)."""
    experiment = make_experiment(epochs=1)
    run_experiment.apply(args=[experiment.pk])
    experiment.refresh_from_db()
    assert experiment.status == Status.SUCCEEDED, experiment.error
    return experiment


def png(color=(200, 30, 30), size=(20, 14), fmt="PNG") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format=fmt)
    return buffer.getvalue()


def upload(name: str, data: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="image/png")


# --- downloads ------------------------------------------------------------------------------------
def test_the_onnx_download_is_built_once_and_answers_as_the_checkpoint(client, viewer, run, tiny_dataset):
    client.force_login(viewer)  # read-only members may take the model out
    response = client.get(reverse("experiment_download", args=[run.pk, "onnx"]))
    assert response.status_code == 200 and response.streaming
    assert f'filename="experiment-{run.pk}-model.onnx"' in response["Content-Disposition"]
    onnx = b"".join(response.streaming_content)
    cached = exports_dir(run.pk) / "model.onnx"
    assert cached.read_bytes() == onnx
    built_at = cached.stat().st_mtime_ns
    b"".join(client.get(reverse("experiment_download", args=[run.pk, "onnx"])).streaming_content)
    assert cached.stat().st_mtime_ns == built_at  # served from the cache

    predictor = Predictor.load(final_model_path(run.pk))
    paths = [p for p, _ in tiny_dataset.splits().test]
    x = torch.stack([predictor.read(p) for p in paths])
    session = ort.InferenceSession(onnx, providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(session.run(None, {"images": x.numpy()})[0], predictor.probabilities(x), atol=1e-4)


def test_the_model_card_names_the_data_metrics_and_environment(client, owner, run, tiny_dataset):
    client.force_login(owner)
    response = client.get(reverse("api_experiment_export", args=[run.pk, "card_json"]))
    card = json.loads(b"".join(response.streaming_content))
    assert card["dataset"] == {
        "name": tiny_dataset.name,
        "version": tiny_dataset.version,
        "content_hash": tiny_dataset.content_hash,
    }
    assert card["classes"] == tiny_dataset.classes
    assert card["test_metrics"]["accuracy"] == run.test_metrics["accuracy"]
    assert card["environment"]["torch"] == torch.__version__ and card["environment"]["seed"] == 0
    listing = client.get(reverse("api_experiment_exports", args=[run.pk])).json()
    assert {e["name"] for e in listing["exports"]} == {"weights", "onnx", "pt2", "card_md", "card_json"}


def test_the_weights_download_loads_with_weights_only(client, owner, run):
    client.force_login(owner)
    response = client.get(reverse("experiment_download", args=[run.pk, "weights"]))
    state = torch.load(io.BytesIO(b"".join(response.streaming_content)), weights_only=True)
    assert all(isinstance(v, torch.Tensor) for v in state.values())


def test_downloads_are_for_the_team_only(client, outsider, run):
    client.force_login(outsider)
    assert client.get(reverse("experiment_download", args=[run.pk, "onnx"])).status_code == 404
    assert client.get(reverse("api_experiment_export", args=[run.pk, "onnx"])).status_code == 404
    assert client.get(reverse("api_experiment_exports", args=[run.pk])).json() == {"error": "No such experiment"}
    client.logout()
    assert client.get(reverse("experiment_download", args=[run.pk, "onnx"])).status_code == 302  # to the login
    assert client.get(reverse("api_experiment_export", args=[run.pk, "onnx"])).status_code == 403
    assert not exports_dir(run.pk).exists()  # nothing was built for them


def test_an_unfinished_run_or_unknown_format_has_no_download(client, owner, make_experiment, run):
    client.force_login(owner)
    queued = make_experiment()
    response = client.get(reverse("api_experiment_export", args=[queued.pk, "onnx"]))
    assert response.status_code == 409 and "only a finished run" in response.json()["error"]
    assert client.get(reverse("experiment_download", args=[queued.pk, "onnx"])).status_code == 404
    assert client.get(reverse("api_experiment_export", args=[run.pk, "torchscript"])).status_code == 404


# --- predict --------------------------------------------------------------------------------------
def test_the_api_predicts_the_top_classes_of_each_image(client, viewer, run, tiny_dataset):
    client.force_login(viewer)
    first, second = tiny_dataset.splits().test[:2]
    with open(first[0], "rb") as a, open(second[0], "rb") as b:
        files = [upload("a.png", a.read()), upload("b.png", b.read())]
    response = client.post(reverse("api_experiment_predict", args=[run.pk]), {"images": files})
    assert response.status_code == 200, response.content
    answers = response.json()["predictions"]
    assert [a["file"] for a in answers] == ["a.png", "b.png"]
    expected = Predictor.load(final_model_path(run.pk)).predict_files([first[0], second[0]])
    for answer, want in zip(answers, expected, strict=True):
        assert len(answer["top"]) == 3  # three classes: the top 5 is all of them
        assert [t["class"] for t in answer["top"]] == want.classes
        assert sum(t["probability"] for t in answer["top"]) == pytest.approx(1, abs=1e-4)


def test_a_file_that_is_no_image_is_named_in_the_error(client, owner, run):
    client.force_login(owner)
    files = [upload("fine.png", png()), upload("notes.png", b"just text")]
    response = client.post(reverse("api_experiment_predict", args=[run.pk]), {"images": files})
    assert response.status_code == 400
    assert "notes.png" in " ".join(response.json()["errors"]["images"])
    response = client.post(reverse("api_experiment_predict", args=[run.pk]), {})
    assert response.json() == {"errors": {"images": ["Choose one or more image files."]}}


def test_predict_is_for_the_team_and_for_finished_runs(client, outsider, owner, run, make_experiment):
    client.force_login(outsider)
    response = client.post(reverse("api_experiment_predict", args=[run.pk]), {"images": [upload("a.png", png())]})
    assert response.status_code == 404
    client.force_login(owner)
    queued = make_experiment()
    response = client.post(reverse("api_experiment_predict", args=[queued.pk]), {"images": [upload("a.png", png())]})
    assert response.status_code == 409


# --- the page: results, gallery, reproducibility ---------------------------------------------------
def test_the_page_offers_downloads_and_predict_for_a_finished_run(client, viewer, run, make_experiment):
    client.force_login(viewer)
    page = client.get(reverse("experiment_detail", args=[run.pk])).content.decode()
    assert reverse("experiment_download", args=[run.pk, "onnx"]) in page
    assert 'id="predict-form"' in page and 'id="confusion-gallery"' in page
    queued = client.get(reverse("experiment_detail", args=[make_experiment().pk])).content.decode()
    assert 'id="predict-form"' not in queued and "/download/" not in queued


def test_predictions_are_stored_relative_to_the_dataset(run, tiny_dataset):
    stored = run.test_metrics["predictions"]
    root = str(tiny_dataset.path)
    assert len(stored) == len(tiny_dataset.splits().test)
    assert all(not p["path"].startswith("/") and root not in p["path"] for p in stored)
    assert {p["path"] for p in stored} == {Path(p).relative_to(root).as_posix() for p, _ in tiny_dataset.splits().test}


def test_a_confusion_cell_lists_its_images_most_confident_first(client, viewer, run):
    client.force_login(viewer)
    first = run.test_metrics["predictions"][0]
    url = reverse("experiment_confusion_images", args=[run.pk])
    cell = client.get(url, {"label": first["label"], "predicted": first["predicted"]}).json()
    same = [
        p
        for p in run.test_metrics["predictions"]
        if (p["label"], p["predicted"]) == (first["label"], first["predicted"])
    ]
    assert cell["count"] == len(same)
    confidences = [image["confidence"] for image in cell["images"]]
    assert confidences == sorted(confidences, reverse=True)
    image = client.get(cell["images"][0]["url"])
    assert image.status_code == 200 and image["Content-Type"] == "image/png"
    assert Image.open(io.BytesIO(image.content)).mode == "RGB"
    assert client.get(url).status_code == 400


def test_test_images_are_for_the_team_only(client, outsider, run):
    client.force_login(outsider)
    assert client.get(reverse("experiment_test_image", args=[run.pk, 0])).status_code == 404
    assert (
        client.get(reverse("experiment_confusion_images", args=[run.pk]), {"label": "a", "predicted": "b"}).status_code
        == 404
    )


def test_a_stored_path_cannot_reach_outside_the_dataset(client, owner, run):
    metrics = run.test_metrics
    metrics["predictions"][0]["path"] = "../../../../etc/passwd"
    Experiment.objects.filter(pk=run.pk).update(test_metrics=metrics)
    client.force_login(owner)
    assert client.get(reverse("experiment_test_image", args=[run.pk, 0])).status_code == 404
    assert client.get(reverse("experiment_test_image", args=[run.pk, 10_000])).status_code == 404


@pytest.mark.worker
def test_a_worker_records_the_runs_environment_and_the_page_shows_it(celery_worker, client, owner, make_experiment):
    experiment = make_experiment(epochs=1, seed=7)
    enqueue(experiment)
    experiment = finished(experiment)
    env = experiment.environment
    assert env["torch"] == torch.__version__ and env["seed"] == 7 and env["worker"] == celery_worker.name
    assert env["dataset"]["content_hash"] == experiment.dataset.content_hash and env["dataset"]["version"] == 1
    assert {"python", "torchvision", "cuda", "device", "device_name", "host", "trainyard"} <= set(env)
    client.force_login(owner)
    page = client.get(reverse("experiment_detail", args=[experiment.pk])).content.decode()
    assert 'id="reproducibility"' in page and env["torchvision"] in page and celery_worker.name in page


def test_too_many_files_are_refused_by_rule(client, owner, run):
    client.force_login(owner)
    many = [upload(f"{i}.png", png()) for i in range(21)]
    response = client.post(reverse("api_experiment_predict", args=[run.pk]), {"images": many})
    assert response.status_code == 400
    assert response.json()["errors"]["images"] == ["At most 20 images at a time; 21 were sent."]


def test_the_results_panel_is_for_the_team_only(client, viewer, outsider, run):
    client.force_login(viewer)
    panel = client.get(reverse("experiment_results", args=[run.pk])).content.decode()
    assert 'id="results"' in panel and 'id="model-card"' in panel and 'id="reproducibility"' in panel
    client.force_login(outsider)
    assert client.get(reverse("experiment_results", args=[run.pk])).status_code == 404
