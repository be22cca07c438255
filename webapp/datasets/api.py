"""JSON API for datasets (session auth, CSRF on writes, team access through access.py)."""

from __future__ import annotations

from django.conf import settings
from rest_framework import status
from rest_framework.decorators import api_view
from rest_framework.request import Request
from rest_framework.response import Response

from webapp.datasets import presentation
from webapp.datasets.access import dataset_for, dataset_or_rejection, datasets_for
from webapp.datasets.forms import UploadForm, split_fields
from webapp.datasets.validation import DatasetRejected, size_text
from webapp.datasets.views import upload_too_large
from webapp.teams.access import teams_of


@api_view(["GET", "POST"])
def dataset_list(request: Request) -> Response:
    if request.method == "GET":
        return Response([d.to_dict() for d in datasets_for(request.user)[:1000]])
    # Upload: multipart with team, name, archive (and optionally description, split_seed, val/test_fraction).
    if not teams_of(request.user, write=True).exists():
        return Response({"error": "Viewers cannot upload datasets."}, status=status.HTTP_403_FORBIDDEN)
    if upload_too_large(request._request):
        return Response(
            {"error": f"The upload is larger than the limit of {size_text(settings.DATASET_MAX_BYTES)}."},
            status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        )
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
    if notice is not None:
        return Response(
            {
                "id": pk,
                "status": "rejected",
                "status_label": "Rejected",
                "stage": "",
                "progress": 0,
                "error": notice["message"],
            }
        )
    return Response(dataset.status_dict())


@api_view(["GET"])
def augment_preview(request: Request, pk: int) -> Response:
    dataset = dataset_for(request.user, pk)
    if not dataset.is_ready:
        return Response(
            {"error": f"The dataset is {dataset.get_status_display().lower()}; previews need it ready."},
            status=status.HTTP_409_CONFLICT,
        )
    try:
        wanted = presentation.PreviewRequest.from_query(request.query_params, dataset.classes)
        return Response(presentation.preview(dataset, wanted))
    except presentation.PreviewError as exc:
        return Response({"error": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
