"""Notes (Markdown, sanitized), tags and pins on an experiment: members change them on the page or with
PATCH /api/experiments/<id>/; viewers read them; the list puts pinned runs first."""

from __future__ import annotations

import pytest
from django.urls import reverse

from webapp.experiments.models import Tag

pytestmark = pytest.mark.django_db
NOTES = (
    "## Finding\n\n**lr 0.01** works; see [run](https://example.com).\n\n<script>alert(1)</script>\n\n"
    "[x](javascript:alert(2)) <img src=x onerror=alert(3)>"
)


def test_a_member_writes_notes_tags_and_pins_on_the_page(client, make_experiment, teammate):
    experiment = make_experiment()
    client.force_login(teammate)
    data = {"notes": NOTES, "tags": "baseline, lr", "pinned": "on"}
    response = client.post(reverse("experiment_notes", args=[experiment.pk]), data)
    assert response.status_code == 302
    experiment.refresh_from_db()
    assert experiment.notes == NOTES and experiment.pinned and experiment.tag_names() == ["baseline", "lr"]
    page = client.get(experiment.get_absolute_url()).content.decode()
    notes = page[page.index('id="notes-text"') : page.index("<details")]
    assert "<h2>Finding</h2>" in notes and "<strong>lr 0.01</strong>" in notes
    assert 'href="https://example.com"' in notes
    assert "<script" not in notes and "javascript:" not in notes and "onerror" not in notes
    assert 'id="notes-form"' in page


def test_tags_belong_to_the_team_and_are_reused(client, make_experiment, owner):
    first, second = make_experiment(), make_experiment()
    client.force_login(owner)
    for experiment in (first, second):
        client.post(reverse("experiment_notes", args=[experiment.pk]), {"notes": "", "tags": "shared"})
    assert list(Tag.objects.values_list("team_id", "name")) == [(first.team_id, "shared")]


def test_bad_tags_change_nothing(client, make_experiment, owner):
    experiment = make_experiment()
    client.force_login(owner)
    response = client.post(
        reverse("experiment_notes", args=[experiment.pk]), {"notes": "x", "tags": "has space"}, follow=True
    )
    assert "Nothing was saved" in response.content.decode()
    experiment.refresh_from_db()
    assert experiment.notes == "" and experiment.tag_names() == []


def test_a_viewer_reads_but_cannot_change(client, make_experiment, viewer, outsider):
    experiment = make_experiment()
    experiment.notes = "**read me**"
    experiment.save()
    client.force_login(viewer)
    page = client.get(experiment.get_absolute_url()).content.decode()
    assert "<strong>read me</strong>" in page and 'id="notes-form"' not in page
    assert client.post(reverse("experiment_notes", args=[experiment.pk]), {"notes": "mine"}).status_code == 403
    assert (
        client.patch(
            reverse("api_experiment_detail", args=[experiment.pk]), {"notes": "mine"}, content_type="application/json"
        ).status_code
        == 403
    )
    client.force_login(outsider)
    assert client.post(reverse("experiment_notes", args=[experiment.pk]), {"notes": "mine"}).status_code == 404
    experiment.refresh_from_db()
    assert experiment.notes == "**read me**"


def test_the_api_patches_only_what_it_is_sent(client, make_experiment, owner):
    experiment = make_experiment()
    experiment.set_tags(["old"])
    client.force_login(owner)
    url = reverse("api_experiment_detail", args=[experiment.pk])
    data = client.patch(url, {"pinned": True}, content_type="application/json").json()
    assert data["pinned"] is True and data["tags"] == ["old"] and data["notes"] == ""
    data = client.patch(
        url, {"notes": "# Hi <b onclick=x>", "tags": ["a", "b"]}, content_type="application/json"
    ).json()
    assert data["notes_html"].startswith("<h1>Hi") and "onclick" not in data["notes_html"]
    assert data["tags"] == ["a", "b"] and data["pinned"] is True
    bad = client.patch(url, {"tags": ["no spaces allowed"]}, content_type="application/json")
    assert bad.status_code == 400 and "tags" in bad.json()["errors"]
    listed = client.get(reverse("api_experiment_list"), {"tag": "a"}).json()["results"]
    assert [e["id"] for e in listed] == [experiment.pk] and listed[0]["pinned"] is True
