"""In real Chromium: create an experiment from non-default presets, watch it live, cancel it, resume it."""

from __future__ import annotations

import pytest

from tests.browser import BrowserTestCase, chromium_page, member_with_digits, sign_in
from tests.conftest import PASSWORD
from tests.helpers import wait_until
from webapp.experiments.models import EpochMetric, Experiment
from webapp.experiments.states import Status

EPOCHS = 12


def chart_epochs(page) -> list[int]:
    return page.evaluate("(document.getElementById('chart-loss').data || [{x: []}])[0].x")


def wait_for(page, predicate, timeout: float = 180, what: str = "condition"):
    return wait_until(
        predicate, timeout, 0.1, message=lambda: f"{what}; status {page.get_attribute('#status', 'data-status')}"
    )


@pytest.mark.browser
@pytest.mark.worker
class QueueControlInTheBrowser(BrowserTestCase):
    @pytest.fixture(autouse=True)
    def _worker(self, celery_worker):
        self.worker = celery_worker  # its log goes into failure messages

    def setUp(self) -> None:
        self.user, self.dataset = member_with_digits("grace", PASSWORD)

    def test_a_user_creates_from_presets_watches_cancels_and_resumes(self) -> None:
        with chromium_page(self.live_server_url) as page:
            sign_in(page, "grace", PASSWORD)
            page.goto("/experiments/new/")
            page.fill("#id_name", "presets in the browser")
            page.select_option("#id_preset_augmentation", "augment-no-flip")
            page.select_option("#id_preset_optimizer", "sgd-step")
            # The presets filled in the fields, and the preview shows the resolved config.
            assert page.input_value("#id_optimizer") == "sgd"
            assert page.input_value("#id_scheduler") == "step"
            page.fill("#id_epochs", str(EPOCHS))
            page.fill("#id_image_size", "16")
            page.select_option("#id_device", "cpu")
            page.wait_for_function(
                f"document.getElementById('resolved-config').textContent.includes('\"epochs\": {EPOCHS}')"
            )
            assert '"scheduler": "step"' in page.inner_text("#resolved-config")
            page.click("text=Queue experiment")
            page.wait_for_url("**/experiments/*/")

            wait_for(page, lambda: len(chart_epochs(page)) >= 2, what="two epochs on the chart")
            page.click("#cancel-button")
            page.wait_for_selector(f"#status[data-status={Status.CANCELLED}]", timeout=120_000)
            # The action reloads the page: the chart redraws from the stored history.
            kept = wait_for(page, lambda: chart_epochs(page), 30, "the history on the chart")
            assert kept == list(range(1, len(kept) + 1)) and 2 <= len(kept) < EPOCHS
            assert page.is_visible("#resume-button") and not page.is_visible("#cancel-button")
            assert page.inner_text("#checkpoint-epoch") == str(len(kept))

            page.click("#resume-button")
            page.wait_for_selector(f"#status[data-status={Status.SUCCEEDED}]", timeout=180_000)
            wait_for(page, lambda: len(chart_epochs(page)) == EPOCHS, 30, "every epoch on the chart")
            assert chart_epochs(page) == list(range(1, EPOCHS + 1))
            log = page.inner_text("#log")
            assert f"resuming after epoch {len(kept)}" in log, log
            assert page.external_requests == []

        experiment = Experiment.objects.get()
        assert experiment.status == Status.SUCCEEDED
        assert experiment.presets == ["quick", "augment-no-flip", "sgd-step"]
        assert (
            experiment.config["optimizer"] == "sgd" and experiment.config["augment_ops"] == "translate=0.125,rotate=10"
        )
        assert list(EpochMetric.objects.filter(experiment=experiment).values_list("epoch", flat=True)) == list(
            range(1, EPOCHS + 1)
        )
