"""`manage.py bench`: the library's benchmarks and the web's, in a throw-away database."""

from __future__ import annotations

from training.bench import BENCHMARKS, Result
from webapp.core.bench.pages import pages
from webapp.core.bench.watchers import watchers

WEB = {"pages": pages, "watchers": watchers}
SKIPPED = {
    "whole_product": "not built yet: an experiment through queue, worker, database and live against the plain script",
    "submit_latency": "not built yet: submit to task start on local Redis (p50, p95)",
    "search_throughput": "not built yet: sweep trials per hour against the command line",
}


def register() -> None:
    for name, bench in WEB.items():
        if name not in BENCHMARKS:
            BENCHMARKS.add(name, bench, bench.__doc__ or name)
    for name, why in SKIPPED.items():
        if name not in BENCHMARKS:
            BENCHMARKS.add(name, lambda quick, name=name, why=why: Result(name, skipped=why), why)
