"""A rejected upload's reason is kept in the database (not only in Redis), and `add_dataset --now`
without a running Redis ends with the reason, not a traceback."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.helpers import database_url
from tests.images import class_entries, truncated_png, zip_bytes
from tests.test_run_command import ROOT
from webapp.datasets import notices
from webapp.datasets.models import Dataset, Rejection


@pytest.mark.django_db
def test_a_rejection_is_a_record_shown_once_to_its_uploader(upload, owner, teammate):
    pk = upload(zip_bytes({**class_entries(2, 6), "class_0/cut.png": truncated_png()}))
    assert not Dataset.objects.filter(pk=pk).exists()
    record = Rejection.objects.get(dataset_id=pk)
    assert "class_0/cut.png" in record.message and record.user == owner
    assert notices.rejection(pk)["message"] == record.message
    assert notices.pop_for(teammate) == []
    assert [n["id"] for n in notices.pop_for(owner)] == [pk]
    assert notices.pop_for(owner) == []  # shown once
    assert notices.rejection(pk) is not None  # the page that followed the upload still says why


@pytest.mark.django_db(transaction=True)
def test_add_dataset_now_without_redis_says_why_the_content_was_rejected(team, tmp_path):
    from django.db import connection

    archive = tmp_path / "bad.zip"
    archive.write_bytes(zip_bytes({**class_entries(2, 6), "class_0/cut.png": truncated_png()}))
    env = {
        **os.environ,
        "DATABASE_URL": database_url(connection.settings_dict),
        "REDIS_URL": f"unix://{tmp_path}/no-redis.sock",  # nothing answers there
        "TRAINYARD_NO_BOOTSTRAP": "1",
    }
    args = ["add_dataset", "--team", team.name, "--name", "Bad", "--zip", str(archive), "--now"]
    proc = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    assert "class_0/cut.png" in proc.stderr
    assert not Dataset.objects.filter(name="Bad").exists()
    assert "class_0/cut.png" in Rejection.objects.get(name="Bad").message
