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
    # The file and where it goes in the torch cache, but not the server's own folders (they stay private).
    assert expected.name in message and "hub/checkpoints" in message
    assert str(tmp_path) not in message
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


def quick_form(dataset, **changes) -> dict:
    """The form as the quick recipe fills it in (the page's script copies a preset's values to the fields)."""
    values = {
        k: ("on" if v else "") if isinstance(v, bool) else v for k, v in resolve_config(["quick"]).to_dict().items()
    }
    return experiment_form(dataset, **{**values, "preset_recipe": "quick", "device": "cpu", **changes})


def test_the_preview_shows_the_steps_and_warns_about_too_few(client, owner, tiny_dataset):
    client.force_login(owner)
    data = client.post(reverse("api_resolve_config"), experiment_form(tiny_dataset)).json()  # batch 8, 2 epochs
    assert data["steps"] == {
        "per_epoch": 3,
        "total": 6,
        "train_images": 24,
        "text": "6 optimizer steps in total (3 per epoch: 24 training images in batches of 8, 2 epochs)",
    }
    assert data["warnings"]["epochs"].startswith("Only 6 optimizer steps in total")
    assert data["adapted"] == ""  # no recipe chosen: nothing adapts

    enough = client.post(reverse("api_resolve_config"), experiment_form(tiny_dataset, epochs=40)).json()
    assert enough["steps"]["total"] == 120 and "epochs" not in enough["warnings"]


def test_the_recipe_adapts_to_the_dataset_and_the_adapted_config_is_saved(
    client, owner, tiny_dataset, django_capture_on_commit_callbacks
):
    client.force_login(owner)
    preview = client.post(reverse("api_resolve_config"), quick_form(tiny_dataset)).json()
    assert (preview["config"]["batch_size"], preview["config"]["epochs"]) == (8, 50)  # 24 images: 3 steps an epoch
    assert preview["adapted"].startswith("batch_size 64 → 8 and epochs 8 → 50 for 24 training images")
    assert preview["steps"]["total"] == 150 and "epochs" not in preview["warnings"]
    with django_capture_on_commit_callbacks():
        client.post(reverse("experiment_create"), quick_form(tiny_dataset))
    saved = Experiment.objects.get()
    assert saved.config == preview["config"] and saved.presets == ["quick"]


def test_a_value_the_user_changed_wins_over_the_adaptation(client, owner, tiny_dataset):
    client.force_login(owner)
    preview = client.post(reverse("api_resolve_config"), quick_form(tiny_dataset, batch_size=4)).json()
    assert (preview["config"]["batch_size"], preview["config"]["epochs"]) == (4, 25)  # 6 steps an epoch
    preview = client.post(reverse("api_resolve_config"), quick_form(tiny_dataset, batch_size=4, epochs=3)).json()
    assert (preview["config"]["batch_size"], preview["config"]["epochs"]) == (4, 3)
    assert preview["warnings"]["epochs"].startswith("Only 18 optimizer steps")


def test_the_page_shows_the_steps_and_the_warnings_box(client, owner, tiny_dataset):
    client.force_login(owner)
    page = client.get(reverse("experiment_create")).content.decode()
    assert 'id="resolved-steps"' in page and 'id="resolved-warnings"' in page
