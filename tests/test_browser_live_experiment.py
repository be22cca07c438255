"""A user signs in, creates an experiment in the form and watches it train live, in real Chromium."""

from __future__ import annotations

import pytest

from tests.browser import BrowserTestCase, chromium_page, member_with_digits, sign_in
from tests.conftest import PASSWORD
from tests.helpers import wait_until
from webapp.experiments.models import EpochMetric, Experiment
from webapp.experiments.states import FINAL, Status

EPOCHS = 4


@pytest.mark.browser
@pytest.mark.worker
class LiveExperimentInTheBrowser(BrowserTestCase):
    @pytest.fixture(autouse=True)
    def _worker(self, celery_worker):
        self.worker = celery_worker  # its log goes into failure messages

    def setUp(self) -> None:
        self.user, self.dataset = member_with_digits("ada", PASSWORD)

    def test_the_chart_grows_live_until_the_run_succeeds(self) -> None:
        # No ORM calls while Playwright runs: its sync API keeps an event loop in this thread.
        with chromium_page(self.live_server_url) as page:
            sign_in(page, "ada", PASSWORD)
            page.click("text=New experiment")
            page.fill("#id_name", "digits in the browser")
            page.select_option("#id_dataset", label=f"{self.dataset} (Demo team, 1,797 images)")
            page.select_option("#id_arch", "small_cnn")
            page.fill("#id_epochs", str(EPOCHS))
            page.fill("#id_image_size", "16")
            page.select_option("#id_device", "cpu")
            page.click("text=Queue experiment")
            page.wait_for_url("**/experiments/*/")
            page.evaluate("window.__notReloaded = true")

            seen_counts = set()

            def final_status() -> str | None:
                seen_counts.add(page.evaluate("(document.getElementById('chart-loss').data || [{x: []}])[0].x.length"))
                status = page.get_attribute("#status", "data-status")
                return status if status in FINAL else None

            status = wait_until(final_status, 180, 0.1, message=lambda: self.worker.read_log()[-4000:])
            assert status == Status.SUCCEEDED, page.inner_text("#error-box") + "\n" + self.worker.read_log()[-4000:]
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
