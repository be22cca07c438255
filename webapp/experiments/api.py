"""The experiments REST API (session or token auth; team access through experiment_for/experiments_for).
Experiments are answered with `Experiment.to_dict()`, metric rows with `EpochMetric.to_dict()`."""

from __future__ import annotations

from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action, api_view
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from webapp.core.api_schema import ErrorSerializer
from webapp.core.queues import queue_for, route
from webapp.experiments import actions
from webapp.experiments.access import experiment_for, experiments_for
from webapp.experiments.charts import downsample
from webapp.experiments.forms import ExperimentForm, ExtendForm
from webapp.experiments.history import ExperimentFilter, list_rows, page_rows
from webapp.experiments.models import Experiment
from webapp.experiments.serializers import (
    CancelSerializer,
    ExperimentCreateSerializer,
    ExperimentRowSerializer,
    ExperimentSerializer,
    ExtendSerializer,
    MetricsSerializer,
    NotesSerializer,
    WorkerSerializer,
    api_form,
    form_errors,
    notes_form,
)
from webapp.experiments.states import CancelOutcome
from webapp.experiments.workers import worker_to_dict, workers_seen_by
from webapp.teams.access import writable_teams

CONFLICT = {409: OpenApiResponse(ErrorSerializer, description="its state does not allow it")}


class ExperimentViewSet(viewsets.GenericViewSet):
    serializer_class = ExperimentSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = ExperimentFilter
    queryset = Experiment.objects.none()  # always through the access helpers below

    def get_queryset(self):
        return experiments_for(self.request.user)

    def get_object(self) -> Experiment:
        return experiment_for(self.request.user, self.kwargs["pk"], write=self.request.method != "GET")

    def get_serializer_context(self) -> dict:
        return {**super().get_serializer_context(), "positions": Experiment.queue_positions()}

    @extend_schema(responses=ExperimentRowSerializer(many=True))
    def list(self, request: Request) -> Response:
        """Your teams' experiments: filtered, searched, sorted (pinned first) and paginated as the dashboard is."""
        rows = self.filter_queryset(list_rows(request.user))
        page = page_rows(rows, self.paginate_queryset(rows.values_list("pk", flat=True)))
        return self.get_paginated_response(
            ExperimentRowSerializer(page, many=True, context=self.get_serializer_context()).data
        )

    @extend_schema(request=ExperimentCreateSerializer, responses={201: ExperimentSerializer, 400: ErrorSerializer})
    def create(self, request: Request) -> Response:
        """Queue a new experiment: presets applied in order, then `config`; validated as the form does."""
        if not writable_teams(request.user).exists():
            raise PermissionDenied("Viewers cannot create experiments.")
        form = api_form(request.data, request.user)
        if not form.is_valid():
            raise ValidationError(form_errors(form))
        experiment = actions.create(form.new_experiment(request.user), tags=form.cleaned_data["tags"])
        return Response(experiment.to_dict(), status=status.HTTP_201_CREATED)

    def retrieve(self, request: Request, pk: int) -> Response:
        return Response(self.get_object().to_dict())

    @extend_schema(request=NotesSerializer, responses={200: ExperimentSerializer, 400: ErrorSerializer})
    def partial_update(self, request: Request, pk: int) -> Response:
        """Change its notes (Markdown), tags or pin: members and owners of its team."""
        experiment = self.get_object()
        form = notes_form(request.data, experiment)
        if not form.is_valid():
            raise ValidationError({name: list(errors) for name, errors in form.errors.items()})
        actions.annotate(experiment, **form.cleaned_data)
        return Response(experiment.to_dict())

    @extend_schema(responses=MetricsSerializer)
    @action(detail=True)
    def metrics(self, request: Request, pk: int) -> Response:
        """Its state and every epoch's metrics so far: what the live page draws before its websocket connects."""
        experiment = self.get_object()
        history = experiment.history()
        chart = downsample(history)  # a long history (only then): the lines downsampled for drawing
        return Response({**experiment.summary_dict(), "history": history, **({"chart": chart} if chart else {})})

    @extend_schema(request=None, responses={200: CancelSerializer, **CONFLICT})
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: int) -> Response:
        experiment = self.get_object()
        outcome = actions.cancel(experiment)
        if outcome == CancelOutcome.FINISHED:
            message = f"the experiment has already {experiment.get_status_display().lower()}"
            return Response({"error": message}, status=status.HTTP_409_CONFLICT)
        return Response({"outcome": outcome, **experiment.to_dict()})

    @extend_schema(request=None, responses={200: ExperimentSerializer, **CONFLICT})
    @action(detail=True, methods=["post"])
    def resume(self, request: Request, pk: int) -> Response:
        experiment = self.get_object()
        if not actions.requeue(experiment):
            message = "only a cancelled or failed experiment can be resumed"
            return Response({"error": message}, status=status.HTTP_409_CONFLICT)
        return Response(experiment.to_dict())

    @extend_schema(request=ExtendSerializer, responses={200: ExperimentSerializer, 400: ErrorSerializer, **CONFLICT})
    @action(detail=True, methods=["post"])
    def extend(self, request: Request, pk: int) -> Response:
        experiment = self.get_object()
        form = ExtendForm(request.data if isinstance(request.data, dict) else {})
        if not form.is_valid():
            raise ValidationError({name: list(errors) for name, errors in form.errors.items()})
        if not actions.requeue(experiment, extra_epochs=form.cleaned_data["epochs"]):
            message = "only a finished experiment with a checkpoint can train more epochs"
            return Response({"error": message}, status=status.HTTP_409_CONFLICT)
        return Response(experiment.to_dict())


@extend_schema(request=OpenApiTypes.OBJECT, responses={200: OpenApiTypes.OBJECT, 400: ErrorSerializer})
@api_view(["POST"])
def resolve_config(request: Request) -> Response:
    """The full config the experiment form would save, or its errors by field (for the live preview): with
    its length in optimizer steps on the chosen dataset, what adapting the recipe to the dataset changed,
    and the preflight's warnings by field."""
    data = request.data.copy() if hasattr(request.data, "copy") else {}
    if not data.get("name"):
        data["name"] = "preview"  # the config does not depend on the name, which may not be typed yet
    form = ExperimentForm(data, user=request.user)
    if form.is_valid():
        gpu_class = form.cleaned_data["gpu_class"]
        return Response(
            {
                "config": form.config.to_dict(),
                "queue": route(queue_for(form.config, gpu_class), gpu_class),
                "steps": form.steps(),
                "adapted": form.resolved.note(),
                "warnings": form.preflight.warnings,
            }
        )
    return Response({"errors": {name: [str(e) for e in errors] for name, errors in form.errors.items()}}, status=400)


@extend_schema(responses=WorkerSerializer(many=True))
@api_view(["GET"])
def workers_list(request: Request) -> Response:
    """The Celery workers online now, as the workers page shows them: host, GPU models and memory, GPU
    classes, queues, and what each runs (another team's experiment only as `{"visible": false}`)."""
    return Response([worker_to_dict(w) for w in workers_seen_by(request.user)])
