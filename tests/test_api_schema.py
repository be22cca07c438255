"""The OpenAPI schema: it validates, and schemathesis, generating requests from it in-process (WSGI,
same test database), finds no server error and no response that breaks it. A member's token signs
the requests in; paths name a real experiment or dataset of the team, so the answers are not all 404s."""

from __future__ import annotations

import io

import pytest
import schemathesis
from django.core.management import call_command
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings
from rest_framework.authtoken.models import Token
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.helpers import TINY_CONFIG, folder_dataset
from webapp.experiments.models import Experiment

pytestmark = pytest.mark.django_db
EXAMPLES = 5  # per operation: the whole test stays well under two minutes
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def test_the_schema_validates(tmp_path):
    out = io.StringIO()
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yml"), stderr=out)
    text = (tmp_path / "schema.yml").read_text()
    assert "/api/experiments/{id}/metrics/" in text and "tokenAuth" in text


@pytest.fixture
def world(db, owner, team):
    dataset = folder_dataset(team)
    experiment = Experiment.objects.create(
        team=team, owner=owner, dataset=dataset, name="schema run", config={**TINY_CONFIG}
    )
    experiment.epoch_metrics.create(epoch=1, train_loss=1, train_acc=0.5, val_loss=1, val_acc=0.5, lr=0.1, seconds=1)
    experiment.set_tags(["t"])
    return {"token": Token.objects.create(user=owner).key, "experiment": experiment.pk, "dataset": dataset.pk}


def check_operation(operation, world) -> None:
    """A few generated requests for one operation, each validated against the schema."""

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy())
    def run(case) -> None:
        if case.path_parameters and "id" in case.path_parameters:
            case.path_parameters["id"] = world["dataset" if case.path.startswith("/api/datasets/") else "experiment"]
        case.call_and_validate(headers={"Authorization": f"Token {world['token']}"}, checks=CHECKS)

    run()


@pytest.fixture
def keep_the_test_connection():
    """A WSGI request closes the database connection when it ends (Django's test client turns that off
    too): the test's transaction must stay open between requests."""
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    yield
    for signal in (request_started, request_finished):
        signal.connect(close_old_connections)


def test_the_api_keeps_to_its_schema(world, keep_the_test_connection):
    # In-process WSGI and a loop rather than schemathesis' pytest plugin, whose lazy fixture loader
    # does not run under pytest 9.
    schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", get_wsgi_application())
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 15
    failures = {}
    for operation in operations:
        try:
            check_operation(operation, world)
        except Exception as exc:  # noqa: BLE001  (every operation's failure, then one report)
            failures[operation.label] = str(exc)[:3000]
    assert failures == {}, f"failing operations: {sorted(failures)}"
