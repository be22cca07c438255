"""The experiment form's live preview in real Chromium: the run's length in optimizer steps on the chosen
dataset, the recipe adapted to it, and the preflight's warnings as the fields change."""

from __future__ import annotations

import pytest

from tests.browser import BrowserTestCase, chromium_page, member_with_digits, sign_in
from tests.conftest import PASSWORD


@pytest.mark.browser
class ExperimentPreviewInTheBrowser(BrowserTestCase):
    def setUp(self) -> None:
        self.user, self.dataset = member_with_digits("ada", PASSWORD)

    def test_the_preview_counts_steps_and_warns_about_too_few(self) -> None:
        with chromium_page(self.live_server_url) as page:
            sign_in(page, "ada", PASSWORD)
            page.goto("/experiments/new/")
            page.select_option("#id_dataset", label=f"{self.dataset} (Demo team, 1,797 images)")
            steps = page.locator("#resolved-steps")
            steps.wait_for(state="visible")
            # The quick recipe on the digits' 1,259 training images: 19 steps an epoch, 8 epochs.
            page.wait_for_function("document.getElementById('resolved-steps').textContent.startsWith('152 ')")
            assert steps.inner_text().startswith("152 optimizer steps in total (19 per epoch: 1,259 training images")
            assert page.locator("#resolved-warnings").is_hidden()
            page.fill("#id_epochs", "2")
            page.wait_for_selector("#resolved-warnings li[data-field=epochs]")
            assert page.inner_text("#resolved-warnings").startswith("Only 38 optimizer steps in total")
            assert steps.inner_text().startswith("38 optimizer steps in total")
            assert page.external_requests == []
