"""JSON API for experiments (session auth, CSRF on writes, team access through experiment_for)."""
from __future__ import annotations

from rest_framework.decorators import api_view
from rest_framework.request import Request
from rest_framework.response import Response

from webapp.experiments.access import experiment_for, experiments_for


@api_view(["GET"])
def experiment_list(request: Request) -> Response:
    return Response([e.to_dict() for e in experiments_for(request.user)[:500]])


@api_view(["GET"])
def experiment_detail(request: Request, pk: int) -> Response:
    return Response(experiment_for(request.user, pk).to_dict())


@api_view(["GET"])
def experiment_metrics(request: Request, pk: int) -> Response:
    experiment = experiment_for(request.user, pk)
    return Response({
        "experiment": experiment.pk, "status": experiment.status, "status_label": experiment.get_status_display(),
        "error": experiment.error, "test_metrics": experiment.test_metrics,
        "epochs": [row.to_dict() for row in experiment.epoch_metrics.order_by("epoch")],
    })
