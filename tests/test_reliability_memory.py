"""Memory: a config whose images or batch cannot fit is refused before it is queued, naming the field
(library preflight, command line, web form and the API's config check); auto never decodes into more
than the free RAM allows. Where the free RAM is made small, `available_memory` is replaced (this
machine's real free RAM cannot be changed by a test)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.helpers import TINY_CONFIG, experiment_form
from tests.images import write_pattern_folder
from tests.training_helpers import tiny_settings
from training import Splits, TrainConfig, loaders
from training.__main__ import main
from training.preflight import preflight
from webapp.experiments.models import Experiment

OVER_THE_LIMIT = {"data_loading": "memory", "memory_limit_mb": 1, "image_size": 256}  # 36 images: 7 MB decoded


def splits(tmp_path) -> Splits:
    """36 images' worth of samples (preflight counts them; it reads no file)."""
    samples = [(f"{i}.png", i % 3) for i in range(36)]
    return Splits(["a", "b", "c"], samples[:24], samples[24:30], samples[30:])


def test_preflight_refuses_in_memory_data_over_the_memory_limit(tmp_path):
    report = preflight(TrainConfig.from_dict({**TINY_CONFIG, **OVER_THE_LIMIT}), splits(tmp_path))
    assert "need 7 MB, over this limit" in report.errors["memory_limit_mb"]
    assert preflight(TrainConfig.from_dict({**TINY_CONFIG, "data_loading": "memory"}), splits(tmp_path)).ok


def test_little_free_ram_refuses_the_memory_path_and_large_batches_and_auto_streams(tmp_path, monkeypatch):
    data = splits(tmp_path)
    monkeypatch.setattr(loaders, "available_memory", lambda: 2 * 2**20)  # 2 MB free
    config = TrainConfig.from_dict({**TINY_CONFIG, "data_loading": "memory", "image_size": 128, "batch_size": 8})
    report = preflight(config, data)
    assert "this machine has 2 MB free" in report.errors["data_loading"]
    assert "lower the batch size" in report.errors["batch_size"]
    big = TrainConfig.from_dict({**TINY_CONFIG, "arch": "resnet50", "image_size": 64})  # 23.5M weights
    assert "choose a smaller model" in preflight(big, data).errors["arch"]
    assert "arch" not in report.errors  # the tiny CNN's 1,467 weights fit
    auto = TrainConfig.from_dict({**TINY_CONFIG, "image_size": 128})
    assert loaders.choose_data_path(auto, data) == "stream"  # 1.7 MB decoded: under the limit, not half the RAM


def test_the_command_line_names_the_field_and_trains_nothing(tmp_path, capsys):
    data = write_pattern_folder(tmp_path / "data", classes=3, per_class=12)
    assert main(["--data", str(data), *tiny_settings(**OVER_THE_LIMIT)]) == 2
    captured = capsys.readouterr()
    assert "config error: memory_limit_mb: The decoded images need" in captured.err
    assert "epoch 1" not in captured.out


@pytest.mark.django_db
def test_the_form_and_the_api_refuse_it_before_anything_is_queued(client, owner, tiny_dataset):
    client.force_login(owner)
    form = experiment_form(tiny_dataset, **OVER_THE_LIMIT)
    response = client.post(reverse("experiment_create"), form)
    assert response.status_code == 200
    assert "over this limit" in str(response.context["form"].errors["memory_limit_mb"])
    assert not Experiment.objects.exists()
    answer = client.post(reverse("api_resolve_config"), form)
    assert answer.status_code == 400 and "over this limit" in answer.json()["errors"]["memory_limit_mb"][0]
