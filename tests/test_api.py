"""The REST API: token auth beside sessions, JSON errors everywhere under /api/, creating an experiment
from presets and overrides with the form's validation, teams, dataset versions, the schema and its docs."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.helpers import TINY_CONFIG, folder_dataset
from webapp.experiments.models import Experiment
from webapp.experiments.states import Status

pytestmark = pytest.mark.django_db


def token_client(user) -> APIClient:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
    return api


def test_drf_create_token_prints_a_token_that_signs_in(owner):
    out = io.StringIO()
    call_command("drf_create_token", owner.username, stdout=out)
    key = Token.objects.get(user=owner).key
    assert key in out.getvalue()
    api = APIClient()
    assert api.get(reverse("api_team_list")).status_code == 403
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert api.get(reverse("api_team_list")).json()["results"] == [
        {"id": owner.teams.get().pk, "name": "Vision lab", "role": "owner", "can_write": True}
    ]


def test_a_bad_token_is_refused_with_json(client):
    response = client.get(reverse("api_experiment_list"), HTTP_AUTHORIZATION="Token nope")
    assert response.status_code == 403 and response.json() == {"error": "Invalid token."}


def test_errors_under_api_are_json_and_pages_stay_html(client, owner, make_experiment):
    experiment = make_experiment()
    client.force_login(owner)
    unknown = client.get("/api/no-such-thing/")
    assert unknown.status_code == 404 and unknown.json() == {"error": "Not found."}
    missing = client.get(reverse("api_experiment_detail", args=[experiment.pk + 1000]))
    assert missing.status_code == 404 and "error" in missing.json()
    wrong_method = client.delete(reverse("api_experiment_detail", args=[experiment.pk]))
    assert wrong_method.status_code == 405 and "DELETE" in wrong_method.json()["error"]
    page = client.get("/no-such-page/")
    assert page.status_code == 404 and page["Content-Type"].startswith("text/html")


def test_session_writes_need_the_csrf_token(owner, make_experiment):
    experiment = make_experiment()
    api = APIClient(enforce_csrf_checks=True)
    api.force_login(owner)
    response = api.post(reverse("api_experiment_cancel", args=[experiment.pk]))
    assert response.status_code == 403 and "CSRF" in response.json()["error"]
    experiment.refresh_from_db()
    assert experiment.status == Status.QUEUED


def create(api, on, **fields):
    body = {"name": "from the api", "dataset": on.pk, "presets": ["quick"], "config": dict(TINY_CONFIG)}
    body.update(fields)
    return api.post(reverse("api_experiment_list"), body, format="json")


def test_a_member_creates_an_experiment_from_presets_and_overrides(owner, tiny_dataset):
    api = token_client(owner)
    response = create(
        api,
        tiny_dataset,
        tags=["api", "tiny"],
        presets=["quick", "sgd-nesterov-cosine"],
        config={**TINY_CONFIG, "lr": 0.05},
    )
    assert response.status_code == 201, response.json()
    data = response.json()
    experiment = Experiment.objects.get(pk=data["id"])
    assert data == experiment.to_dict() and data["status"] == Status.QUEUED
    assert experiment.config["lr"] == 0.05 and experiment.config["optimizer"] == "sgd"
    assert experiment.presets == ["quick", "sgd-nesterov-cosine"] and experiment.owner == owner


@pytest.mark.parametrize(
    ("fields", "errors"),
    [
        ({"config": {"lr": -1}}, {"config": {"lr"}}),
        ({"config": {"no_such_setting": 1}}, {"config": {"no_such_setting"}}),
        ({"config": {"arch": "nope"}}, {"config": {"arch"}}),
        ({"presets": ["no_such_preset"]}, {"presets": None}),
        ({"name": ""}, {"name": None}),
        ({"tags": ["has space"]}, {"tags": None}),
        ({"dataset": 999999}, {"dataset": None}),
        ({"config": "lr=1"}, {"config": None}),
    ],
)
def test_bad_input_names_the_field_and_creates_nothing(owner, tiny_dataset, fields, errors):
    response = create(token_client(owner), tiny_dataset, **fields)
    assert response.status_code == 400
    body = response.json()["errors"]
    assert set(body) == set(errors)
    for name, inner in errors.items():
        if inner:
            assert set(body[name]) == inner
    assert not Experiment.objects.exists()


def test_the_api_gives_the_same_errors_as_the_form(client, owner, tiny_dataset):
    from tests.helpers import experiment_form

    client.force_login(owner)
    page = client.post(reverse("experiment_create"), experiment_form(tiny_dataset, batch_size=10_000))
    api = create(token_client(owner), tiny_dataset, config={**TINY_CONFIG, "batch_size": 10_000})
    assert api.json()["errors"]["config"]["batch_size"] == page.context["form"].errors["batch_size"]


def test_a_body_that_is_not_an_object_is_refused(owner):
    response = token_client(owner).post(reverse("api_experiment_list"), [1, 2], format="json")
    assert response.status_code == 400 and response.json() == {
        "errors": {"non_field_errors": ["Expected a JSON object."]}
    }


def test_viewers_and_outsiders_cannot_create(viewer, outsider, tiny_dataset):
    assert create(token_client(viewer), tiny_dataset).status_code == 403
    response = create(token_client(outsider), tiny_dataset)
    assert response.status_code == 400 and "dataset" in response.json()["errors"]
    assert not Experiment.objects.exists()


def test_dataset_versions_are_listed_newest_first(owner, team, outsider):
    first = folder_dataset(team, name="Shapes")
    second = folder_dataset(team, name="Shapes", folder={"seed": 1}, version=2)
    api = token_client(owner)
    listed = api.get(reverse("api_dataset_versions", args=[first.pk])).json()["results"]
    assert [d["id"] for d in listed] == [second.pk, first.pk]
    assert token_client(outsider).get(reverse("api_dataset_versions", args=[first.pk])).status_code == 404


def test_the_schema_and_its_docs_are_served_from_local_files(client, owner):
    schema = client.get(reverse("api_schema"), HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200 and "/api/experiments/" in schema.json()["paths"]
    client.force_login(owner)
    for name, asset in [("api_docs", "drf_spectacular_sidecar/swagger-ui-dist"), ("api_redoc", "redoc/bundles")]:
        html = client.get(reverse(name)).content.decode()
        assert asset in html and "cdn" not in html.lower()
