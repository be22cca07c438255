"""The experiment form: presets, the live resolved-config preview, and choices that cannot work."""

from __future__ import annotations

import pytest
import torch
from django.test import Client
from django.urls import reverse

from tests.helpers import experiment_form
from training.models import weights_name
from training.presets import resolve_config
from training.pretrained import weights_file
from webapp.experiments.models import Experiment

pytestmark = pytest.mark.django_db


def config_initial(form) -> dict:
    from training import TrainConfig

    return {name: form[name].value() for name in TrainConfig.field_names()}


def test_a_new_experiment_starts_from_the_quick_recipe(client, owner, tiny_dataset):
    client.force_login(owner)
    form = client.get(reverse("experiment_create")).context["form"]
    assert config_initial(form) == resolve_config(["quick"]).to_dict()
    assert form["preset_recipe"].value() == "quick"


def test_presets_named_in_the_url_fill_the_form_in_order(client, owner, tiny_dataset):
    client.force_login(owner)
    url = reverse("experiment_create") + "?preset=resnet-standard&preset=augment-heavy&preset=adam-plateau"
    form = client.get(url).context["form"]
    expected = resolve_config(["resnet-standard", "augment-heavy", "adam-plateau"]).to_dict()
    assert config_initial(form) == expected
    assert (form["preset_recipe"].value(), form["preset_augmentation"].value(), form["preset_optimizer"].value()) == (
        "resnet-standard",
        "augment-heavy",
        "adam-plateau",
    )


def test_an_unknown_preset_in_the_url_is_named_and_ignored(client, owner, tiny_dataset):
    client.force_login(owner)
    response = client.get(reverse("experiment_create") + "?preset=turbo-9000", follow=True)
    assert response.status_code == 200
    assert "Unknown preset ignored: turbo-9000" in response.content.decode()


def test_the_chosen_presets_are_kept_with_the_experiment(
    client, owner, tiny_dataset, django_capture_on_commit_callbacks
):
    client.force_login(owner)
    with django_capture_on_commit_callbacks():
        client.post(
            reverse("experiment_create"),
            experiment_form(tiny_dataset, preset_recipe="quick", preset_augmentation="augment-light"),
        )
    assert Experiment.objects.get().presets == ["quick", "augment-light"]


def test_a_preset_name_that_does_not_exist_is_a_field_error(client, owner, tiny_dataset):
    client.force_login(owner)
    response = client.post(reverse("experiment_create"), experiment_form(tiny_dataset, preset_optimizer="warp-drive"))
    assert "preset_optimizer" in response.context["form"].errors
    assert not Experiment.objects.exists()


def test_the_preview_returns_the_full_resolved_config(client, owner, tiny_dataset):
    client.force_login(owner)
    response = client.post(reverse("api_resolve_config"), experiment_form(tiny_dataset, lr=0.05))
    assert response.status_code == 200
    data = response.json()
    from training import TrainConfig

    assert set(data["config"]) == set(TrainConfig.field_names()) and data["config"]["lr"] == 0.05
    assert data["queue"] == "cpu"
    assert not Experiment.objects.exists()  # a preview saves nothing


def test_the_preview_works_before_a_name_is_typed(client, owner, tiny_dataset):
    client.force_login(owner)
    response = client.post(reverse("api_resolve_config"), experiment_form(tiny_dataset, name=""))
    assert response.status_code == 200 and response.json()["config"]["epochs"] == 2


def test_the_preview_returns_errors_by_field(client, owner, tiny_dataset):
    client.force_login(owner)
    response = client.post(reverse("api_resolve_config"), experiment_form(tiny_dataset, epochs=0, momentum=5))
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert set(errors) >= {"epochs", "momentum"}


def test_the_preview_needs_a_signed_in_user_and_a_csrf_token(owner, tiny_dataset):
    assert Client().post(reverse("api_resolve_config"), {}).status_code == 403
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    assert client.post(reverse("api_resolve_config"), experiment_form(tiny_dataset)).status_code == 403


def test_a_pretrained_backbone_without_its_weights_file_is_refused_naming_the_file(
    client, owner, tiny_dataset, tmp_path, monkeypatch
):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty-torch-cache"))
    client.force_login(owner)
    response = client.post(
        reverse("experiment_create"), experiment_form(tiny_dataset, arch="resnet18", pretrained=True, image_size=32)
    )
    assert response.status_code == 200
    message = " ".join(response.context["form"].errors["pretrained"])
    expected = weights_file(weights_name("resnet18"))
    # The file is named; the server's folder is not shown to a team member (admins find it in the README).
    assert expected.name in message and str(expected.parent) not in message
    assert not Experiment.objects.exists()


def test_a_pretrained_backbone_is_accepted_when_its_weights_are_in_the_torch_cache(
    client, owner, tiny_dataset, tmp_path, monkeypatch, django_capture_on_commit_callbacks
):
    import torchvision

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-cache"))
    path = weights_file(weights_name("resnet18"))
    path.parent.mkdir(parents=True)
    torch.save(torchvision.models.resnet18().state_dict(), path)  # stands in for the downloaded file
    client.force_login(owner)
    with django_capture_on_commit_callbacks():
        response = client.post(
            reverse("experiment_create"), experiment_form(tiny_dataset, arch="resnet18", pretrained=True, image_size=32)
        )
    assert response.status_code == 302
    assert Experiment.objects.get().config["pretrained"] is True
