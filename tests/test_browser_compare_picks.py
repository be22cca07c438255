"""In real Chromium: ticking runs in the experiments list (across its pages and its live reloads) or in a
sweep's trials table, and opening the compare page with them from the "Compare (n)" bar."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from django.contrib.auth import get_user_model

from tests.browser import BrowserTestCase, chromium_page, member_with_digits, sign_in
from tests.conftest import PASSWORD
from tests.helpers import TINY_CONFIG, wait_until
from tests.results_helpers import finish_with
from tests.sweep_helpers import make_sweep
from training import TrainConfig
from webapp.experiments import live
from webapp.experiments.models import Experiment
from webapp.experiments.states import Status
from webapp.sweeps.models import Trial
from webapp.teams.models import Role

CONFIG = TrainConfig.from_dict(TINY_CONFIG).to_dict()


def outside_the_loop(function):
    """Playwright's event loop owns the test's thread: the ORM runs in another."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(function).result(timeout=60)


def ticked(page) -> list[int]:
    return page.eval_on_selector_all("input.compare-pick:checked", "boxes => boxes.map(b => +b.value)")


def compared(page) -> list[int]:
    """The experiments the compare page shows: its metrics table's columns."""
    page.wait_for_function("document.getElementById('compare-acc').data !== undefined")
    heads = page.locator("#compare-metrics thead th a").all_inner_texts()
    return [int(h.lstrip("#")) for h in heads]


class Picking(BrowserTestCase):
    """One test per class, as in the other browser tests (each gets a fresh live server on the file database)."""

    def setUp(self) -> None:
        self.user, self.dataset = member_with_digits("pia", PASSWORD)

    def make(self, name: str, accuracy: float | None = None, **fields) -> Experiment:
        e = Experiment.objects.create(
            team=self.dataset.team, owner=self.user, dataset=self.dataset, name=name, config=CONFIG, **fields
        )
        return finish_with(e, accuracy) if accuracy is not None else e

    def box(self, page, experiment: Experiment, table: str = "#history-list"):
        return page.get_by_label(f"Compare #{experiment.pk} {experiment.name}").and_(page.locator(f"{table} *"))

    def tick(self, page, experiment: Experiment, table: str = "#history-list") -> None:
        self.box(page, experiment, table).check()


@pytest.mark.browser
class TickRunsInTheList(Picking):
    def test_tick_three_runs_across_pages_and_compare_them(self) -> None:
        runs = [self.make(f"run {i}", 0.5 + i / 20) for i in range(4)]  # newest first: run 3, 2 | 1, 0
        with chromium_page(self.live_server_url) as page:
            sign_in(page, "pia", PASSWORD)
            page.goto("/?page_size=2")
            go = page.locator("#compare-go")
            assert go.inner_text() == "Compare (0)" and go.is_disabled()

            self.tick(page, runs[3])
            assert go.inner_text() == "Compare (1)" and go.is_disabled()  # one run: nothing to compare yet
            assert "Tick 2 to 10 runs" in page.inner_text("#compare-hint")

            page.click("text=Older →")  # the next page: the selection goes along
            page.wait_for_url("**page=2**")
            assert go.inner_text() == "Compare (1)" and ticked(page) == []
            self.tick(page, runs[1])
            self.tick(page, runs[0])
            assert go.inner_text() == "Compare (3)" and go.is_enabled()
            assert page.locator("#compare-chosen li").count() == 3  # the one off this page is named too

            # A new run arrives: the tables reload by themselves and keep their ticks.
            version = page.get_attribute("#experiment-tables", "data-version") or "0"
            outside_the_loop(lambda: live.send_status(self.make("newest", status=Status.QUEUED)))
            wait_until(
                lambda: (page.get_attribute("#experiment-tables", "data-version") or "0") != version,
                30,
                0.1,
                message="the live reload",
            )
            ids = sorted(e.pk for e in (runs[0], runs[1], runs[3]))
            shown = page.eval_on_selector_all("tr[data-experiment]", "rows => rows.map(r => +r.dataset.experiment)")
            assert runs[1].pk in shown  # the newest run pushed run 0 to the third page
            assert sorted(ticked(page)) == sorted(set(ids) & set(shown)) and go.inner_text() == "Compare (3)"

            go.click()
            page.wait_for_url(lambda url: url.endswith("/experiments/compare/?ids=" + ",".join(map(str, ids))))
            assert compared(page) == ids

            page.goto("/")  # back in the list: still ticked, until cleared
            assert sorted(ticked(page)) == ids and go.inner_text() == "Compare (3)"
            page.click(f"#compare-chosen button[aria-label='Untick #{runs[3].pk} run 3']")
            assert sorted(ticked(page)) == ids[:2] and go.inner_text() == "Compare (2)"
            page.click("#compare-clear")
            assert ticked(page) == [] and go.inner_text() == "Compare (0)" and go.is_disabled()
            assert page.locator("#compare-clear").is_hidden()
            assert page.external_requests == []


@pytest.mark.browser
class TickTooManyRuns(Picking):
    def setUp(self) -> None:
        super().setUp()
        other = get_user_model().objects.create_user("quinn", password=PASSWORD)
        self.dataset.team.add_member(other, Role.VIEWER)

    def test_more_than_ten_runs_disable_the_button_and_say_why(self) -> None:
        runs = [self.make(f"many {i}") for i in range(11)]
        with chromium_page(self.live_server_url) as page:
            sign_in(page, "pia", PASSWORD)
            page.goto("/?page_size=20")
            for run in runs:
                self.tick(page, run)
            go = page.locator("#compare-go")
            assert go.inner_text() == "Compare (11)" and go.is_disabled()
            assert page.inner_text("#compare-hint") == "At most 10 runs can be compared: untick 1."
            self.box(page, runs[0], "#queued-list").uncheck()  # a run in two tables is one pick
            assert not self.box(page, runs[0]).is_checked()
            assert go.inner_text() == "Compare (10)" and go.is_enabled()
            assert page.inner_text("#compare-hint") == ""

            # Another user signing in in this tab starts with nothing ticked.
            page.click("text=Sign out")
            sign_in(page, "quinn", PASSWORD)
            page.goto("/?page_size=20")
            assert page.inner_text("#compare-go") == "Compare (0)" and ticked(page) == []


@pytest.mark.browser
class TickTrialsOfASweep(Picking):
    def test_tick_two_trials_of_a_sweep_and_compare_them(self) -> None:
        sweep = make_sweep(self.user, self.dataset, {"lr": [0.01, 0.02, 0.03, 0.04]})
        accuracies = [0.6, 0.9, 0.7, 0.8]
        trials = []
        for number, accuracy in enumerate(accuracies):
            experiment = self.make(f"trial {number}", accuracy)
            Trial.objects.create(sweep=sweep, number=number, params={"lr": 0.01 * (number + 1)}, experiment=experiment)
            trials.append(experiment)
        with chromium_page(self.live_server_url) as page:
            sign_in(page, "pia", PASSWORD)
            page.goto(f"/sweeps/{sweep.pk}/")
            page.wait_for_selector("#trial-table tbody tr >> nth=3")
            go = page.locator("#compare-go")
            page.get_by_label("Compare trial 0 ").check()
            assert go.is_disabled() and go.inner_text() == "Compare (1)"
            page.get_by_label("Compare trial 2 ").check()
            page.click("#trial-table th[data-sort=number]")  # the table is drawn again: ticks stay
            assert sorted(ticked(page)) == [trials[0].pk, trials[2].pk]
            go.click()
            page.wait_for_url(f"**/experiments/compare/?ids={trials[0].pk},{trials[2].pk}")
            assert compared(page) == [trials[0].pk, trials[2].pk]

            page.go_back()  # the sweep's own selection is kept; "tick the best 3" replaces it
            page.wait_for_selector("#trial-table tbody tr >> nth=3")
            assert sorted(ticked(page)) == [trials[0].pk, trials[2].pk]
            page.fill("#pick-best-n", "3")
            page.click("#pick-best")
            best = sorted(e.pk for e, a in zip(trials, accuracies, strict=True) if a >= 0.7)
            assert sorted(ticked(page)) == best and go.inner_text() == "Compare (3)"
            go.click()
            page.wait_for_url("**/experiments/compare/**")
            assert compared(page) == best
            assert page.external_requests == []
