"""`manage.py bench`: the library's benchmarks and the web's, in a throw-away database."""

from __future__ import annotations

from training.bench import BENCHMARKS
from webapp.core.bench.pages import pages
from webapp.core.bench.product import search_throughput, submit_latency, whole_product
from webapp.core.bench.watchers import watchers

# In this order: submit_latency repeats the epoch-to-client figures of watchers.
WEB = {
    "pages": pages,
    "watchers": watchers,
    "whole_product": whole_product,
    "submit_latency": submit_latency,
    "search_throughput": search_throughput,
}


def register() -> None:
    for name, bench in WEB.items():
        if name not in BENCHMARKS:
            BENCHMARKS.add(name, bench, bench.__doc__ or name)
