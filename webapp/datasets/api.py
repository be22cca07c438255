"""JSON API for datasets (session auth, CSRF on writes, team access through access.py). Datasets are
answered with `Dataset.to_dict()`, their state with `Dataset.status_dict()`."""

from __future__ import annotations

from rest_framework import status
from rest_framework.decorators import api_view
from rest_framework.request import Request
from rest_framework.response import Response

from webapp.datasets import notices, preview
from webapp.datasets.access import dataset_for, dataset_or_rejection, datasets_for
from webapp.datasets.forms import UploadForm, split_fields, upload_too_large, upload_too_large_message
from webapp.datasets.rejection import DatasetRejected
from webapp.teams.access import writable_teams


@api_view(["GET", "POST"])
def dataset_list(request: Request) -> Response:
    if request.method == "GET":
        return Response([d.to_dict() for d in datasets_for(request.user)[:1000]])
    # Upload: multipart with team, name, archive (and optionally description, split_seed, val/test_fraction).
    if not writable_teams(request.user).exists():
        return Response({"error": "Viewers cannot upload datasets."}, status=status.HTTP_403_FORBIDDEN)
    if upload_too_large(request._request):
        return Response({"error": upload_too_large_message()}, status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
    data = request.POST.copy()
    for name, field in split_fields().items():  # optional in the API: the form's defaults
        data.setdefault(name, str(field.initial))
    form = UploadForm(data, request.FILES, user=request.user)
    if not form.is_valid():
        return Response({"errors": form.errors.get_json_data()}, status=status.HTTP_400_BAD_REQUEST)
    try:
        dataset = form.save()
    except DatasetRejected as exc:
        return Response(
            {"errors": {"__all__": [{"message": str(exc), "code": "rejected"}]}}, status=status.HTTP_400_BAD_REQUEST
        )
    return Response(dataset.to_dict(), status=status.HTTP_201_CREATED)


@api_view(["GET"])
def dataset_detail(request: Request, pk: int) -> Response:
    dataset = dataset_for(request.user, pk)
    return Response({**dataset.to_dict(), "report": {k: v for k, v in dataset.report.items() if k != "samples"}})


@api_view(["GET"])
def dataset_status(request: Request, pk: int) -> Response:
    """What the page polls while a dataset is processed; a rejected upload answers with its message."""
    dataset, notice = dataset_or_rejection(request.user, pk)
    return Response(notices.status_dict(notice) if notice is not None else dataset.status_dict())


@api_view(["GET"])
def augment_preview(request: Request, pk: int) -> Response:
    dataset = dataset_for(request.user, pk)
    if not dataset.is_ready:
        return Response(
            {"error": f"The dataset is {dataset.get_status_display().lower()}; previews need it ready."},
            status=status.HTTP_409_CONFLICT,
        )
    form = preview.PreviewForm(request.query_params, dataset.classes)
    if not form.is_valid():
        return Response(
            {"error": form.error_text(), "errors": form.errors.get_json_data()}, status=status.HTTP_400_BAD_REQUEST
        )
    return Response(preview.preview(dataset, form.cleaned_data))
