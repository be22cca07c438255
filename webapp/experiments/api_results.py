"""JSON endpoints for a run's results: predict on uploaded images, and its downloads.

Plain Django views (session auth, CSRF on POST through the middleware), every experiment reached
through `experiment_for`; every error is JSON: 401 signed out, 404 outside the team, 409 nothing to
download yet, 400 with the field named. (To move under DRF with the rest of the API.)"""

from __future__ import annotations

import functools

from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, JsonResponse
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from training.export import EXPORTS
from webapp.experiments import exports
from webapp.experiments.access import experiment_for
from webapp.experiments.exports import ExportUnavailable
from webapp.experiments.predict import PredictForm, predict


def json_errors(view):
    """Signed-out users, outsiders and missing objects get JSON errors, never an HTML page."""

    @functools.wraps(view)
    def wrapped(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return JsonResponse({"error": "authentication required"}, status=401)
        try:
            return view(request, *args, **kwargs)
        except Http404:
            return JsonResponse({"error": "not found"}, status=404)
        except PermissionDenied as exc:
            return JsonResponse({"error": str(exc) or "permission denied"}, status=403)
        except ExportUnavailable as exc:
            return JsonResponse({"error": str(exc)}, status=409)

    return wrapped


@require_POST
@json_errors
def experiment_predict(request, pk: int) -> JsonResponse:
    """multipart `images` (one or more files) -> {"predictions": [{file, top: [{class, probability}] x5}]}."""
    experiment = experiment_for(request.user, pk)
    exports.model_path(experiment)  # 409 before reading uploads when there is no model
    form = PredictForm(request.POST, request.FILES)
    predictions = predict(experiment, form) if form.is_valid() else []
    if form.errors:
        return JsonResponse({"errors": {k: list(v) for k, v in form.errors.items()}}, status=400)
    return JsonResponse({"experiment": experiment.pk, "predictions": predictions})


@require_GET
@json_errors
def experiment_exports(request, pk: int) -> JsonResponse:
    experiment = experiment_for(request.user, pk)
    exports.model_path(experiment)
    return JsonResponse(
        {
            "exports": [
                {**item, "url": reverse("api_experiment_export", args=[experiment.pk, item["name"]])}
                for item in exports.available(experiment)
            ]
        }
    )


@require_GET
@json_errors
def experiment_export(request, pk: int, name: str) -> FileResponse:
    experiment = experiment_for(request.user, pk)
    return export_response(experiment, name)


def export_response(experiment, name: str) -> FileResponse:
    """The export streamed as an attachment (built first when it is not cached); 404 for an unknown name."""
    if name not in EXPORTS:
        raise Http404(f"no export {name!r}")
    path = exports.export_file(experiment, name)
    return FileResponse(
        path.open("rb"),
        as_attachment=True,
        filename=exports.download_name(experiment, name),
        content_type=EXPORTS.get(name).content_type,
    )
