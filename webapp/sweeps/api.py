"""JSON API for sweeps (session auth, CSRF on writes; the same team access as experiments: viewers read,
outsiders get 404). Creating validates through the sweep form, so errors name the field as it does."""

from __future__ import annotations

import json
from typing import Any

from django.http import QueryDict
from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.decorators import api_view
from rest_framework.request import Request
from rest_framework.response import Response

from training import ConfigError, TrainConfig
from webapp.core.api_schema import ErrorSerializer
from webapp.experiments.forms import presets_initial
from webapp.sweeps import driver
from webapp.sweeps.access import sweep_for, sweeps_for
from webapp.sweeps.forms import AddTrialsForm, SweepForm, WidenForm
from webapp.sweeps.models import SweepStatus
from webapp.sweeps.report import sweep_report
from webapp.teams.access import writable_teams

# The sweeps of your teams, newest first (summaries; at most 500).
SWEEP_LIST = {"type": "array", "items": {"type": "object", "additionalProperties": {}}}
SETTINGS = ("name", "description", "dataset", "priority", "gpu_class", "space", "method", "objective", "pruner")
NUMBERS = ("max_trials", "max_epochs", "max_hours", "parallelism", "seed")


def form_data(body: Any) -> dict[str, Any]:
    """The sweep form's fields from an API body: {"presets": [...], "config": {overrides}, settings...}.
    Raises ConfigError naming `presets` or `config.<field>`."""
    if not isinstance(body, dict):
        raise ConfigError({"__all__": "send a JSON object"})
    presets = body.get("presets") or []
    overrides = body.get("config") or {}
    if not isinstance(presets, list) or not isinstance(overrides, dict):
        raise ConfigError({"presets" if not isinstance(presets, list) else "config": "wrong type"})
    known = {info["name"] for info in TrainConfig.fields_info()}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ConfigError({f"config.{name}": "unknown config field" for name in unknown})
    try:
        data = presets_initial([str(p) for p in presets]) if presets else TrainConfig().to_dict()
    except KeyError:
        raise ConfigError({"presets": f"unknown preset in {presets}"}) from None
    data.update(overrides)
    data.update({k: body[k] for k in (*SETTINGS, *NUMBERS) if k in body and body[k] is not None})
    data.setdefault("priority", "normal")
    return data


def errors_of(form) -> dict[str, list[str]]:
    return {name: [str(e) for e in errors] for name, errors in form.errors.items()}


@extend_schema(methods=["GET"], operation_id="sweeps_list", responses={200: SWEEP_LIST})
@extend_schema(
    methods=["POST"],
    operation_id="sweeps_create",
    request=OpenApiTypes.OBJECT,
    responses={201: OpenApiTypes.OBJECT, 400: ErrorSerializer, 403: ErrorSerializer},
)
@api_view(["GET", "POST"])
def sweep_list(request: Request) -> Response:
    if request.method == "GET":
        return Response([s.summary_dict() for s in sweeps_for(request.user)[:500]])
    if not writable_teams(request.user).exists():
        return Response({"error": "viewers cannot create sweeps"}, status=403)
    try:
        data = form_data(request.data)
    except ConfigError as exc:
        return Response({"errors": {k: [v] for k, v in exc.errors.items()}}, status=400)
    form = SweepForm(data, user=request.user)
    if not form.is_valid():
        return Response({"errors": errors_of(form)}, status=400)
    sweep = driver.start(form.new_sweep(request.user))
    return Response(sweep_report(sweep), status=201)


@extend_schema(operation_id="sweeps_retrieve", request=None, responses={200: OpenApiTypes.OBJECT, 404: ErrorSerializer})
@api_view(["GET"])
def sweep_detail(request: Request, pk: int) -> Response:
    return Response(sweep_report(sweep_for(request.user, pk)))


@extend_schema(
    operation_id="sweeps_stop",
    request=None,
    responses={200: OpenApiTypes.OBJECT, 404: ErrorSerializer, 409: ErrorSerializer},
)
@api_view(["POST"])
def sweep_stop(request: Request, pk: int) -> Response:
    sweep = sweep_for(request.user, pk, write=True)
    if sweep.status != SweepStatus.RUNNING:
        return Response({"error": f"the sweep is {sweep.get_status_display().lower()}, not running"}, status=409)
    driver.stop(sweep)
    return Response(sweep_report(sweep))


@extend_schema(
    operation_id="sweeps_resume",
    request=None,
    responses={200: OpenApiTypes.OBJECT, 404: ErrorSerializer, 409: ErrorSerializer},
)
@api_view(["POST"])
def sweep_resume(request: Request, pk: int) -> Response:
    sweep = sweep_for(request.user, pk, write=True)
    if not driver.resume(sweep):
        return Response({"error": "only a stopped sweep can be resumed"}, status=409)
    return Response(sweep_report(sweep))


@extend_schema(
    operation_id="sweeps_add_trials",
    request=OpenApiTypes.OBJECT,
    responses={200: OpenApiTypes.OBJECT, 400: ErrorSerializer, 404: ErrorSerializer},
)
@api_view(["POST"])
def sweep_add_trials(request: Request, pk: int) -> Response:
    sweep = sweep_for(request.user, pk, write=True)
    form = AddTrialsForm(request.data)
    if not form.is_valid():
        return Response({"errors": errors_of(form)}, status=400)
    data = form.cleaned_data
    driver.add_trials(sweep, data["trials"] or 0, data.get("max_epochs"), data.get("max_hours"))
    return Response(sweep_report(sweep))


class WidenRequest(serializers.Serializer):
    """What /api/sweeps/<id>/widen/ takes (the form WidenForm checks it)."""

    space = serializers.DictField(
        help_text="only the parameters to widen: a list of values, or the keys of its range to change, e.g. "
        '{"lr": {"low": 0.00001}, "optimizer": ["sgd", "adamw", "adam"]}. The new space must hold the old one.'
    )
    trials = serializers.IntegerField(
        required=False,
        min_value=0,
        help_text="trials to add; left out, a grid gets one per new point and random or TPE none",
    )
    max_epochs = serializers.IntegerField(required=False, min_value=1, help_text="a new epoch budget")
    max_hours = serializers.FloatField(
        required=False, help_text="a new budget of training hours, all trials' run time added up"
    )


@extend_schema(
    operation_id="sweeps_widen",
    request=WidenRequest,
    responses={200: OpenApiTypes.OBJECT, 400: ErrorSerializer, 404: ErrorSerializer},
    description="Widen the search space of a sweep (finished, stopped or running), keeping its trials: they "
    "stay in its results and the search learns from them; a grid runs only its new points. The sweep runs "
    "again (a stopped one resumes) and the change is recorded in `space_history`. A change that would leave "
    "out a value the sweep could take before is refused (400, by field).",
)
@api_view(["POST"])
def sweep_widen(request: Request, pk: int) -> Response:
    sweep = sweep_for(request.user, pk, write=True)
    if not isinstance(request.data, dict):
        return Response({"errors": {"__all__": ["send a JSON object"]}}, status=400)
    data = dict(request.data.items())
    if "space" in data and not isinstance(request.data, QueryDict):
        data["space"] = json.dumps(data["space"])  # the form's JSON field reads text (as a form post sends it)
    form = WidenForm(data, sweep=sweep)
    if not form.apply(sweep, by=request.user.get_username()):
        return Response({"errors": errors_of(form)}, status=400)
    return Response(sweep_report(sweep))


urlpatterns = [
    path("", sweep_list, name="api_sweep_list"),
    path("<int:pk>/", sweep_detail, name="api_sweep_detail"),
    path("<int:pk>/stop/", sweep_stop, name="api_sweep_stop"),
    path("<int:pk>/resume/", sweep_resume, name="api_sweep_resume"),
    path("<int:pk>/add/", sweep_add_trials, name="api_sweep_add_trials"),
    path("<int:pk>/widen/", sweep_widen, name="api_sweep_widen"),
]
