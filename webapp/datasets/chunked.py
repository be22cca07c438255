"""Chunked, resumable uploads of big archives (the tus protocol's semantics, in plain REST):

    create (the form's fields, the file's name and size)  ->  append chunks at the current offset
    ->  after a dropped connection, ask the offset and go on from there  ->  finish

Each open upload keeps its bytes in `<TRAINYARD_UPLOAD_DIR>/<id>/data`; a chunk is streamed from the
request body to that file in pieces (never held in memory) and is stored whole or not at all. Finishing
hands the file to the same form and intake as a one-request upload (moved into storage, not copied);
the folder goes on success and on rejection. Uploads nobody continued before they expire are reaped.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import re
import shutil
import time
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.http import Http404
from django.utils import timezone

from webapp.datasets.forms import UploadForm, split_fields
from webapp.datasets.models import ChunkedUpload, Dataset
from webapp.datasets.rejection import DatasetRejected, size_text

PIECE = 2**20  # bytes copied at a time from a request body to the file
FORM_FIELDS = ("team", "name", "description", "split_seed", "val_fraction", "test_fraction")
SHA256 = re.compile(r"^[0-9a-f]{64}$")


class UploadRefused(Exception):
    """A request the upload cannot take: its HTTP status, a message, and what else the answer says."""

    def __init__(self, status: int, message: str, **extra) -> None:
        super().__init__(message)
        self.status, self.message, self.extra = status, message, extra

    def answer(self) -> dict:
        return {"error": self.message, **self.extra}


def upload_for(user, pk) -> ChunkedUpload:
    """The user's own open upload: anyone else's, or an expired one, is a 404."""
    upload = ChunkedUpload.objects.filter(owner=user, pk=pk).select_related("team").first()
    if upload is None or upload.expires_at <= timezone.now():
        raise Http404("No such upload: it was finished, cancelled or has expired.")
    return upload


def _expiry():
    return timezone.now() + timedelta(seconds=settings.UPLOAD_EXPIRY_SECONDS)


# --- create ------------------------------------------------------------------------------------------
def form_data(data) -> dict:
    """The upload form's fields from a request (the split settings default as in the one-request API)."""
    fields = {name: data[name] for name in FORM_FIELDS if name in data}
    for name, field in split_fields().items():
        fields.setdefault(name, field.initial)
    return fields


def _declared_size(value) -> int:
    try:
        size = int(value)
    except (TypeError, ValueError):
        raise UploadRefused(400, "size: the archive's size in bytes is required (a whole number).") from None
    if size <= 0:
        raise UploadRefused(400, "size: the archive is empty.")
    if size > settings.DATASET_MAX_BYTES:
        raise UploadRefused(413, f"The upload is larger than the limit of {size_text(settings.DATASET_MAX_BYTES)}.")
    return size


def _checked_fields(user, data) -> tuple[dict, object]:
    """The form's fields, checked now as the form will check them on finish (so a wrong name or team is
    said before gigabytes are sent)."""
    fields = form_data(data)
    form = UploadForm(fields, {}, user=user)
    form.is_valid()
    errors = {k: v for k, v in form.errors.get_json_data().items() if k != "archive"}
    if errors:
        raise UploadRefused(400, "The upload's fields are not valid.", errors=errors)
    return fields, form.cleaned_data["team"]


def create(user, data) -> ChunkedUpload:
    """A new open upload, with an empty file in its own folder; raises UploadRefused."""
    size = _declared_size(data.get("size"))
    filename = Path(str(data.get("filename") or "archive.zip")).name[:255] or "archive.zip"
    digest = str(data.get("sha256") or "").strip().lower()
    if digest and not SHA256.match(digest):
        raise UploadRefused(400, "sha256: give the archive's SHA-256 as 64 hexadecimal digits.")
    fields, team = _checked_fields(user, data)
    reap()  # expired uploads do not count against anyone's quota
    if ChunkedUpload.objects.filter(owner=user).count() >= settings.UPLOAD_MAX_OPEN:
        raise UploadRefused(
            429,
            f"You have {settings.UPLOAD_MAX_OPEN} unfinished uploads (TRAINYARD_UPLOAD_MAX_OPEN): finish or "
            "cancel one of them first.",
        )
    fields["team"] = team.pk
    upload = ChunkedUpload(
        owner=user, team=team, fields=fields, filename=filename, size=size, sha256=digest, expires_at=_expiry()
    )
    upload.folder.mkdir(parents=True)
    upload.data_path.touch()
    upload.save()
    return upload


# --- append ------------------------------------------------------------------------------------------
@contextlib.contextmanager
def _locked(upload: ChunkedUpload):
    """The upload's file, open for writing and locked against a second request on the same upload."""
    try:
        f = open(upload.data_path, "r+b")  # noqa: SIM115 (closed below)
    except FileNotFoundError:
        raise Http404("No such upload: it was finished, cancelled or has expired.") from None
    try:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise UploadRefused(
                409, "Another request is writing to this upload: ask its offset, then go on.", offset=upload.received
            ) from None
        yield f
    finally:
        f.close()


def _check_chunk(upload: ChunkedUpload, offset: int, length: int, stored: int) -> None:
    if offset != stored:
        raise UploadRefused(409, f"The upload has {stored} bytes: send the chunk at offset {stored}.", offset=stored)
    if length > settings.UPLOAD_CHUNK_MAX:
        raise UploadRefused(413, f"A chunk may have at most {size_text(settings.UPLOAD_CHUNK_MAX)}.", offset=stored)
    if offset + length > upload.size:
        raise UploadRefused(413, f"The chunk goes beyond the declared size of {upload.size} bytes.", offset=stored)


def append(upload: ChunkedUpload, offset: int, length: int, body) -> int:
    """Write `length` bytes from the file-like `body` at `offset`; returns the new offset. A body that ends
    early (a dropped connection) stores nothing of the chunk."""
    with _locked(upload) as f:
        stored = f.seek(0, 2)
        _check_chunk(upload, offset, length, stored)
        left = length
        while left:
            piece = body.read(min(PIECE, left))
            if not piece:
                break
            f.write(piece[:left])
            left -= len(piece[:left])
        if left or body.read(1):
            f.truncate(stored)
            raise UploadRefused(400, f"The chunk did not have the {length} bytes its length says.", offset=stored)
        f.flush()
        upload.received = stored + length
    ChunkedUpload.objects.filter(pk=upload.pk).update(
        received=upload.received, updated_at=timezone.now(), expires_at=_expiry()
    )
    return upload.received


def offset_of(upload: ChunkedUpload) -> int:
    """The bytes stored (the file says; the row follows it after each chunk)."""
    try:
        return upload.data_path.stat().st_size
    except FileNotFoundError:
        raise Http404("No such upload: it was finished, cancelled or has expired.") from None


# --- finish ------------------------------------------------------------------------------------------
class AssembledArchive(UploadedFile):
    """The finished file, given to the upload form as if it had come in one request. Like Django's own
    temporary uploads it has a path, so file storage moves it into place instead of copying it."""

    def __init__(self, path: Path, name: str, size: int) -> None:
        super().__init__(open(path, "rb"), name=name, content_type="application/zip", size=size)  # noqa: SIM115
        self.path = path

    def temporary_file_path(self) -> str:
        return str(self.path)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while piece := f.read(PIECE):
            digest.update(piece)
    return digest.hexdigest()


def _form(upload: ChunkedUpload, archive: AssembledArchive) -> UploadForm:
    form = UploadForm(upload.fields, {"archive": archive}, user=upload.owner)
    if not form.is_valid():
        raise UploadRefused(400, "The upload was refused.", errors=form.errors.get_json_data())
    return form


def finish(upload: ChunkedUpload) -> Dataset:
    """Hand the complete file to the upload intake (the same checks, row and processing as a one-request
    upload). The upload's folder and row are gone afterwards, whether the archive was taken or refused."""
    with _locked(upload) as f:
        stored = f.seek(0, 2)
        if stored != upload.size:
            raise UploadRefused(
                409, f"The upload has {stored} of its {upload.size} bytes: send the rest first.", offset=stored
            )
        try:
            if upload.sha256 and _sha256(upload.data_path) != upload.sha256:
                raise UploadRefused(400, "The archive's SHA-256 is not the one declared: upload it again.")
            archive = AssembledArchive(upload.data_path, upload.filename, upload.size)
            try:
                return _form(upload, archive).save()
            except DatasetRejected as exc:
                raise UploadRefused(400, str(exc)) from None
            finally:
                archive.close()
        finally:
            discard(upload)


def discard(upload: ChunkedUpload) -> None:
    shutil.rmtree(upload.folder, ignore_errors=True)
    ChunkedUpload.objects.filter(pk=upload.pk).delete()


# --- cleanup -----------------------------------------------------------------------------------------
def reap() -> list[str]:
    """Remove expired uploads with their bytes, and folders no upload row owns (left by a crash) once they
    are as old as an upload may get; returns the expired uploads' ids."""
    expired = list(ChunkedUpload.objects.filter(expires_at__lte=timezone.now()))
    for upload in expired:
        discard(upload)
    root = Path(settings.UPLOAD_DIR)
    if root.is_dir():
        known = {pk.hex for pk in ChunkedUpload.objects.values_list("pk", flat=True)}
        oldest = time.time() - settings.UPLOAD_EXPIRY_SECONDS
        for folder in root.iterdir():
            if folder.name not in known and folder.stat().st_mtime < oldest:
                shutil.rmtree(folder, ignore_errors=True)
    return [str(u.pk) for u in expired]
