"""Class names that hide or reorder text (control and bidirectional characters) or run over 100
characters are refused like bad CSV labels, from folders and from CSV files, naming the culprits."""

from __future__ import annotations

import csv
import io

import pytest
from django.urls import reverse

from tests.helpers import created_id, post_upload
from tests.images import class_entries, zip_bytes
from training.layout import DatasetRejected, plan_csv, plan_folders
from webapp.datasets.models import Dataset
from webapp.datasets.tasks import process_dataset

BAD_NAMES = {
    "bidirectional override": "cat\u202egnp.exe",
    "bidirectional isolate": "dog\u2066x\u2069",
    "zero-width joiner": "bi\u200drd",
    "terminal escape": "fish\x1b[31m",
    "newline": "two\nlines",
    "line separator": "a\u2028b",
    "too long": "x" * 101,
}


def folder_names(bad: str) -> list[str]:
    return [f"{name}/img_{i}.png" for name in ("plain", bad) for i in range(3)]


@pytest.mark.parametrize("bad", BAD_NAMES.values(), ids=BAD_NAMES.keys())
def test_a_class_folder_with_a_hidden_or_overlong_name_is_refused(bad):
    with pytest.raises(DatasetRejected) as caught:
        plan_folders(folder_names(bad))
    message = str(caught.value)
    assert "over 100 characters or with control or bidirectional characters" in message
    assert ascii(bad) in message  # shown escaped: the message itself hides nothing


@pytest.mark.parametrize("bad", BAD_NAMES.values(), ids=BAD_NAMES.keys())
def test_a_csv_label_with_a_hidden_or_overlong_name_is_refused(bad):
    names = [f"img_{i}.png" for i in range(6)] + ["labels.csv"]
    buffer = io.StringIO()
    csv.writer(buffer).writerows(
        [["filename", "label"]] + [[f"img_{i}.png", "plain" if i < 3 else bad] for i in range(6)]
    )
    with pytest.raises(DatasetRejected, match="(?i)labels that cannot be class names"):
        plan_csv(names, "labels.csv", buffer.getvalue().encode())


def test_names_of_100_characters_and_other_scripts_are_fine():
    plan = plan_folders(folder_names("y" * 100) + folder_names("chat noir \u00e9t\u00e9 \u732b \u0642\u0637")[3:])
    assert len(plan.classes) == 3


@pytest.mark.django_db
def test_an_upload_with_such_a_folder_is_rejected_by_the_worker_and_keeps_nothing(client, owner, team):
    client.force_login(owner)
    entries = class_entries(names=["cats", "dogs\u202e"], per_class=5)
    pk = created_id(post_upload(client, team, zip_bytes(entries)))
    process_dataset.apply(args=[pk])
    error = client.get(reverse("api_dataset_status", args=[pk])).json()["error"]
    assert "bidirectional" in error and "\\u202e" in error
    assert not Dataset.objects.exists()
