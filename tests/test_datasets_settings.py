"""The dataset caps and paths are settings read from the environment, with defaults, and bad values
fail loudly at start, naming the variable."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NAMES = [
    "DATASET_MAX_ENTRIES",
    "DATASET_MAX_BYTES",
    "DATASET_MAX_RATIO",
    "DATASET_MAX_PIXELS",
    "DATASET_MIN_IMAGES_PER_CLASS",
    "DATASET_FOLDER_ROOTS",
    "DATASET_TORCHVISION_DIR",
    "DATASET_DOWNLOADS",
    "DATASET_CACHE_DIR",
]


def dataset_settings(tmp_path, **env) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith("TRAINYARD_DATASET")}
    base.update({"TRAINYARD_DATA_DIR": str(tmp_path / "data"), "DJANGO_SETTINGS_MODULE": "webapp.settings", **env})
    code = (
        "import django, json; django.setup(); from django.conf import settings as s; "
        f"print(json.dumps({{n: str(getattr(s, n)) for n in {NAMES!r}}}))"
    )
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=base, capture_output=True, text=True)


def test_the_defaults_suit_a_workstation(tmp_path):
    proc = dataset_settings(tmp_path)
    assert proc.returncode == 0, proc.stderr
    values = json.loads(proc.stdout)
    assert values["DATASET_MAX_ENTRIES"] == "200000" and values["DATASET_MAX_BYTES"] == str(8 * 2**30)
    assert values["DATASET_MAX_RATIO"] == "200" and values["DATASET_MAX_PIXELS"] == "40000000"
    assert values["DATASET_MIN_IMAGES_PER_CLASS"] == "5" and values["DATASET_DOWNLOADS"] == "True"
    assert values["DATASET_FOLDER_ROOTS"] == f"[PosixPath('{tmp_path / 'data' / 'server-datasets'}')]"
    assert values["DATASET_CACHE_DIR"] == str(tmp_path / "data" / "dataset-cache")


def test_every_cap_is_read_from_the_environment(tmp_path):
    proc = dataset_settings(
        tmp_path,
        TRAINYARD_DATASET_MAX_ENTRIES="50",
        TRAINYARD_DATASET_MAX_BYTES="1000000",
        TRAINYARD_DATASET_MAX_RATIO="20",
        TRAINYARD_DATASET_MAX_PIXELS="4096",
        TRAINYARD_DATASET_MIN_IMAGES_PER_CLASS="10",
        TRAINYARD_DATASET_DOWNLOADS="no",
        TRAINYARD_DATASET_FOLDER_ROOTS="/mnt/a, /mnt/b",
        TRAINYARD_TORCHVISION_DIR="/mnt/tv",
        TRAINYARD_DATASET_CACHE_DIR=str(tmp_path / "cache"),
    )
    assert proc.returncode == 0, proc.stderr
    values = json.loads(proc.stdout)
    assert [values[n] for n in NAMES[:5]] == ["50", "1000000", "20", "4096", "10"]
    assert values["DATASET_DOWNLOADS"] == "False" and values["DATASET_TORCHVISION_DIR"] == "/mnt/tv"
    assert values["DATASET_FOLDER_ROOTS"] == "[PosixPath('/mnt/a'), PosixPath('/mnt/b')]"
    assert values["DATASET_CACHE_DIR"] == str(tmp_path / "cache")


@pytest.mark.parametrize(
    "name, value, message",
    [
        ("TRAINYARD_DATASET_MAX_PIXELS", "lots", "TRAINYARD_DATASET_MAX_PIXELS='lots' is not an integer"),
        ("TRAINYARD_DATASET_MAX_ENTRIES", "0", "TRAINYARD_DATASET_MAX_ENTRIES=0 must be at least 1"),
        ("TRAINYARD_DATASET_DOWNLOADS", "maybe", "TRAINYARD_DATASET_DOWNLOADS='maybe' is not a boolean"),
        ("TRAINYARD_DATASET_FOLDER_ROOTS", "relative/data", "must be an absolute path"),
        ("TRAINYARD_TORCHVISION_DIR", "relative", "must be an absolute path"),
    ],
)
def test_a_bad_value_fails_at_start_naming_the_variable(tmp_path, name, value, message):
    proc = dataset_settings(tmp_path, **{name: value})
    assert proc.returncode != 0 and message in proc.stderr
