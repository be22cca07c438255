"""A user widens the grid of a finished sweep from its page in real Chromium: a narrowing is refused next
to its field, a wider list of values runs only the new point on the real worker, and the page shows the
change and the budget used."""

from __future__ import annotations

import pytest

from tests.browser import BrowserTestCase, chromium_page, member_with_digits, sign_in
from tests.conftest import PASSWORD
from tests.sweep_helpers import make_sweep
from webapp.experiments.models import EpochMetric, Experiment
from webapp.experiments.states import Status
from webapp.sweeps.models import Sweep, SweepStatus, Trial


def finished_grid(user, dataset) -> Sweep:
    """A grid over two learning rates that ran both (rows only), then finished."""
    sweep = make_sweep(user, dataset, {"lr": [0.01, 0.02]}, max_trials=2, config={"epochs": 1})
    for number, lr in enumerate([0.01, 0.02]):
        experiment = Experiment.objects.create(
            team=dataset.team, owner=user, dataset=dataset, name=f"t{number}", config={**sweep.config, "lr": lr}
        )
        EpochMetric.objects.create(
            experiment=experiment, epoch=1, train_loss=1, train_acc=0.5, val_loss=1, val_acc=0.5, lr=lr, seconds=1.0
        )
        Experiment.objects.filter(pk=experiment.pk).update(status=Status.SUCCEEDED)
        Trial.objects.create(sweep=sweep, number=number, params={"lr": lr}, experiment=experiment)
    Sweep.objects.filter(pk=sweep.pk).update(status=SweepStatus.FINISHED)
    return sweep


@pytest.mark.browser
@pytest.mark.worker
class WidenInTheBrowser(BrowserTestCase):
    @pytest.fixture(autouse=True)
    def _worker(self, celery_worker):
        self.worker = celery_worker

    def setUp(self) -> None:
        self.user, self.dataset = member_with_digits("ada", PASSWORD)

    def test_a_user_widens_a_finished_grid_and_only_the_new_point_runs(self):
        sweep = finished_grid(self.user, self.dataset)
        with chromium_page(self.live_server_url) as page:
            sign_in(page, "ada", PASSWORD)
            page.goto(f"/sweeps/{sweep.pk}/")
            page.wait_for_selector("#budget-used:has-text('2 of 2 trials')")
            page.click("#widen summary")
            assert page.input_value("#id_lr__values") == "0.01, 0.02"
            page.fill("#id_lr__values", "0.02, 0.05")  # leaves 0.01 out: refused
            page.click("#widen-button")
            page.wait_for_selector("#widen .has-error:has-text('leaves out 0.01')")

            page.fill("#id_lr__values", "0.01, 0.02, 0.05")
            page.click("#widen-button")
            page.wait_for_selector("text=Widened (lr: one of 0.01, 0.02 -> one of 0.01, 0.02, 0.05)")
            page.wait_for_selector("#space-history:has-text('after 2 trials')")
            # The worker runs the new point; the page follows over its websocket.
            page.wait_for_selector("#sweep-status:has-text('Finished')", timeout=180_000)
            page.wait_for_selector("#budget-used:has-text('3 of 3 trials')")
            assert page.locator("#trial-table tbody tr").count() == 3
        sweep = Sweep.objects.get(pk=sweep.pk)
        assert sorted(t.params["lr"] for t in sweep.trial_rows()) == [0.01, 0.02, 0.05]
        assert len(sweep.space_history) == 1  # the refused narrowing left no trace
