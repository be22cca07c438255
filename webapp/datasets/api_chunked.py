"""The chunked upload endpoints (webapp/datasets/chunked.py says how it works):

    POST   /api/datasets/uploads/               the form's fields + filename, size[, sha256] -> 201, its url
    HEAD   /api/datasets/uploads/<id>/          Upload-Offset: the bytes stored (GET: the same as JSON)
    PATCH  /api/datasets/uploads/<id>/          Upload-Offset + a chunk of bytes -> the new Upload-Offset
    POST   /api/datasets/uploads/<id>/finish/   -> 201 and the dataset, as the one-request upload answers
    DELETE /api/datasets/uploads/<id>/          cancel: the bytes are removed

Session (with CSRF) or token authentication; an upload is seen only by its owner (others get 404).
"""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import api_view
from rest_framework.request import Request
from rest_framework.response import Response

from webapp.core.api_pages import Pages
from webapp.core.api_schema import ErrorSerializer, page_of
from webapp.datasets import chunked
from webapp.datasets.api import DatasetSerializer
from webapp.datasets.models import ChunkedUpload
from webapp.teams.access import writable_teams

CHUNK_TYPES = {"application/offset+octet-stream", "application/octet-stream"}


class StartUploadSerializer(serializers.Serializer):
    """The upload form's fields (as in the one-request upload), and the archive's name and size."""

    team = serializers.IntegerField()
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True)
    split_seed = serializers.IntegerField(required=False, min_value=0)
    val_fraction = serializers.FloatField(required=False)
    test_fraction = serializers.FloatField(required=False)
    filename = serializers.CharField(required=False, help_text="the archive's file name")
    size = serializers.IntegerField(help_text="the archive's size in bytes; at most the upload cap")
    sha256 = serializers.CharField(required=False, help_text="optional: checked when the upload is finished")


class ChunkedUploadSerializer(serializers.Serializer):
    """An open upload: `offset` is how many bytes it has; send the next chunk from there."""

    id = serializers.UUIDField()
    url = serializers.CharField()
    team = serializers.IntegerField()
    filename = serializers.CharField()
    size = serializers.IntegerField()
    offset = serializers.IntegerField()
    chunk_max = serializers.IntegerField(help_text="the most bytes one PATCH may carry")
    sha256 = serializers.CharField()
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField(help_text="removed after this unless a chunk arrives")


class OffsetErrorSerializer(ErrorSerializer):
    offset = serializers.IntegerField(help_text="the bytes the upload has: send the next chunk from here")


def _state(upload: ChunkedUpload, code: int = status.HTTP_200_OK) -> Response:
    upload.received = chunked.offset_of(upload)
    response = Response(upload.to_dict(), status=code)
    response["Upload-Offset"] = str(upload.received)
    response["Upload-Length"] = str(upload.size)
    response["Cache-Control"] = "no-store"
    if code == status.HTTP_201_CREATED:
        response["Location"] = upload.to_dict()["url"]
    return response


def _refused(exc: chunked.UploadRefused) -> Response:
    response = Response(exc.answer(), status=exc.status)
    if "offset" in exc.extra:
        response["Upload-Offset"] = str(exc.extra["offset"])
    return response


@extend_schema(
    methods=["POST"],
    operation_id="datasets_uploads_create",
    request=StartUploadSerializer,
    responses={
        201: ChunkedUploadSerializer,
        400: ErrorSerializer,
        403: ErrorSerializer,
        413: ErrorSerializer,
        429: ErrorSerializer,
    },
)
@extend_schema(methods=["GET"], operation_id="datasets_uploads_list", responses=page_of(ChunkedUploadSerializer))
@api_view(["GET", "POST"])
def upload_list(request: Request) -> Response:
    """GET: your unfinished uploads. POST: start a chunked upload of a big archive."""
    if request.method == "GET":
        chunked.reap()
        pages = Pages()
        page = pages.paginate_queryset(ChunkedUpload.objects.filter(owner=request.user), request)
        return pages.get_paginated_response([u.to_dict() for u in page])
    if not writable_teams(request.user).exists():
        return Response({"error": "Viewers cannot upload datasets."}, status=status.HTTP_403_FORBIDDEN)
    try:
        upload = chunked.create(request.user, request.data)
    except chunked.UploadRefused as exc:
        return _refused(exc)
    return _state(upload, status.HTTP_201_CREATED)


CHUNK_DOC = extend_schema(
    methods=["PATCH"],
    operation_id="datasets_uploads_append",
    summary="Append a chunk at Upload-Offset",
    parameters=[
        OpenApiParameter(
            "Upload-Offset", int, OpenApiParameter.HEADER, required=True, description="the offset the chunk starts at"
        )
    ],
    request={"application/octet-stream": OpenApiTypes.BINARY},
    responses={
        200: ChunkedUploadSerializer,
        400: OffsetErrorSerializer,
        404: ErrorSerializer,
        409: OffsetErrorSerializer,
        411: ErrorSerializer,
        413: OffsetErrorSerializer,
        415: ErrorSerializer,
    },
)


def _chunk_headers(request: Request) -> tuple[int, int]:
    content_type = request.content_type.split(";")[0].strip().lower()
    if content_type not in CHUNK_TYPES:
        raise chunked.UploadRefused(415, "Send a chunk as application/octet-stream.")
    length = request.META.get("CONTENT_LENGTH")
    if not length:
        raise chunked.UploadRefused(411, "A chunk needs a Content-Length.")
    try:
        return int(request.headers.get("Upload-Offset", "")), int(length)
    except ValueError:
        raise chunked.UploadRefused(400, "Upload-Offset and Content-Length must be whole numbers.") from None


@CHUNK_DOC
@extend_schema(methods=["GET"], operation_id="datasets_uploads_retrieve", responses=ChunkedUploadSerializer)
@extend_schema(methods=["DELETE"], operation_id="datasets_uploads_cancel", responses={204: None})
@api_view(["GET", "HEAD", "PATCH", "DELETE"])
def upload_detail(request: Request, pk) -> Response:
    """GET or HEAD: the upload's offset (also as the Upload-Offset header). PATCH: append a chunk of at
    most `chunk_max` bytes at exactly that offset (409 with the offset otherwise). DELETE: cancel."""
    upload = chunked.upload_for(request.user, pk)
    if request.method == "DELETE":
        chunked.discard(upload)
        return Response(status=status.HTTP_204_NO_CONTENT)
    if request.method == "PATCH":
        try:
            offset, length = _chunk_headers(request)
            chunked.append(upload, offset, length, request._request)  # the raw body, read in pieces
        except chunked.UploadRefused as exc:
            return _refused(exc)
    return _state(upload)


@extend_schema(
    request=None,
    operation_id="datasets_uploads_finish",
    responses={
        201: DatasetSerializer,
        400: OpenApiResponse(ErrorSerializer, description="the archive was refused; the upload is removed"),
        404: ErrorSerializer,
        409: OffsetErrorSerializer,
    },
)
@api_view(["POST"])
def upload_finish(request: Request, pk) -> Response:
    """Make the dataset from the complete upload, as the one-request upload does (same checks, same
    processing). Refused archives are removed with the upload."""
    upload = chunked.upload_for(request.user, pk)
    try:
        dataset = chunked.finish(upload)
    except chunked.UploadRefused as exc:
        return _refused(exc)
    return Response(dataset.to_dict(), status=status.HTTP_201_CREATED)
