"""Comparing three experiments in real Chromium: overlaid curves, the differing config keys (and all of
them on request), the metrics table and the confusion matrices side by side, from a shared URL."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from tests.browser import BrowserTestCase, chromium_page, sign_in
from tests.conftest import PASSWORD
from tests.helpers import TINY_CONFIG, folder_dataset
from tests.results_helpers import finish_with
from training import TrainConfig
from webapp.experiments.models import Experiment
from webapp.teams.models import Role, Team


@pytest.mark.browser
class CompareInTheBrowser(BrowserTestCase):
    def setUp(self) -> None:
        team = Team.objects.create(name="Compare team")
        user = get_user_model().objects.create_user("ada", password=PASSWORD)
        team.add_member(user, Role.VIEWER)
        dataset = folder_dataset(team, "Shapes")

        def run(name: str, accuracy: float, epochs: int, **changes) -> Experiment:
            config = TrainConfig.from_dict({**TINY_CONFIG, **changes}).to_dict()
            e = Experiment.objects.create(team=team, owner=user, dataset=dataset, name=name, config=config)
            return finish_with(e, accuracy, epochs)

        self.runs = [
            run("baseline", 0.8, 2),
            run("faster", 0.9, 3, lr=0.05),
            run("bigger batch", 0.7, 2, lr=0.05, batch_size=16),
        ]
        self.config_keys = len(self.runs[0].config)

    def test_three_experiments_compare_on_one_shareable_page(self) -> None:
        first, second, third = (e.pk for e in self.runs)
        with chromium_page(self.live_server_url) as page:
            sign_in(page, "ada", PASSWORD)
            # Chosen from the first one's page, "compare with…": the address it lands on is the one to share.
            page.goto(f"/experiments/{first}/")
            page.click("#compare-with summary")
            page.check(f"#compare-form input[value='{second}']")
            page.check(f"#compare-form input[value='{third}']")
            page.click("#compare-button")
            page.wait_for_url(lambda url: url.endswith(f"/experiments/compare/?ids={first},{second},{third}"))

            page.wait_for_function("document.getElementById('compare-acc').data !== undefined")
            traces = page.evaluate("document.getElementById('compare-loss').data.map(t => [t.name, t.x.length])")
            assert [n for n, _ in traces] == [
                f"#{first} baseline train",
                f"#{first} baseline val",
                f"#{second} faster train",
                f"#{second} faster val",
                f"#{third} bigger batch train",
                f"#{third} bigger batch val",
            ]
            assert [x for _, x in traces] == [2, 2, 3, 3, 2, 2]

            visible = page.locator("#compare-config tbody tr:visible td:first-child").all_inner_texts()
            assert sorted(visible) == ["batch_size", "lr"]
            page.check("#config-show-all")
            assert page.locator("#compare-config tbody tr:visible").count() == self.config_keys
            page.uncheck("#config-show-all")
            assert page.locator("#compare-config tbody tr:visible").count() == 2

            accuracy = page.locator("#compare-metrics tr[data-metric=test_accuracy] td").all_inner_texts()
            assert accuracy == ["Test accuracy", "80.0%", "90.0%", "70.0%"]
            page.wait_for_selector("#compare-confusions .chart .main-svg >> nth=2")
            assert page.locator("#compare-confusions .chart").count() == 3
            assert page.external_requests == []
