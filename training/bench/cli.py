"""python -m training bench [--quick] [--json FILE] [--only NAME ...]: the library's benchmarks."""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import torch

import training.bench.library  # noqa: F401  (registers the library's benchmarks)
from training.bench.core import BENCHMARKS, Result, run_suite, table, write_json


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "cpu": platform.processor() or platform.machine(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
    }


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quick", action="store_true", help="a tiny case of each benchmark (seconds, not minutes)")
    parser.add_argument("--json", metavar="FILE", help="write the figures and the machine's description as JSON")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="run only these benchmarks")


def run(names: Sequence[str], quick: bool, json_path: str | None, out: Callable[[str], None] = print) -> list[Result]:
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        raise KeyError(f"unknown benchmark {unknown[0]!r}; choose from: {', '.join(BENCHMARKS.names())}")
    about = machine()
    out(
        f"machine: {about['cpus']} CPUs ({about['cpu']}), torch {about['torch']}, {about['torch_threads']} threads, "
        f"GPU: {about['cuda'] or 'none'}, load average {about['load_average']}"
    )
    started = time.perf_counter()
    results = run_suite(names, quick, lambda r: out(table([r])))
    out("\n" + table(results))
    about["suite_seconds"] = round(time.perf_counter() - started, 1)
    out(f"the suite took {about['suite_seconds']:.0f} s")
    if json_path:
        write_json(results, json_path, about)
        out(f"wrote {json_path}")
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training bench", description=__doc__)
    add_arguments(parser)
    args = parser.parse_args(argv)
    names = args.only or BENCHMARKS.names()
    try:
        run(names, args.quick, args.json)
    except KeyError as exc:
        print(f"error: {exc.args[0]}", file=sys.stderr)
        return 2
    return 0
