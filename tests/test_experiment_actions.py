"""Cancel, resume, extend and clone from the pages and the API: rights, messages, and what they change."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.helpers import experiment_form
from webapp.experiments.models import Experiment, Status

pytestmark = pytest.mark.django_db


def test_cancelling_a_queued_experiment_cancels_it_at_once(client, make_experiment, teammate):
    experiment = make_experiment()
    client.force_login(teammate)
    response = client.post(reverse("experiment_cancel", args=[experiment.pk]), follow=True)
    assert "will not start" in response.content.decode()
    experiment.refresh_from_db()
    assert experiment.status == Status.CANCELLED and experiment.finished_at is not None


def test_cancelling_a_running_experiment_asks_the_worker_to_stop(client, make_experiment, owner):
    experiment = make_experiment()
    Experiment.objects.filter(pk=experiment.pk).update(status=Status.RUNNING)
    client.force_login(owner)
    response = client.post(reverse("experiment_cancel", args=[experiment.pk]), follow=True)
    assert "Stopping at the next batch" in response.content.decode()
    experiment.refresh_from_db()
    assert experiment.status == Status.RUNNING and experiment.cancel_requested


def test_a_viewer_cannot_cancel_resume_or_extend(client, make_experiment, viewer):
    experiment = make_experiment()
    client.force_login(viewer)
    for name in ("experiment_cancel", "experiment_resume", "experiment_extend"):
        assert client.post(reverse(name, args=[experiment.pk]), {"epochs": 2}).status_code == 403
    assert client.post(reverse("api_experiment_cancel", args=[experiment.pk])).status_code == 403
    experiment.refresh_from_db()
    assert experiment.status == Status.QUEUED


def test_an_outsider_gets_404_for_every_action(client, make_experiment, outsider):
    experiment = make_experiment()
    client.force_login(outsider)
    for name in ("experiment_cancel", "experiment_resume", "experiment_extend"):
        assert client.post(reverse(name, args=[experiment.pk]), {"epochs": 2}).status_code == 404
    for name in ("api_experiment_cancel", "api_experiment_resume", "api_experiment_extend"):
        assert client.post(reverse(name, args=[experiment.pk]), {"epochs": 2}).status_code == 404


def test_actions_need_post(client, make_experiment, owner):
    experiment = make_experiment()
    client.force_login(owner)
    assert client.get(reverse("experiment_cancel", args=[experiment.pk])).status_code == 405


def test_resuming_puts_a_cancelled_experiment_back_in_the_queue(
    client, make_experiment, owner, django_capture_on_commit_callbacks
):
    experiment = make_experiment()
    Experiment.objects.filter(pk=experiment.pk).update(status=Status.CANCELLED, checkpoint_epoch=1)
    client.force_login(owner)
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(reverse("experiment_resume", args=[experiment.pk]), follow=True)
    assert "checkpoint of epoch 1" in response.content.decode()
    experiment.refresh_from_db()
    assert experiment.status == Status.QUEUED and experiment.queued_at is not None
    assert len(callbacks) == 1


def test_only_cancelled_or_failed_experiments_resume(client, make_experiment, owner):
    experiment = make_experiment()
    Experiment.objects.filter(pk=experiment.pk).update(status=Status.SUCCEEDED)
    client.force_login(owner)
    response = client.post(reverse("experiment_resume", args=[experiment.pk]), follow=True)
    assert "Only a cancelled or failed experiment can be resumed" in response.content.decode()
    api = client.post(reverse("api_experiment_resume", args=[experiment.pk]))
    assert api.status_code == 409 and "cancelled or failed" in api.json()["error"]
    experiment.refresh_from_db()
    assert experiment.status == Status.SUCCEEDED


def test_extending_adds_epochs_to_the_config_and_queues_it(client, make_experiment, owner):
    experiment = make_experiment(epochs=2)
    Experiment.objects.filter(pk=experiment.pk).update(status=Status.SUCCEEDED, checkpoint_epoch=2)
    client.force_login(owner)
    response = client.post(reverse("experiment_extend", args=[experiment.pk]), {"epochs": 3}, follow=True)
    assert "from epoch 3 to 5" in response.content.decode()
    experiment.refresh_from_db()
    assert experiment.status == Status.QUEUED and experiment.config["epochs"] == 5


@pytest.mark.parametrize("epochs", ["0", "-3", "many", "5000"])
def test_extending_by_a_bad_number_says_why_and_changes_nothing(client, make_experiment, owner, epochs):
    experiment = make_experiment(epochs=2)
    Experiment.objects.filter(pk=experiment.pk).update(status=Status.SUCCEEDED, checkpoint_epoch=2)
    client.force_login(owner)
    response = client.post(reverse("experiment_extend", args=[experiment.pk]), {"epochs": epochs}, follow=True)
    assert "Epochs to add" in response.content.decode()
    api = client.post(reverse("api_experiment_extend", args=[experiment.pk]), {"epochs": epochs})
    assert api.status_code == 400 and "epochs" in api.json()["errors"]
    experiment.refresh_from_db()
    assert experiment.status == Status.SUCCEEDED and experiment.config["epochs"] == 2


def test_the_api_cancel_of_a_finished_experiment_is_a_conflict(client, make_experiment, owner):
    experiment = make_experiment()
    Experiment.objects.filter(pk=experiment.pk).update(status=Status.FAILED)
    client.force_login(owner)
    response = client.post(reverse("api_experiment_cancel", args=[experiment.pk]))
    assert response.status_code == 409 and "failed" in response.json()["error"]


def test_clone_starts_the_form_from_the_exact_config(client, owner, tiny_dataset, django_capture_on_commit_callbacks):
    client.force_login(owner)
    with django_capture_on_commit_callbacks():
        client.post(
            reverse("experiment_create"),
            experiment_form(tiny_dataset, lr=0.0123, optimizer="sgd", tags="base, sgd", priority="high"),
        )
    source = Experiment.objects.get()
    page = client.get(reverse("experiment_create") + f"?clone={source.pk}")
    form = page.context["form"]
    # Post back exactly what the browser shows, as a user who clicks "Queue experiment" at once would.
    data = {}
    for bound in form:
        value = bound.value()
        if bound.widget_type == "checkbox":
            if value:
                data[bound.name] = "on"
        elif value is not None:
            data[bound.name] = value
    with django_capture_on_commit_callbacks():
        response = client.post(reverse("experiment_create"), data)
    assert response.status_code == 302
    clone = Experiment.objects.exclude(pk=source.pk).get()
    assert clone.config == source.config
    assert clone.cloned_from == source and clone.tag_names() == ["base", "sgd"] and clone.priority == "high"
    assert clone.name == f"{source.name} (clone)"


def test_a_malformed_clone_id_is_a_404_not_an_error(client, owner):
    client.force_login(owner)
    assert client.get(reverse("experiment_create") + "?clone=abc").status_code == 404


def test_nobody_clones_another_teams_experiment(client, make_experiment, outsider):
    experiment = make_experiment()
    client.force_login(outsider)
    assert client.get(reverse("experiment_create") + f"?clone={experiment.pk}").status_code == 404


def test_a_batch_larger_than_the_training_split_is_refused(client, owner, tiny_dataset):
    client.force_login(owner)
    train = len(tiny_dataset.splits().train)
    response = client.post(reverse("experiment_create"), experiment_form(tiny_dataset, batch_size=train + 1))
    assert f"training split ({train} images)" in " ".join(response.context["form"].errors["batch_size"])
    assert not Experiment.objects.exists()


@pytest.mark.parametrize("tags", ["has space", "semi;colon", ",".join(f"t{i}" for i in range(21))])
def test_bad_tags_are_refused(client, owner, tiny_dataset, tags):
    client.force_login(owner)
    response = client.post(reverse("experiment_create"), experiment_form(tiny_dataset, tags=tags))
    assert "tags" in response.context["form"].errors
    assert not Experiment.objects.exists()


def test_the_queued_list_shows_positions_by_priority_then_time(client, make_experiment, owner):
    from django.utils import timezone

    first = make_experiment()
    second = make_experiment()
    urgent = make_experiment()
    now = timezone.now()
    Experiment.objects.filter(pk=first.pk).update(queued_at=now, name="first")
    Experiment.objects.filter(pk=second.pk).update(queued_at=now + timezone.timedelta(seconds=1), name="second")
    Experiment.objects.filter(pk=urgent.pk).update(
        queued_at=now + timezone.timedelta(seconds=2), priority="high", name="urgent"
    )
    client.force_login(owner)
    html = client.get(reverse("experiment_tables")).content.decode()
    queued = html[html.index('id="queued-list"') : html.index('id="history-list"')]
    assert queued.index("urgent") < queued.index("first") < queued.index("second")
    assert [Experiment.objects.get(name=n).queue_position() for n in ("urgent", "first", "second")] == [1, 2, 3]
