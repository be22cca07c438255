"""JSON API for experiments (session auth, CSRF on writes, team access through experiment_for).
Experiments are answered with `Experiment.to_dict()`, metric rows with `EpochMetric.to_dict()`."""

from __future__ import annotations

from rest_framework.decorators import api_view
from rest_framework.request import Request
from rest_framework.response import Response

from webapp.core.queues import queue_for
from webapp.experiments import actions
from webapp.experiments.access import experiment_for, experiments_for
from webapp.experiments.charts import downsample
from webapp.experiments.forms import ExperimentForm, ExtendForm
from webapp.experiments.models import Experiment
from webapp.experiments.states import CancelOutcome


@api_view(["GET"])
def experiment_list(request: Request) -> Response:
    positions = Experiment.queue_positions()
    return Response([e.to_dict(positions) for e in experiments_for(request.user)[:500]])


@api_view(["GET"])
def experiment_detail(request: Request, pk: int) -> Response:
    return Response(experiment_for(request.user, pk).to_dict())


@api_view(["GET"])
def experiment_metrics(request: Request, pk: int) -> Response:
    """Its state and every epoch's metrics so far: what the live page draws before its websocket connects;
    with a long history (only then), "chart" holds the lines downsampled for drawing (`charts.downsample`)."""
    experiment = experiment_for(request.user, pk)
    history = experiment.history()
    chart = downsample(history)
    return Response({**experiment.summary_dict(), "history": history, **({"chart": chart} if chart else {})})


@api_view(["POST"])
def experiment_cancel(request: Request, pk: int) -> Response:
    experiment = experiment_for(request.user, pk, write=True)
    outcome = actions.cancel(experiment)
    if outcome == CancelOutcome.FINISHED:
        return Response({"error": f"the experiment has already {experiment.get_status_display().lower()}"}, status=409)
    return Response({"outcome": outcome, **experiment.to_dict()})


@api_view(["POST"])
def experiment_resume(request: Request, pk: int) -> Response:
    experiment = experiment_for(request.user, pk, write=True)
    if not actions.requeue(experiment):
        return Response({"error": "only a cancelled or failed experiment can be resumed"}, status=409)
    return Response(experiment.to_dict())


@api_view(["POST"])
def experiment_extend(request: Request, pk: int) -> Response:
    experiment = experiment_for(request.user, pk, write=True)
    form = ExtendForm(request.data)
    if not form.is_valid():
        return Response({"errors": form.errors}, status=400)
    if not actions.requeue(experiment, extra_epochs=form.cleaned_data["epochs"]):
        return Response({"error": "only a finished experiment with a checkpoint can train more epochs"}, status=409)
    return Response(experiment.to_dict())


@api_view(["POST"])
def resolve_config(request: Request) -> Response:
    """The full config the experiment form would save, or its errors by field (for the live preview)."""
    data = request.POST.copy()
    if not data.get("name"):
        data["name"] = "preview"  # the config does not depend on the name, which may not be typed yet
    form = ExperimentForm(data, user=request.user)
    if form.is_valid():
        return Response({"config": form.config.to_dict(), "queue": queue_for(form.config)})
    return Response({"errors": {name: [str(e) for e in errors] for name, errors in form.errors.items()}}, status=400)
