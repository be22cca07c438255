"""Ticking runs to compare: every row of the experiments list (each of its tables, every page, the live
reload's fragment) and the sweep page carry what static/js/compare-pick.js needs (a checkbox named by the
experiment's id, the "Compare (n)" bar sending ids to the compare page), and nothing of another team shows.
The ticking itself is tested in real Chromium (tests/test_browser_compare_picks.py)."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from django.urls import reverse

from tests.sweep_helpers import sweep_with_trial
from webapp.experiments.compare import MAX_COMPARED, MIN_COMPARED
from webapp.experiments.models import Experiment
from webapp.experiments.states import Status

pytestmark = pytest.mark.django_db


class Page(HTMLParser):
    """The page's rows (tr[data-experiment]) with the compare checkboxes in each, per table section, and
    the compare bar's attributes."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.section, self.row = None, None
        self.rows: list[tuple[str | None, str, list[dict]]] = []
        self.boxes: list[dict] = []
        self.bars: list[dict] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs) -> None:
        a = dict(attrs)
        if tag == "section" and a.get("id"):
            self.section = a["id"]
        elif tag == "tr" and "data-experiment" in a:
            self.row = (self.section, a["data-experiment"], [])
            self.rows.append(self.row)
        elif tag == "input" and "compare-pick" in a.get("class", "").split():
            self.boxes.append(a)
            if self.row is not None:
                self.row[2].append(a)
        elif tag == "form" and "data-compare-bar" in a:
            self.bars.append(a)

    def handle_endtag(self, tag: str) -> None:
        if tag == "tr":
            self.row = None


def run(dataset, owner, name: str, status: str) -> Experiment:
    return Experiment.objects.create(
        team=dataset.team, owner=owner, dataset=dataset, name=name, config={"epochs": 1}, status=status
    )


def assert_each_row_has_its_checkbox(page: Page) -> None:
    assert page.rows
    for _section, pk, boxes in page.rows:
        assert len(boxes) == 1, f"row {pk}: {boxes}"
        box = boxes[0]
        assert box["type"] == "checkbox" and box["value"] == pk and box["name"] == "ids"
        assert box["form"] == "compare-picks"  # sent by the bar's form even without JavaScript
        assert box["aria-label"].startswith(f"Compare #{pk} ") and box["data-label"].startswith(f"#{pk} ")


def test_every_row_of_every_table_carries_a_checkbox_with_its_id(client, owner, tiny_dataset, outsider, other_team):
    running = run(tiny_dataset, owner, "running one", Status.RUNNING)
    queued = run(tiny_dataset, owner, "queued one", Status.QUEUED)
    done = run(tiny_dataset, owner, "done <b>one</b>", Status.SUCCEEDED)
    client.force_login(owner)
    response = client.get(reverse("dashboard"))
    assert response.status_code == 200
    html = response.content.decode()
    page = Page(html)
    assert_each_row_has_its_checkbox(page)
    where = {(section, int(pk)) for section, pk, _ in page.rows}
    assert {("running-list", running.pk), ("queued-list", queued.pk)} <= where
    assert {pk for section, pk in where if section == "history-list"} == {running.pk, queued.pk, done.pk}
    assert "done &lt;b&gt;one&lt;/b&gt;" in html and "<b>one</b>" not in html  # the label is escaped

    [bar] = page.bars
    assert bar["id"] == "compare-picks" and bar["action"] == reverse("experiment_compare")
    assert bar["method"] == "get" and bar["data-scope"] == f"list.u{owner.pk}"
    assert (int(bar["data-min"]), int(bar["data-max"])) == (MIN_COMPARED, MAX_COMPARED)
    assert 'id="compare-go"' in html and 'id="compare-clear"' in html
    assert "js/compare-pick.js" in html and "css/compare-pick.css" in html
    assert "<script>" not in html  # no inline script (the Content Security Policy forbids it)

    # The live reload's fragment (the tables alone) keeps the checkboxes; the bar stays outside it.
    fragment = Page(client.get(reverse("experiment_tables")).content.decode())
    assert_each_row_has_its_checkbox(fragment)
    assert len(fragment.rows) == len(page.rows) and not fragment.bars

    # Another team sees only its own runs to tick.
    theirs = run(tiny_dataset, owner, "theirs", Status.SUCCEEDED)
    Experiment.objects.filter(pk=theirs.pk).update(team=other_team)
    client.force_login(outsider)
    assert {b["value"] for b in Page(client.get(reverse("dashboard")).content.decode()).boxes} == {str(theirs.pk)}


def test_every_page_of_the_history_carries_the_checkboxes(client, owner, tiny_dataset):
    made = [run(tiny_dataset, owner, f"run {i}", Status.SUCCEEDED) for i in range(5)]
    client.force_login(owner)
    seen = set()
    for number in (1, 2, 3):
        page = Page(client.get(reverse("dashboard"), {"page_size": 2, "page": number}).content.decode())
        assert_each_row_has_its_checkbox(page)
        seen |= {int(b["value"]) for b in page.boxes}
    assert seen == {e.pk for e in made}


def test_the_sweep_page_has_the_compare_bar_and_the_pick_column(client, owner, tiny_dataset, outsider):
    sweep = sweep_with_trial(owner, tiny_dataset)
    client.force_login(owner)
    html = client.get(reverse("sweep_detail", args=[sweep.pk])).content.decode()
    [bar] = Page(html).bars
    assert bar["data-scope"] == f"sweep-{sweep.pk}.u{owner.pk}" and bar["action"] == reverse("experiment_compare")
    assert 'id="pick-best"' in html and 'id="pick-best-n"' in html
    assert '<th class="pick"><span class="visually-hidden">Compare</span></th>' in html
    assert "js/compare-pick.js" in html and html.index("js/compare-pick.js") < html.index("js/sweep.js")
    # the rows themselves are drawn by sweep.js from the sweep's API, which names each trial's experiment
    trial = client.get(reverse("api_sweep_detail", args=[sweep.pk])).json()["trials"][0]
    assert trial["experiment"]["id"] == sweep.trial_rows()[0].experiment_id
    client.force_login(outsider)
    assert client.get(reverse("sweep_detail", args=[sweep.pk])).status_code == 404
