"""A team member looks at a dataset in real Chromium: charts, samples, the health report, the
augmentation preview, and an upload followed by its progress bar until the dataset is ready."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from django.conf import settings

from tests.browser import BrowserTestCase, chromium_page, sign_in
from tests.conftest import PASSWORD
from tests.helpers import wait_until
from tests.images import class_entries, make_image_folder, zip_bytes
from webapp.datasets import intake
from webapp.datasets.models import Dataset, DatasetStatus
from webapp.teams.models import Role, Team


def status_after_processing(page) -> str | None:
    """The status the dataset page shows once processing has ended (None before, and while it reloads)."""
    from playwright.sync_api import Error

    try:
        status = page.evaluate("(s => s && s.dataset.status)(document.getElementById('status'))")
    except Error:  # the page reloads itself once processing ends: asked during the reload
        return None
    return None if status in {None, DatasetStatus.PROCESSING} else status


@pytest.mark.browser
@pytest.mark.worker
@pytest.mark.usefixtures("datasets_worker")
class DatasetPagesInTheBrowser(BrowserTestCase):
    def setUp(self) -> None:
        from django.contrib.auth import get_user_model

        self.team = Team.objects.create(name="Browser team")
        user = get_user_model().objects.create_user("ada", password=PASSWORD)
        self.team.add_member(user, Role.MEMBER)
        root = f"datasets/test/browser-{uuid.uuid4().hex[:8]}"
        folder = make_image_folder(Path(settings.MEDIA_ROOT) / root, classes=3, per_class=10, size=16)
        # Planted: one image copied into another class folder shows up in the health report.
        (folder / "class_2" / "copy.png").write_bytes((folder / "class_0" / "img_000.png").read_bytes())
        self.dataset = intake.add_in_place(Dataset(team=self.team, name="Colors", root=root))

    def test_the_dataset_page_draws_its_charts_samples_and_report(self) -> None:
        url = self.dataset.get_absolute_url()
        augment_url = f"/datasets/{self.dataset.pk}/augment/"
        # No ORM calls while Playwright runs: its sync API keeps an event loop in this thread.
        with chromium_page(self.live_server_url) as page:
            sign_in(page, "ada", PASSWORD)
            assert "/login/" not in page.url  # sign_in's "**/" also matches a failed sign-in
            page.click("nav >> text=Datasets")
            page.click("text=Colors")
            page.wait_for_url(f"**{url}")
            page.wait_for_function("document.getElementById('chart-classes').data !== undefined")
            bars = page.evaluate("document.getElementById('chart-classes').data.map(t => [t.name, t.x, t.y])")
            assert [b[1] for b in bars] == [["class_0", "class_1", "class_2"]] * len(bars)
            totals = [sum(values) for values in zip(*[b[2] for b in bars], strict=True)]
            assert totals == [10, 10, 11]
            sizes = page.evaluate("document.getElementById('chart-sizes').data.map(t => t.name)")
            assert sizes == ["width", "height"]
            page.wait_for_function(
                "[...document.querySelectorAll('#samples img')].every(i => i.complete && i.naturalWidth > 0)"
            )
            assert page.locator("#samples img").count() == 24  # 8 samples of each of 3 classes
            report = page.inner_text("#health")
            assert (
                "1 image appears under more than one label" in report
                and "No image appears in more than one split" in report
            )

            page.click("text=Augmentation preview")
            page.wait_for_url(f"**{augment_url}")
            page.wait_for_function("document.querySelectorAll('#preview-grid img').length === 21")  # 3 x (1 + 6)
            page.select_option("#preset", "heavy")
            page.wait_for_function("document.getElementById('preview-grid').dataset.preset === 'heavy'")
            page.fill("#n", "2")
            page.click("#preview-button")
            page.wait_for_function("document.querySelectorAll('#preview-grid img').length === 9")
            assert page.evaluate("[...document.querySelectorAll('#preview-grid img')].every(i => i.naturalWidth > 0)")
            page.select_option("#preset", "custom")
            page.fill("#custom_ops", "explode=9")
            page.click("#preview-button")
            page.wait_for_selector("#preview-error:not([hidden])")
            assert "unknown operation 'explode'" in page.inner_text("#preview-error")
            assert page.external_requests == []  # every asset is served by Trainyard itself


@pytest.mark.browser
@pytest.mark.worker
@pytest.mark.usefixtures("datasets_worker")
class UploadInTheBrowser(BrowserTestCase):
    # One test per class: each class gets a fresh live server. A second test on the same server cannot
    # sign in: the server does not see the rows the second setUp makes (true of any test class here).
    def setUp(self) -> None:
        from django.contrib.auth import get_user_model

        team = Team.objects.create(name="Upload team")
        team.add_member(get_user_model().objects.create_user("ada", password=PASSWORD), Role.MEMBER)

    def test_an_upload_shows_its_progress_until_the_dataset_is_ready(self) -> None:
        archive = Path(settings.MEDIA_ROOT).parent / f"upload-{uuid.uuid4().hex[:8]}.zip"
        archive.write_bytes(zip_bytes(class_entries(3, 30, size=(24, 24))))
        try:
            with chromium_page(self.live_server_url) as page:
                sign_in(page, "ada", PASSWORD)
                assert "/login/" not in page.url
                page.goto("/datasets/")
                page.click("text=Upload a dataset")
                page.fill("#id_name", "Uploaded in the browser")
                page.set_input_files("#id_archive", str(archive))
                page.click("button:has-text('Upload')")
                page.wait_for_url("**/datasets/*/")
                # While processing, the progress bar shows (unless the worker was faster than the page).
                # (The page reloads itself once the dataset is ready: elements may be missing for a moment.)
                page.wait_for_function(
                    "(s => s && (s.dataset.status === 'ready' || "
                    "!document.getElementById('progress-card').hidden))(document.getElementById('status'))"
                )
                status = wait_until(lambda: status_after_processing(page), 120, message="processing to end")
                page.wait_for_load_state()
                assert status == DatasetStatus.READY, page.inner_text("main")
                page.wait_for_function(
                    "document.getElementById('chart-classes') && document.getElementById('chart-classes').data"
                )
                assert page.inner_text("#stat-images") == "90"
                assert page.locator("#progress-card").is_hidden()
        finally:
            archive.unlink(missing_ok=True)
        dataset = Dataset.objects.get(name="Uploaded in the browser")
        assert dataset.status == DatasetStatus.READY and dataset.num_images == 90
