"""The API for a run's results: predict on uploaded images, and its downloads.

DRF views like the rest of the API (session with CSRF, or a token for scripts); every experiment is
reached through `experiment_for`; errors are JSON: 403 signed out, 404 outside the team, 409 nothing to
download yet, 400 with the field named."""

from __future__ import annotations

from django.http import FileResponse, Http404
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.decorators import api_view, parser_classes
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from training.export import EXPORTS
from webapp.core.api_schema import ErrorSerializer
from webapp.experiments import exports
from webapp.experiments.access import experiment_for
from webapp.experiments.exports import ExportUnavailable
from webapp.experiments.predict import PredictForm, predict

UNAVAILABLE = {409: ErrorSerializer, 404: ErrorSerializer}
PREDICT_REQUEST = {
    "multipart/form-data": {
        "type": "object",
        "properties": {"images": {"type": "array", "items": {"type": "string", "format": "binary"}}},
        "required": ["images"],
    }
}


def _unavailable(exc: ExportUnavailable) -> Response:
    return Response({"error": str(exc)}, status=409)


@extend_schema(
    operation_id="experiments_predict",
    request=PREDICT_REQUEST,
    responses={200: OpenApiTypes.OBJECT, 400: ErrorSerializer, **UNAVAILABLE},
)
@api_view(["POST"])
@parser_classes([MultiPartParser, FormParser])
def experiment_predict(request: Request, pk: int) -> Response:
    """multipart `images` (one or more files) -> {"predictions": [{file, top: [{class, probability}] x5}]}."""
    experiment = experiment_for(request.user, pk)
    try:
        exports.check_model(experiment)  # 409 before reading uploads when there is no model
    except ExportUnavailable as exc:
        return _unavailable(exc)
    form = PredictForm(request.POST, request.FILES)
    predictions = predict(experiment, form) if form.is_valid() else []
    if form.errors:
        return Response({"errors": {k: list(v) for k, v in form.errors.items()}}, status=400)
    return Response({"experiment": experiment.pk, "predictions": predictions})


@extend_schema(operation_id="experiments_exports_list", responses={200: OpenApiTypes.OBJECT, **UNAVAILABLE})
@api_view(["GET"])
def experiment_exports(request: Request, pk: int) -> Response:
    experiment = experiment_for(request.user, pk)
    try:
        exports.check_model(experiment)
    except ExportUnavailable as exc:
        return _unavailable(exc)
    items = [
        {**item, "url": reverse("api_experiment_export", args=[experiment.pk, item["name"]])}
        for item in exports.available(experiment)
    ]
    return Response({"exports": items})


@extend_schema(
    operation_id="experiments_export_download",
    responses={(200, "application/octet-stream"): OpenApiTypes.BINARY, **UNAVAILABLE},
)
@api_view(["GET"])
def experiment_export(request: Request, pk: int, name: str):
    experiment = experiment_for(request.user, pk)
    try:
        return export_response(experiment, name)
    except ExportUnavailable as exc:
        return _unavailable(exc)


def export_response(experiment, name: str) -> FileResponse:
    """The export streamed as an attachment (built first when it is not cached); 404 for an unknown name."""
    if name not in EXPORTS:
        raise Http404(f"no export {name!r}")
    return FileResponse(
        exports.open_export(experiment, name),
        as_attachment=True,
        filename=exports.download_name(experiment, name),
        content_type=EXPORTS.get(name).content_type,
    )
