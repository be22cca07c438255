"""The upload page in real Chromium sends an archive in small chunks: a dropped chunk is sent again by itself,
and after the page is reloaded mid-upload, choosing the same file again goes on from the server's offset.
(Chromium's requests are cut with Playwright's routing: the network itself cannot be unplugged here.)"""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.test import override_settings

from tests.browser import BrowserTestCase, chromium_page, sign_in
from tests.conftest import PASSWORD
from tests.helpers import wait_until
from tests.images import class_entries, zip_bytes
from tests.test_datasets_browser import status_after_processing
from webapp.datasets.models import ChunkedUpload, Dataset, DatasetStatus
from webapp.teams.models import Role, Team

CHUNK = 8192
SERVER_OFFSET = """async () => {
  const key = Object.keys(localStorage).find((k) => k.startsWith("trainyard-upload:"));
  const answer = await fetch(JSON.parse(localStorage.getItem(key)).url, {headers: {Accept: "application/json"}});
  return (await answer.json()).offset;
}"""


class Cutter:
    """Aborts the chunk requests whose numbers (1, 2, …) are in `cut`, and every one from `cut_from` on."""

    def __init__(self, cut: set[int], cut_from: int) -> None:
        self.cut, self.cut_from, self.offsets = cut, cut_from, []

    def __call__(self, route) -> None:
        request = route.request
        if request.method != "PATCH":
            route.continue_()
            return
        self.offsets.append(int(request.headers["upload-offset"]))
        n = len(self.offsets)
        if n in self.cut or n >= self.cut_from:
            route.abort("connectionreset")
        else:
            route.continue_()


def fill_form(page, archive: Path) -> None:
    page.fill("#id_name", "Chunked in the browser")
    page.set_input_files("#id_archive", str(archive))
    page.click("button:has-text('Upload')")


@pytest.mark.browser
@pytest.mark.worker
@pytest.mark.usefixtures("datasets_worker")
@override_settings(UPLOAD_CHUNK_BYTES=CHUNK)
class ChunkedUploadInTheBrowser(BrowserTestCase):
    def setUp(self) -> None:
        from django.contrib.auth import get_user_model

        team = Team.objects.create(name="Chunk team")
        team.add_member(get_user_model().objects.create_user("ada", password=PASSWORD), Role.MEMBER)

    def test_an_upload_survives_a_dropped_chunk_and_a_reload(self) -> None:
        archive = Path(settings.MEDIA_ROOT).parent / f"chunked-{uuid.uuid4().hex[:8]}.zip"
        archive.write_bytes(zip_bytes(class_entries(3, 30, size=(24, 24))))
        assert archive.stat().st_size > 6 * CHUNK
        try:
            with chromium_page(self.live_server_url) as page:
                sign_in(page, "ada", PASSWORD)
                # Chunk 2 is lost once (sent again by itself); from chunk 5 on, nothing gets through.
                cutter = Cutter(cut={2}, cut_from=5)
                page.route("**/api/datasets/uploads/*/", cutter)
                page.goto("/datasets/upload/")
                fill_form(page, archive)
                for _ in range(600):  # a minute at most (waiting in Playwright lets the routes run)
                    if len(cutter.offsets) >= 5:
                        break
                    page.wait_for_timeout(100)
                assert cutter.offsets[:4] == [0, CHUNK, CHUNK, 2 * CHUNK]  # the lost chunk came again
                page.wait_for_function("document.getElementById('upload-text').textContent.includes('trying again')")
                assert page.is_visible("#upload-progress")  # with how far it got
                assert page.evaluate("parseInt(document.getElementById('upload-bar').style.width)") > 0
                # The page is reloaded (or the browser closed); the same file is chosen again.
                page.unroute("**/api/datasets/uploads/*/")
                page.goto("/datasets/upload/")
                assert page.evaluate(SERVER_OFFSET) == 3 * CHUNK
                resumed = Cutter(cut=set(), cut_from=10**9)
                page.route("**/api/datasets/uploads/*/", resumed)
                fill_form(page, archive)
                page.wait_for_url(re.compile(r"/datasets/\d+/$"), timeout=60_000)
                assert resumed.offsets[0] == 3 * CHUNK  # went on where the server stopped, not from 0
                assert page.evaluate("Object.keys(localStorage).length") == 0
                status = wait_until(lambda: status_after_processing(page), 120, message="processing to end")
                assert status == DatasetStatus.READY, page.inner_text("main")
        finally:
            archive.unlink(missing_ok=True)
        dataset = Dataset.objects.get(name="Chunked in the browser")
        assert dataset.status == DatasetStatus.READY and dataset.num_images == 90
        assert not ChunkedUpload.objects.exists()
