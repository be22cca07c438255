"""The compare page: 2 to 10 of a team's experiments by URL, the config keys that differ, the metrics,
curves and confusion matrices in the page data; access checked for every one of them."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from tests.results_helpers import finish_with


@pytest.fixture
def three(make_experiment):
    return [
        finish_with(make_experiment(lr=0.01), 0.8),
        finish_with(make_experiment(lr=0.05), 0.9, epochs=3),
        finish_with(make_experiment(lr=0.05, batch_size=16), 0.7),
    ]


def page_data(response) -> dict:
    html = response.content.decode()
    start = html.index('<script id="compare-data" type="application/json">') + len(
        '<script id="compare-data" type="application/json">'
    )
    return json.loads(html[start : html.index("</script>", start)])


@pytest.mark.django_db
def test_three_experiments_side_by_side(client, viewer, three):
    client.force_login(viewer)
    ids = ",".join(str(e.pk) for e in three)
    response = client.get(reverse("experiment_compare"), {"ids": ids})
    assert response.status_code == 200
    data = page_data(response)
    assert [r["id"] for r in data["rows"]] == [e.pk for e in three]
    assert [len(r["history"]) for r in data["rows"]] == [2, 3, 2]
    assert [r["metrics"]["test_accuracy"] for r in data["rows"]] == [0.8, 0.9, 0.7]
    assert data["rows"][0]["confusion_matrix"] == [[3, 1], [0, 4]]
    differing = {row["key"] for row in response.context["config"] if row["differs"]}
    assert differing == {"lr", "batch_size"}
    assert len(response.context["config"]) > len(differing)  # the rest is there for the toggle


@pytest.mark.django_db
def test_checkboxes_land_on_one_shareable_url(client, owner, three):
    client.force_login(owner)
    response = client.get(reverse("experiment_compare") + f"?ids={three[1].pk}&ids={three[0].pk}&ids={three[1].pk}")
    assert response.status_code == 302
    assert response["Location"] == reverse("experiment_compare") + f"?ids={three[0].pk},{three[1].pk}"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("ids", "message"),
    [
        ("", "between 2 and 10"),
        ("4", "between 2 and 10"),
        (",".join(map(str, range(1, 12))), "11 given"),
        ("1,x", "numbers"),
    ],
)
def test_bad_ids_get_a_clear_message(client, owner, ids, message):
    client.force_login(owner)
    response = client.get(reverse("experiment_compare"), {"ids": ids})
    assert response.status_code == 400
    assert message in response.content.decode()


@pytest.mark.django_db
def test_anothers_teams_experiment_cannot_be_compared(client, outsider, owner, three):
    client.force_login(outsider)
    ids = f"{three[0].pk},{three[1].pk}"
    assert client.get(reverse("experiment_compare"), {"ids": ids}).status_code == 404
    client.logout()
    assert client.get(reverse("experiment_compare"), {"ids": ids}).status_code == 302  # to the login page


@pytest.mark.django_db
def test_the_query_count_does_not_grow_with_the_experiments(
    client, owner, make_experiment, django_assert_max_num_queries
):
    runs = [finish_with(make_experiment(seed=i), 0.5) for i in range(10)]
    client.force_login(owner)
    with django_assert_max_num_queries(8):
        assert client.get(reverse("experiment_compare"), {"ids": ",".join(str(e.pk) for e in runs)}).status_code == 200


@pytest.mark.django_db
def test_the_experiment_page_offers_to_compare_with_others(client, owner, three):
    client.force_login(owner)
    page = client.get(reverse("experiment_detail", args=[three[0].pk])).content.decode()
    assert 'id="compare-form"' in page
    assert f'name="ids" value="{three[1].pk}"' in page and f'name="ids" value="{three[2].pk}"' in page
