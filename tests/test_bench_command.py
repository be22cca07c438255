"""`python -m training bench`: the library's benchmarks run on a tiny case and write well-formed figures.
(Speed is never asserted here: the figures' values belong to the benchmark's own report.)"""

from __future__ import annotations

import json
import math

import pytest
from django.core.management import call_command

from training.bench.cli import main


def test_it_runs_the_library_benchmarks_and_writes_their_figures(tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert main(["--quick", "--only", "loop_parity", "streaming", "gpu", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["machine"]["cpus"] >= 1
    results = {r["name"]: r for r in report["results"]}
    assert set(results) == {"loop_parity", "streaming", "gpu"}
    parity = results["loop_parity"]
    assert parity["skipped"] == ""
    assert parity["target"] == 1.03 and parity["ratio"] > 0
    assert parity["extra"]["losses_equal"] is True  # the same seed gives the same loss to 4 decimals
    for figure in parity["figures"] + results["streaming"]["figures"]:
        assert figure["n"] >= 1 and figure["min"] <= figure["median"] <= figure["max"]
        assert all(math.isfinite(figure[k]) for k in ("min", "median", "max"))
    assert results["gpu"]["skipped"] or results["gpu"]["figures"]  # skipped with a message without CUDA
    assert any("messages sent" in note for note in results["streaming"]["notes"])
    printed = capsys.readouterr().out
    assert "loop_parity" in printed and "ratio" in printed


def test_it_names_the_benchmarks_when_one_is_unknown(capsys):
    assert main(["--only", "nope"]) == 2
    assert "loop_parity" in capsys.readouterr().err


@pytest.mark.worker
def test_manage_py_bench_runs_the_web_benchmarks_in_a_scratch_database(tmp_path, django_db_blocker):
    out = tmp_path / "web.json"
    with django_db_blocker.unblock():
        call_command("bench", "--quick", "--only", "pages", "watchers", "whole_product", "--json", str(out))
    results = {r["name"]: r for r in json.loads(out.read_text())["results"]}
    pages, watchers = results["pages"], results["watchers"]
    assert pages["skipped"] == "" and pages["target"] == 2.0 and pages["ratio"] > 0
    assert any("queries" in note for note in pages["notes"])
    assert watchers["skipped"] == "" and watchers["target"] == 1.1 and watchers["ratio"] > 0
    assert watchers["extra"]["latency_p95_ms"] >= watchers["extra"]["latency_p50_ms"] > 0
    assert results["whole_product"]["skipped"].startswith("not built")
