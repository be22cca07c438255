"""Benchmarks: `python -m training bench` (the library's), `manage.py bench` (these and the web's).

Every benchmark compares two sides measured alternately in the same run and is judged by the ratio
of their medians (see `core`); `--quick` runs a tiny case of each (for the tests), `--json FILE`
writes the figures.
"""

from training.bench.core import BENCHMARKS, Figure, Result, alternate, compare, run_suite, table, write_json

__all__ = ["BENCHMARKS", "Figure", "Result", "alternate", "compare", "run_suite", "table", "write_json"]
