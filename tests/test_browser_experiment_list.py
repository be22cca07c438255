"""In real Chromium: the dashboard's history keeps its filters and sort when it updates live, and its
column headers sort it."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from django.utils import timezone

from tests.browser import BrowserTestCase, chromium_page, member_with_digits, sign_in
from tests.conftest import PASSWORD
from tests.helpers import TINY_CONFIG, wait_until
from webapp.experiments import live
from webapp.experiments.models import Experiment
from webapp.experiments.states import Status


def outside_the_loop(function):
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(function).result(timeout=60)


def history_ids(page) -> list[int]:
    return page.eval_on_selector_all(
        "#history-list tbody tr[data-experiment]", "rows => rows.map(r => +r.dataset.experiment)"
    )


@pytest.mark.browser
class ExperimentListInTheBrowser(BrowserTestCase):
    def setUp(self) -> None:
        self.user, self.dataset = member_with_digits("lin", PASSWORD)

    def make(self, name: str, status: str, accuracy: float | None = None) -> Experiment:
        return Experiment.objects.create(
            team=self.dataset.team,
            owner=self.user,
            dataset=self.dataset,
            name=name,
            config=TINY_CONFIG,
            status=status,
            finished_at=timezone.now(),
            test_metrics={"accuracy": accuracy, "loss": 1.0} if accuracy is not None else None,
        )

    def finish_two_more(self) -> tuple[Experiment, Experiment]:
        made = self.make("best", Status.SUCCEEDED, 0.99), self.make("broken again", Status.FAILED)
        for experiment in made:
            live.send_status(experiment)
        return made

    def test_the_filtered_sorted_history_updates_live(self) -> None:
        low = self.make("low", Status.SUCCEEDED, 0.5)
        high = self.make("high", Status.SUCCEEDED, 0.9)
        failed = self.make("broken", Status.FAILED)
        with chromium_page(self.live_server_url) as page:
            sign_in(page, "lin", PASSWORD)
            page.goto("/?status=succeeded")
            assert set(history_ids(page)) == {low.pk, high.pk}
            page.click("#history-list th a:has-text('Test acc.')")  # sorts, best first
            page.wait_for_url("**sort=-test_accuracy**")
            assert history_ids(page) == [high.pk, low.pk]

            # New results arrive while the page is open (Playwright's loop owns this thread: the ORM runs in another).
            best, another_failure = outside_the_loop(self.finish_two_more)
            wait_until(lambda: history_ids(page) == [best.pk, high.pk, low.pk], 30, 0.1, message="the live reload")
            assert failed.pk not in history_ids(page) and another_failure.pk not in history_ids(page)
            assert "status=succeeded" in page.url and "sort=-test_accuracy" in page.url
