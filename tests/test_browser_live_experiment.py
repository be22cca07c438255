"""A user signs in, creates an experiment in the form and watches it train live, in real Chromium."""
from __future__ import annotations

import time
from pathlib import Path

import pytest
from channels.testing import ChannelsLiveServerTestCase
from django.conf import settings

from tests.browser import chromium_page, sign_in
from tests.conftest import PASSWORD
from webapp.datasets.demo import DEMO_NAME, write_digits_folder
from webapp.datasets.models import Dataset
from webapp.experiments.models import EpochMetric, Experiment, Status
from webapp.teams.models import Role, Team

EPOCHS = 4


@pytest.mark.browser
@pytest.mark.worker
class LiveExperimentInTheBrowser(ChannelsLiveServerTestCase):
    @pytest.fixture(autouse=True)
    def _worker(self, celery_worker):
        self.worker = celery_worker  # its log goes into failure messages

    def setUp(self) -> None:
        from django.contrib.auth import get_user_model

        team = Team.objects.create(name="Demo team")
        self.user = get_user_model().objects.create_user("ada", password=PASSWORD)
        team.add_member(self.user, Role.MEMBER)
        root = "datasets/builtin/digits-browser-test"
        if not (Path(settings.MEDIA_ROOT) / root).exists():
            write_digits_folder(Path(settings.MEDIA_ROOT) / root)
        self.dataset = Dataset(team=team, name=DEMO_NAME, root=root)
        self.dataset.scan()
        self.dataset.save()

    def test_the_chart_grows_live_until_the_run_succeeds(self) -> None:
        # No ORM calls while Playwright runs: its sync API keeps an event loop in this thread.
        with chromium_page(self.live_server_url) as page:
            sign_in(page, "ada", PASSWORD)
            page.click("text=New experiment")
            page.fill("#id_name", "digits in the browser")
            page.select_option("#id_dataset", label=f"{DEMO_NAME} (Demo team, 1797 images)")
            page.select_option("#id_arch", "small_cnn")
            page.fill("#id_epochs", str(EPOCHS))
            page.fill("#id_image_size", "16")
            page.select_option("#id_device", "cpu")
            page.click("text=Queue experiment")
            page.wait_for_url("**/experiments/*/")
            page.evaluate("window.__notReloaded = true")

            seen_counts = set()
            deadline = time.monotonic() + 180
            status = None
            while time.monotonic() < deadline:
                count = page.evaluate("(document.getElementById('chart-loss').data || [{x: []}])[0].x.length")
                seen_counts.add(count)
                status = page.get_attribute("#status", "data-status")
                if status in {"succeeded", "failed", "cancelled", "stopped_early"}:
                    break
                time.sleep(0.1)

            assert status == "succeeded", page.inner_text("#error-box") + "\n" + self.worker.read_log()[-4000:]
            assert page.inner_text("#status") == "Succeeded"
            final = page.evaluate("document.getElementById('chart-loss').data.map(t => t.x)")
            assert final == [list(range(1, EPOCHS + 1))] * 2  # train and validation, one point per epoch
            accuracy_points = page.evaluate("document.getElementById('chart-acc').data[1].y.length")
            assert accuracy_points == EPOCHS
            # Points arrived while the page was open, not all at once at load time, and no reload happened.
            assert any(0 < c < EPOCHS for c in seen_counts), seen_counts
            assert page.evaluate("window.__notReloaded") is True
            assert page.locator("#epoch-table tbody tr").count() == EPOCHS
            assert page.inner_text("#stat-test-acc").endswith("%")
            assert page.external_requests == []  # every asset is served by Trainyard itself

        experiment = Experiment.objects.get()
        assert experiment.status == Status.SUCCEEDED
        assert EpochMetric.objects.filter(experiment=experiment).count() == EPOCHS
