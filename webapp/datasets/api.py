"""JSON API for datasets (session auth, CSRF on writes, team access through access.py). Datasets are
answered with `Dataset.to_dict()`, their state with `Dataset.status_dict()`."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import api_view
from rest_framework.request import Request
from rest_framework.response import Response

from webapp.core.api_pages import Pages
from webapp.core.api_schema import ErrorSerializer, FromDict, page_of
from webapp.datasets import notices, preview
from webapp.datasets.access import dataset_for, dataset_or_rejection, datasets_for
from webapp.datasets.forms import UploadForm, split_fields, upload_too_large, upload_too_large_message
from webapp.datasets.models import DatasetStatus
from webapp.datasets.rejection import DatasetRejected
from webapp.teams.access import writable_teams

# A rejected upload's id answers the status keys too, with this status (see notices.status_dict).
STATES = [*DatasetStatus.choices, (notices.REJECTED, notices.REJECTED_LABEL)]


class DatasetStatusSerializer(FromDict):
    """`Dataset.status_dict()`: its state while it is processed."""

    method = "status_dict"
    id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=STATES)
    status_label = serializers.CharField()
    stage = serializers.CharField()
    progress = serializers.IntegerField()
    error = serializers.CharField()
    url = serializers.CharField(allow_null=True)


class DatasetSerializer(DatasetStatusSerializer):
    """`Dataset.to_dict()`: its state, data, split and statistics."""

    method = "to_dict"
    name = serializers.CharField()
    version = serializers.IntegerField()
    team = serializers.IntegerField()
    description = serializers.CharField()
    source = serializers.CharField()
    classes = serializers.ListField(child=serializers.CharField())
    class_counts = serializers.JSONField()
    num_images = serializers.IntegerField()
    size_bytes = serializers.IntegerField()
    content_hash = serializers.CharField()
    split = serializers.DictField()
    mean = serializers.ListField(child=serializers.FloatField())
    std = serializers.ListField(child=serializers.FloatField())
    created_at = serializers.DateTimeField()
    processed_at = serializers.DateTimeField(allow_null=True)


class DatasetDetailSerializer(DatasetSerializer):
    report = serializers.DictField()


class UploadSerializer(serializers.Serializer):
    """Documents the upload (multipart); the upload form validates it."""

    team = serializers.IntegerField()
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True)
    archive = serializers.FileField(help_text="a zip archive: one folder per class, or train/val/test folders")
    split_seed = serializers.IntegerField(required=False, min_value=0)
    val_fraction = serializers.FloatField(required=False)
    test_fraction = serializers.FloatField(required=False)


def paginated(request: Request, rows) -> Response:
    pages = Pages()
    page = pages.paginate_queryset(rows, request)
    return pages.get_paginated_response([d.to_dict() for d in page])


@extend_schema(methods=["GET"], responses=page_of(DatasetSerializer), operation_id="datasets_list")
@extend_schema(
    methods=["POST"],
    operation_id="datasets_upload",
    request={"multipart/form-data": UploadSerializer},
    responses={201: DatasetSerializer, 400: ErrorSerializer, 403: ErrorSerializer, 413: ErrorSerializer},
)
@api_view(["GET", "POST"])
def dataset_list(request: Request) -> Response:
    """GET: your teams' datasets (every version). POST: upload a zip archive as a new dataset or version."""
    if request.method == "GET":
        return paginated(request, datasets_for(request.user))
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


@extend_schema(responses=DatasetDetailSerializer)
@api_view(["GET"])
def dataset_detail(request: Request, pk: int) -> Response:
    dataset = dataset_for(request.user, pk)
    return Response({**dataset.to_dict(), "report": {k: v for k, v in dataset.report.items() if k != "samples"}})


@extend_schema(responses=page_of(DatasetSerializer), operation_id="datasets_versions_list")
@api_view(["GET"])
def dataset_versions(request: Request, pk: int) -> Response:
    """Every version of this dataset's name in its team, newest first."""
    return paginated(request, dataset_for(request.user, pk).versions().select_related("team"))


@extend_schema(responses=DatasetStatusSerializer)
@api_view(["GET"])
def dataset_status(request: Request, pk: int) -> Response:
    """What the page polls while a dataset is processed; a rejected upload answers with its message."""
    dataset, notice = dataset_or_rejection(request.user, pk)
    return Response(notices.status_dict(notice) if notice is not None else dataset.status_dict())


@extend_schema(
    parameters=[
        OpenApiParameter("preset", str, required=True),
        *(OpenApiParameter(name, int) for name in ("n", "image_size", "seed")),
        OpenApiParameter("custom_ops", str),
        OpenApiParameter("class", str),
    ],
    responses={200: OpenApiTypes.OBJECT, 400: ErrorSerializer, 409: ErrorSerializer},
)
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
