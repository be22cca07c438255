"""A user creates a sweep in the form with a conditional parameter, watches its table and its
parallel-coordinates chart fill in live, and clones the best trial, in real Chromium."""

from __future__ import annotations

import pytest

from tests.browser import BrowserTestCase, chromium_page, member_with_digits, sign_in
from tests.conftest import PASSWORD
from tests.helpers import wait_until
from webapp.experiments.models import Experiment
from webapp.sweeps.models import Sweep, SweepStatus

TRIALS = 4


def fill_row(page, index: int, name: str, **values) -> None:
    row = page.locator(".space-param").nth(index)
    row.locator(".param-name").select_option(name)
    for cls, value in values.items():
        field = row.locator(f".param-{cls.replace('_', '-')}")
        if cls in ("kind", "when"):
            field.select_option(value)
        elif cls == "log":
            field.set_checked(value)
        else:
            field.fill(str(value))


@pytest.mark.browser
@pytest.mark.worker
class SweepInTheBrowser(BrowserTestCase):
    @pytest.fixture(autouse=True)
    def _worker(self, celery_worker):
        self.worker = celery_worker

    def setUp(self) -> None:
        self.user, self.dataset = member_with_digits("ada", PASSWORD)

    def create_sweep(self, page) -> None:
        page.click("nav >> text=Sweeps")
        page.click("text=New sweep")
        page.fill("#id_name", "digits sweep")
        page.select_option("#id_dataset", label=f"{self.dataset} (Demo team, 1,797 images)")
        for field, value in {"#id_arch": "small_cnn", "#id_device": "cpu"}.items():
            page.select_option(field, value)
        for field, value in {"#id_epochs": 2, "#id_image_size": 16}.items():
            page.fill(field, str(value))
        page.select_option("#id_method", "random")
        page.select_option("#id_pruner", "none")
        page.fill("#id_max_trials", str(TRIALS))
        page.fill("#id_parallelism", "2")
        fill_row(page, 0, "lr", kind="float", low=0.003, high=0.03, log=True)
        page.click("#add-param")
        fill_row(page, 1, "optimizer", values="sgd, adamw")
        page.click("#add-param")
        fill_row(page, 2, "momentum", kind="float", low=0.8, high=0.95, when="optimizer", when_value="sgd")
        page.wait_for_function("document.getElementById('estimate').textContent.includes('trials')")
        page.click("#start-sweep")
        page.wait_for_url("**/sweeps/*/")

    def test_create_watch_and_clone_the_best_trial(self) -> None:
        with chromium_page(self.live_server_url) as page:
            sign_in(page, "ada", PASSWORD)
            self.create_sweep(page)
            page.evaluate("window.__notReloaded = true")
            seen_rows, seen_lines = set(), set()

            def finished() -> bool:
                seen_rows.add(page.locator("#trial-table tbody tr").count())
                seen_lines.add(
                    page.evaluate(
                        "(() => { const d = document.getElementById('chart-parallel').data;"
                        " return d && d.length ? d[0].dimensions[0].values.length : 0; })()"
                    )
                )
                return page.inner_text("#sweep-status") == "Finished" and TRIALS in seen_lines

            wait_until(finished, 400, 0.2, message=lambda: self.worker.read_log()[-4000:])
            assert page.evaluate("window.__notReloaded") is True
            assert not page.is_visible("#stop-button")  # a sweep that finished live has nothing to stop
            assert any(0 < n < TRIALS for n in seen_lines), seen_lines  # the chart filled in live
            assert TRIALS in seen_rows and min(seen_rows) < TRIALS
            labels = page.evaluate("document.getElementById('chart-parallel').data[0].dimensions.map(d => d.label)")
            assert set(labels) >= {"lr", "optimizer", "val_acc"}
            assert page.locator("#trial-table tbody tr.best").count() == 1
            assert "test accuracy" in page.inner_text("#best-text")
            page.click("#clone-best")
            page.wait_for_url("**/experiments/new/?clone=*")
            page.fill("#id_name", "best of the sweep")
            page.click("text=Queue experiment")
            page.wait_for_url("**/experiments/*/")
            assert page.external_requests == []

        sweep = Sweep.objects.get()
        assert sweep.status == SweepStatus.FINISHED and sweep.trials.count() == TRIALS
        for trial in sweep.trial_rows():
            # The condition: momentum only where the optimizer is sgd.
            assert ("momentum" in trial.params) == (trial.params["optimizer"] == "sgd"), trial.params
        best = next(t for t in sweep.trial_rows() if t.experiment.test_metrics)
        clone = Experiment.objects.get(name="best of the sweep")
        assert clone.cloned_from is not None and clone.cloned_from.trial.sweep == sweep
        assert clone.config["lr"] == clone.cloned_from.config["lr"] and best
