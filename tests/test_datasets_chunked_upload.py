"""Big archives go up in chunks that resume after a dropped connection: create an upload, append chunks at
its offset, ask the offset after a drop, finish; the archive then takes the same path as a one-request
upload. Real database and Redis; the end-to-end test uses a real dataset worker."""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.datasets_files import stored_files
from tests.helpers import wait_until
from tests.images import class_entries, zip_bytes
from webapp.datasets import chunked
from webapp.datasets.models import REJECTED, ChunkedUpload, Dataset, DatasetStatus

pytestmark = pytest.mark.django_db
CHUNK = "application/octet-stream"


@pytest.fixture(autouse=True)
def upload_dir(settings):
    """A folder of this test's own for open uploads, next to the media folder (finishing moves the file)."""
    folder = Path(settings.DATA_DIR) / "test-uploads" / uuid.uuid4().hex[:8]
    settings.UPLOAD_DIR = folder
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def token_client(user) -> APIClient:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
    return api


def start(api, team, size: int, **fields):
    data = {"team": team.pk, "name": "Big archive", "filename": "big.zip", "size": size, **fields}
    return api.post(reverse("api_chunked_uploads"), data, format="json")


def send(api, url: str, offset: int, body: bytes):
    return api.generic("PATCH", url, body, content_type=CHUNK, HTTP_UPLOAD_OFFSET=str(offset))


def uploaded(api, team, archive: bytes, chunk: int) -> str:
    """Create an upload and send the whole archive in chunks of `chunk` bytes; returns its url."""
    url = start(api, team, len(archive)).json()["url"]
    for offset in range(0, len(archive), chunk):
        assert send(api, url, offset, archive[offset : offset + chunk]).status_code == 200
    return url


def test_an_archive_in_three_chunks_resumes_after_a_drop_and_is_processed_by_the_worker(
    owner, team, upload_dir, transactional_db, datasets_worker
):
    archive = zip_bytes(class_entries(3, 10, size=(24, 24)))
    api = token_client(owner)  # a script's client: token authentication
    third = len(archive) // 3 + 1
    chunks = [archive[i : i + third] for i in range(0, len(archive), third)]
    assert len(chunks) == 3
    created = start(api, team, len(archive), sha256=hashlib.sha256(archive).hexdigest())
    assert created.status_code == 201, created.json()
    url = created.json()["url"]
    assert created["Location"] == url and created.json()["offset"] == 0
    assert send(api, url, 0, chunks[0])["Upload-Offset"] == str(len(chunks[0]))
    assert send(api, url, len(chunks[0]), chunks[1]).status_code == 200
    # The connection drops here; later the client asks where to go on from.
    api = token_client(owner)
    head = api.head(url)
    assert head.status_code == 200 and head["Upload-Offset"] == str(len(chunks[0]) + len(chunks[1]))
    offset = api.get(url).json()["offset"]
    assert offset == len(chunks[0]) + len(chunks[1])
    assert send(api, url, offset, chunks[2]).json()["offset"] == len(archive)
    finished = api.post(url + "finish/")
    assert finished.status_code == 201, finished.json()
    pk = finished.json()["id"]
    assert not any(upload_dir.iterdir()) and not ChunkedUpload.objects.exists()  # the folder went with it

    def ready():
        state = api.get(reverse("api_dataset_status", args=[pk])).json()
        return state if state["status"] != DatasetStatus.PROCESSING else None

    state = wait_until(ready, 120, message=lambda: datasets_worker.read_log()[-3000:])
    assert state["status"] == DatasetStatus.READY, state
    dataset = Dataset.objects.get(pk=pk)
    assert dataset.name == "Big archive" and dataset.created_by == owner and dataset.num_images == 30
    assert dataset.origin["filename"] == "big.zip" and not dataset.upload  # processed as an upload is


def test_a_chunk_at_the_wrong_offset_is_refused_with_the_current_offset(owner, team):
    api = token_client(owner)
    url = start(api, team, 100).json()["url"]
    assert send(api, url, 0, b"a" * 40).status_code == 200
    for wrong in (0, 30, 60):
        response = send(api, url, wrong, b"b" * 10)
        assert response.status_code == 409
        assert response.json()["offset"] == 40 and response["Upload-Offset"] == "40"
    assert api.get(url).json()["offset"] == 40
    missing = api.generic("PATCH", url, b"x", content_type=CHUNK)
    assert missing.status_code == 400 and "Upload-Offset" in missing.json()["error"]
    wrong_type = api.generic("PATCH", url, b"x", content_type="application/json", HTTP_UPLOAD_OFFSET="40")
    assert wrong_type.status_code == 415


def test_uploads_over_the_cap_are_refused_and_leave_nothing(owner, team, settings, upload_dir):
    settings.DATASET_MAX_BYTES = 1000
    settings.UPLOAD_CHUNK_MAX = 300
    api = token_client(owner)
    response = start(api, team, 1001)
    assert response.status_code == 413 and "limit" in response.json()["error"]
    assert not ChunkedUpload.objects.exists() and not (upload_dir.exists() and any(upload_dir.iterdir()))
    url = start(api, team, 500).json()["url"]
    assert send(api, url, 0, b"x" * 301).status_code == 413  # above the chunk size
    assert send(api, url, 0, b"x" * 300).status_code == 200
    beyond = send(api, url, 300, b"x" * 201)  # beyond the declared size
    assert beyond.status_code == 413 and beyond.json()["offset"] == 300
    [folder] = upload_dir.iterdir()
    assert (folder / "data").stat().st_size == 300  # nothing of the refused chunks was kept


def test_a_chunk_cut_short_stores_nothing_of_it(owner, team):
    upload = chunked.create(owner, {"team": team.pk, "name": "Cut", "size": 100})
    chunked.append(upload, 0, 30, io.BytesIO(b"a" * 30))
    with pytest.raises(chunked.UploadRefused) as refused:
        chunked.append(upload, 30, 50, io.BytesIO(b"b" * 20))  # the connection dropped after 20 bytes
    assert refused.value.status == 400 and refused.value.extra["offset"] == 30
    assert chunked.offset_of(upload) == 30


def test_another_user_cannot_see_append_to_finish_or_cancel_my_upload(owner, outsider, teammate, team):
    url = start(token_client(owner), team, 100).json()["url"]
    for other in (outsider, teammate):
        api = token_client(other)
        assert api.get(url).status_code == 404
        assert api.head(url).status_code == 404
        assert send(api, url, 0, b"x" * 10).status_code == 404
        assert api.post(url + "finish/").status_code == 404
        assert api.delete(url).status_code == 404
        assert api.get(reverse("api_chunked_uploads")).json()["results"] == []
    assert token_client(owner).get(url).json()["offset"] == 0


def test_anonymous_requests_are_refused(owner, team):
    url = start(token_client(owner), team, 100).json()["url"]
    anonymous = APIClient()
    assert start(anonymous, team, 100).status_code in (401, 403)
    assert send(anonymous, url, 0, b"x" * 10).status_code in (401, 403)
    assert anonymous.get(url).status_code in (401, 403)
    assert anonymous.post(url + "finish/").status_code in (401, 403)
    assert ChunkedUpload.objects.count() == 1 and ChunkedUpload.objects.get().received == 0


def test_the_page_session_needs_its_csrf_token(client, owner, team):
    client.force_login(owner)
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(owner)
    data = {"team": team.pk, "name": "Big archive", "size": 10}
    url = reverse("api_chunked_uploads")
    assert strict.post(url, data, content_type="application/json").status_code == 403
    strict.get(reverse("dataset_upload"))
    token = strict.cookies["csrftoken"].value
    created = strict.post(url, data, content_type="application/json", HTTP_X_CSRFTOKEN=token)
    assert created.status_code == 201
    chunk_url = created.json()["url"]
    no_token = strict.generic("PATCH", chunk_url, b"x" * 10, content_type=CHUNK, HTTP_UPLOAD_OFFSET="0")
    assert no_token.status_code == 403
    with_token = strict.generic(
        "PATCH", chunk_url, b"x" * 10, content_type=CHUNK, HTTP_UPLOAD_OFFSET="0", HTTP_X_CSRFTOKEN=token
    )
    assert with_token.status_code == 200 and with_token.json()["offset"] == 10


def test_viewers_and_bad_fields_are_refused_before_any_byte(viewer, owner, team, other_team):
    assert start(token_client(viewer), team, 100).status_code == 403
    api = token_client(owner)
    foreign = start(api, other_team, 100)
    assert foreign.status_code == 400 and "team" in foreign.json()["errors"]
    assert start(api, team, 100, name="").status_code == 400
    assert start(api, team, 100, val_fraction=0.8, test_fraction=0.5).status_code == 400
    assert start(api, team, "lots").status_code == 400
    assert start(api, team, 100, sha256="abc").status_code == 400
    assert not ChunkedUpload.objects.exists()


def test_a_user_has_a_limited_number_of_open_uploads(owner, team, settings):
    settings.UPLOAD_MAX_OPEN = 2
    api = token_client(owner)
    first, _ = start(api, team, 10).json()["url"], start(api, team, 10)
    mine = api.get(reverse("api_chunked_uploads")).json()
    assert mine["count"] == 2 and mine["results"][0]["url"] == first
    refused = start(api, team, 10)
    assert refused.status_code == 429 and "TRAINYARD_UPLOAD_MAX_OPEN" in refused.json()["error"]
    assert api.delete(first).status_code == 204  # cancelling frees a place
    assert start(api, team, 10).status_code == 201


def test_a_refused_archive_is_removed_with_its_upload(owner, team, upload_dir):
    api = token_client(owner)
    before = stored_files()
    url = uploaded(api, team, b"this is not a zip archive" * 10, chunk=100)
    finished = api.post(url + "finish/")
    assert finished.status_code == 400 and "archive" in finished.json()["errors"]
    assert not ChunkedUpload.objects.exists() and not any(upload_dir.iterdir())
    assert stored_files() == before and not Dataset.objects.exists()


def test_a_wrong_checksum_or_a_missing_part_is_refused_on_finish(owner, team, upload_dir):
    api = token_client(owner)
    archive = zip_bytes(class_entries(2, 6))
    url = start(api, team, len(archive)).json()["url"]
    send(api, url, 0, archive[:100])
    early = api.post(url + "finish/")
    assert early.status_code == 409 and early.json()["offset"] == 100  # the upload stays
    assert api.get(url).status_code == 200
    api.delete(url)
    url = start(api, team, len(archive), sha256="0" * 64).json()["url"]
    send(api, url, 0, archive)
    wrong = api.post(url + "finish/")
    assert wrong.status_code == 400 and "SHA-256" in wrong.json()["error"]
    assert not any(upload_dir.iterdir()) and not Dataset.objects.exists()


def test_a_finished_upload_is_a_dataset_like_a_one_request_upload(owner, team, django_capture_on_commit_callbacks):
    from webapp.datasets.tasks import process_dataset

    api = token_client(owner)
    url = uploaded(api, team, zip_bytes(class_entries(2, 6)), chunk=1000)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        finished = api.post(url + "finish/")
    sent = [c for c in callbacks if "apply_async" in repr(c)]
    assert finished.status_code == 201 and len(sent) == 1  # the processing task, sent after the commit
    process_dataset.apply(args=[finished.json()["id"]])
    assert Dataset.objects.get().status == DatasetStatus.READY
    # The same archive again is refused by the worker as a one-request upload would be.
    url = uploaded(api, team, zip_bytes(class_entries(2, 6)), chunk=1000)
    with django_capture_on_commit_callbacks(execute=False):
        again = api.post(url + "finish/").json()["id"]
    process_dataset.apply(args=[again])
    assert api.get(reverse("api_dataset_status", args=[again])).json()["status"] == REJECTED


def test_stale_uploads_and_orphaned_folders_are_removed_by_the_cleanup(owner, team, upload_dir, settings):
    api = token_client(owner)
    stale = start(api, team, 100).json()["url"]
    send(api, stale, 0, b"x" * 50)
    fresh = start(api, team, 100).json()["url"]
    ChunkedUpload.objects.filter(pk=stale.rstrip("/").split("/")[-1]).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    orphan = upload_dir / uuid.uuid4().hex
    orphan.mkdir()
    (orphan / "data").write_bytes(b"left by a crash")
    old = time.time() - settings.UPLOAD_EXPIRY_SECONDS - 10
    os.utime(orphan, (old, old))
    assert api.get(stale).status_code == 404  # expired: gone for its owner at once
    from webapp.core import recovery

    recovery.periodically()  # what every worker runs every TRAINYARD_REAPER_SECONDS
    assert [u.to_dict()["url"] for u in ChunkedUpload.objects.all()] == [fresh]
    assert sorted(p.name for p in upload_dir.iterdir()) == [fresh.rstrip("/").split("/")[-1].replace("-", "")]


def test_the_endpoints_are_in_the_openapi_schema(client, owner):
    client.force_login(owner)
    schema = client.get(reverse("api_schema"), HTTP_ACCEPT="application/json").json()
    paths = schema["paths"]
    assert {"post", "get"} <= set(paths["/api/datasets/uploads/"])
    assert {"get", "patch", "delete"} <= set(paths["/api/datasets/uploads/{id}/"])
    assert "post" in paths["/api/datasets/uploads/{id}/finish/"]
    patch = paths["/api/datasets/uploads/{id}/"]["patch"]
    assert "application/octet-stream" in patch["requestBody"]["content"]
    assert "409" in patch["responses"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_a_chunk_above_the_chunk_cap_is_refused_before_its_body_is_read(owner, settings):
    from asgiref.sync import sync_to_async

    from tests.test_security_bodies import Recorder, first_response, http_scope
    from webapp.core.bodies import RequireSessionForBodies

    settings.UPLOAD_CHUNK_MAX = 2**20
    key = await sync_to_async(lambda: Token.objects.create(user=owner).key)()
    inner = Recorder()
    guard = RequireSessionForBodies(inner)
    path = f"/api/datasets/uploads/{uuid.uuid4()}/"
    headers = {"authorization": f"Token {key}", "upload-offset": "0"}
    status, body = await first_response(guard, http_scope(path, {**headers, "content-length": str(2**20 + 1)}, "PATCH"))
    assert status == 413 and b"A chunk may have at most 1.0 MiB" in body and inner.calls == 0
    status, _ = await first_response(guard, http_scope(path, {**headers, "content-length": str(2**20)}, "PATCH"))
    assert status == 204 and inner.calls == 1
    # Without a session or token a chunk larger than a small form never gets in.
    status, _ = await first_response(guard, http_scope(path, {"content-length": str(2**17)}, "PATCH"))
    assert status == 403 and inner.calls == 1


def test_finishing_moves_the_file_into_storage_without_copying_it(owner, team, upload_dir, settings):
    from django.core.files.storage import default_storage

    api = token_client(owner)
    url = uploaded(api, team, zip_bytes(class_entries(2, 6)), chunk=4096)
    [folder] = upload_dir.iterdir()
    inode = (folder / "data").stat().st_ino
    assert api.post(url + "finish/").status_code == 201
    stored = Path(default_storage.path(Dataset.objects.get().upload.name))
    assert stored.stat().st_ino == inode and not folder.exists()


def test_an_upload_of_a_deleted_team_goes_with_its_bytes(owner, team, upload_dir, django_capture_on_commit_callbacks):
    start(token_client(owner), team, 100)
    [folder] = upload_dir.iterdir()
    with django_capture_on_commit_callbacks(execute=True):
        team.delete()
    assert not ChunkedUpload.objects.exists() and not folder.exists()


def test_admins_see_open_uploads_and_how_far_they_got(admin_client, owner, team):
    url = start(token_client(owner), team, 2048).json()["url"]
    send(token_client(owner), url, 0, b"x" * 1024)
    page = admin_client.get(reverse("admin:datasets_chunkedupload_changelist"))
    assert page.status_code == 200
    html = page.content.decode()
    assert "big.zip" in html and "1.0 KiB of 2.0 KiB" in html and "alice" in html
