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
        call_command("bench", "--quick", "--only", "pages", "watchers", "--json", str(out))
    results = {r["name"]: r for r in json.loads(out.read_text())["results"]}
    pages, watchers = results["pages"], results["watchers"]
    assert pages["skipped"] == "" and pages["target"] == 2.0 and pages["ratio"] > 0
    assert any("queries" in note for note in pages["notes"])
    assert watchers["skipped"] == "" and watchers["target"] == 1.1 and watchers["ratio"] > 0
    assert watchers["extra"]["latency_p95_ms"] >= watchers["extra"]["latency_p50_ms"] > 0


def _well_formed(figure: dict) -> bool:
    return (
        figure["n"] >= 1
        and all(math.isfinite(figure[k]) for k in ("min", "median", "max"))
        and (0 < figure["min"] <= figure["median"] <= figure["max"])
    )


@pytest.mark.worker
def test_the_product_benchmarks_run_a_real_worker_against_the_command_line(tmp_path, django_db_blocker, own_queues):
    """whole_product, submit_latency and search_throughput: experiments and a sweep submitted through the
    API to a real Celery worker process (the bench's own, on its scratch database and queues)."""
    out = tmp_path / "product.json"
    with django_db_blocker.unblock():
        call_command(
            "bench", "--quick", "--only", "whole_product", "submit_latency", "search_throughput", "--json", str(out)
        )
    report = json.loads(out.read_text())
    results = {r["name"]: r for r in report["results"]}
    assert report["machine"]["suite_seconds"] > 0
    for name, target in (("whole_product", 1.10), ("submit_latency", 1.0), ("search_throughput", 1.10)):
        result = results[name]
        assert result["skipped"] == "", result["skipped"]
        assert result["target"] == target and result["ratio"] > 0
        assert result["figures"] and all(_well_formed(f) for f in result["figures"]), result["figures"]
    latency = results["submit_latency"]["extra"]
    assert latency["submit_p95_ms"] >= latency["submit_p50_ms"] > 0
    names = [f["name"] for f in results["search_throughput"]["figures"]]
    assert names == ["python -m training sweep (warm)", "web sweep, parallelism 1"]
