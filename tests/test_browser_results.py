"""A run's results in real Chromium: they appear on the open page when the run ends (no reload), a
confusion cell opens its test images, predict on uploaded images, a readable config and an epoch axis."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from tests.browser import BrowserTestCase, chromium_page, sign_in
from tests.conftest import PASSWORD
from tests.helpers import TINY_CONFIG, folder_dataset, wait_until
from training import TrainConfig
from webapp.core.queues import broker_queue
from webapp.experiments.models import Experiment
from webapp.experiments.states import FINAL, Status
from webapp.experiments.tasks import run_experiment

EPOCHS = 3

# The page position of a confusion matrix cell (true row `r`, predicted column `c`) and the matrix itself.
CELL_SCRIPT = """([r, c]) => {
  const gd = document.getElementById('chart-confusion'), box = gd.getBoundingClientRect(), fl = gd._fullLayout;
  return [box.left + fl.xaxis._offset + fl.xaxis.l2p(c), box.top + fl.yaxis._offset + fl.yaxis.l2p(r)];
}"""


def member_with_data(username: str):
    """A team member and a small six-class image folder of their team (quick to train on a loaded machine)."""
    from django.contrib.auth import get_user_model

    from webapp.teams.models import Role, Team

    team = Team.objects.create(name="Results team")
    user = get_user_model().objects.create_user(username, password=PASSWORD)
    team.add_member(user, Role.MEMBER)
    return user, folder_dataset(team, "Shapes", folder={"classes": 6, "per_class": 10, "size": 16})


def tiny_run(user, dataset, **changes) -> Experiment:
    config = TrainConfig.from_dict({**TINY_CONFIG, "epochs": EPOCHS, **changes}).to_dict()
    return Experiment.objects.create(team=dataset.team, owner=user, dataset=dataset, name="tiny run", config=config)


def png_bytes(color: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (24, 24), color).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.mark.browser
@pytest.mark.worker
class ResultsAppearLive(BrowserTestCase):
    @pytest.fixture(autouse=True)
    def _worker(self, celery_worker):
        self.worker = celery_worker

    def setUp(self) -> None:
        self.user, self.dataset = member_with_data("ada")
        self.experiment = tiny_run(self.user, self.dataset)
        self.class_names = self.dataset.classes

    def test_results_appear_when_the_run_ends_and_a_confusion_cell_opens_its_images(self) -> None:
        with chromium_page(self.live_server_url) as page:
            sign_in(page, "ada", PASSWORD)
            page.goto(f"/experiments/{self.experiment.pk}/")
            page.wait_for_function("document.body.dataset.socket === 'open'")
            assert page.locator("#results").count() == 0 and page.locator("#model-card").count() == 0
            page.evaluate("window.__notReloaded = true")
            # Sent now, with the page open (the row is committed; Playwright's loop forbids ORM calls here).
            run_experiment.apply_async(args=[self.experiment.pk], queue=broker_queue(self.experiment.queue))

            status = wait_until(
                lambda: (s := page.get_attribute("#status", "data-status")) in FINAL and s,
                600,
                message=lambda: self.worker.read_log()[-3000:],
            )
            assert status == Status.SUCCEEDED, page.inner_text("#error-box")
            page.wait_for_selector("#results #chart-confusion .main-svg")
            assert page.evaluate("window.__notReloaded") is True
            assert page.locator("#results table tbody tr").count() == 6  # precision/recall/F1 of each class
            assert page.locator("#model-card a[data-export=onnx]").count() == 1
            assert page.locator("#reproducibility").count() == 1

            # The cell of the most test images: a click opens them, the most confident first.
            z = page.evaluate("document.getElementById('chart-confusion').data[0].z")
            count, r, c = max((v, r, c) for r, row in enumerate(z) for c, v in enumerate(row))
            page.locator("#chart-confusion").scroll_into_view_if_needed()
            x, y = page.evaluate(CELL_SCRIPT, [r, c])
            page.mouse.click(x, y)
            page.wait_for_selector("#confusion-gallery:not([hidden]) figure img")
            names = self.class_names
            heading = page.inner_text("#confusion-gallery h3")
            assert heading.startswith(f"True {names[r]}, predicted {names[c]}: {count} image"), heading
            shown = page.locator("#confusion-gallery figure")
            assert shown.count() == min(count, 60)
            confidences = [
                float(v)
                for v in page.eval_on_selector_all(
                    "#confusion-gallery figure", "els => els.map(e => e.dataset.confidence)"
                )
            ]
            assert confidences == sorted(confidences, reverse=True)
            page.wait_for_function(
                "[...document.querySelectorAll('#confusion-gallery img')].every(i => i.complete && i.naturalWidth > 0)"
            )
            assert page.external_requests == []


# One test per class: each class gets a fresh live server (a second test's rows are not seen by the first's).
@pytest.mark.browser
class ConfigAndEpochAxis(BrowserTestCase):
    def setUp(self) -> None:
        self.user, self.dataset = member_with_data("ada")
        self.experiment = tiny_run(self.user, self.dataset)
        run_experiment.apply(args=[self.experiment.pk])

    def test_the_config_reads_in_rows_and_the_epoch_axis_has_whole_epochs(self) -> None:
        with chromium_page(self.live_server_url) as page:
            page.set_viewport_size({"width": 900, "height": 900})
            sign_in(page, "ada", PASSWORD)
            page.goto(f"/experiments/{self.experiment.pk}/")
            page.wait_for_function("(document.getElementById('chart-time').data || [{x: []}])[0].x.length === 3")
            ticks = page.eval_on_selector_all("#chart-time .xtick text", "els => els.map(e => e.textContent)")
            assert ticks == ["1", "2", "3"], ticks
            narrowest = page.eval_on_selector_all(
                ".config-groups dd", "els => Math.min(...els.map(e => e.getBoundingClientRect().width))"
            )
            assert narrowest >= 100, narrowest  # no value squeezed to a character per line


@pytest.mark.browser
class PredictInTheBrowser(BrowserTestCase):
    def setUp(self) -> None:
        self.user, self.dataset = member_with_data("ada")
        self.experiment = tiny_run(self.user, self.dataset, epochs=1)
        run_experiment.apply(args=[self.experiment.pk])  # finished here, before the browser starts
        self.test_image = self.dataset.splits().test[0][0]

    def test_uploaded_images_get_their_top_five_classes(self) -> None:
        classes = self.dataset.classes
        with open(self.test_image, "rb") as f:
            test_image = f.read()
        with chromium_page(self.live_server_url) as page:
            sign_in(page, "ada", PASSWORD)
            page.goto(f"/experiments/{self.experiment.pk}/")
            page.set_input_files(
                "#predict-images",
                files=[
                    {"name": "test.png", "mimeType": "image/png", "buffer": test_image},
                    {"name": "red.png", "mimeType": "image/png", "buffer": png_bytes((220, 20, 20))},
                ],
            )
            page.click("#predict-button")
            page.wait_for_selector("#predict-results .prediction >> nth=1")
            cards = page.locator("#predict-results .prediction")
            assert cards.nth(0).locator(".name").inner_text() == "test.png"
            assert cards.nth(0).locator("tr").count() == 5
            rows = cards.nth(1).locator("tr").all_inner_texts()
            assert all(row.split("\t")[0].strip() in classes for row in rows), rows
            assert all(row.strip().endswith("%") for row in rows)

            page.set_input_files(
                "#predict-images", files=[{"name": "notes.png", "mimeType": "image/png", "buffer": b"not a picture"}]
            )
            page.click("#predict-button")
            page.wait_for_selector("#predict-errors li")
            assert "notes.png" in page.inner_text("#predict-errors")
            assert page.locator("#predict-results .prediction").count() == 0
