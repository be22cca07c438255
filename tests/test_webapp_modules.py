"""How the web application's modules hang together: no import circles among a Django app's modules
(each imports only those it builds on), and the Celery inspect command registered by the app itself."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def runtime_imports(path: Path, package: str) -> set[str]:
    """The modules of `package` that this file imports when it runs (anywhere in it, functions included;
    not those under `if TYPE_CHECKING:`, which only type checkers follow)."""
    tree = ast.parse(path.read_text())
    checked_only = {
        id(node)
        for block in ast.walk(tree)
        if isinstance(block, ast.If) and "TYPE_CHECKING" in ast.unparse(block.test)
        for stmt in block.body
        for node in ast.walk(stmt)
    }
    found = set()
    for node in ast.walk(tree):
        if id(node) in checked_only:
            continue
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        found |= {n for n in names if n.startswith(package + ".") and n.count(".") == package.count(".") + 1}
    return found


@pytest.mark.parametrize("app", ["datasets", "experiments", "teams", "core", "sweeps"])
def test_no_module_of_an_app_imports_one_that_imports_it_back(app):
    package = f"webapp.{app}"
    folder = ROOT / "webapp" / app
    graph = {f"{package}.{p.stem}": runtime_imports(p, package) for p in folder.glob("*.py") if p.stem != "__init__"}
    graph = {module: {d for d in deps if d in graph and d != module} for module, deps in graph.items()}
    try:
        list(TopologicalSorter(graph).static_order())
    except CycleError as exc:
        pytest.fail(f"import circle in {package}: {' -> '.join(exc.args[1])}")


def test_workers_answer_the_device_inspect_command_without_the_urls_being_loaded():
    # A worker process never loads the URLconf: the app's ready() registers the command.
    code = (
        "import sys, django; django.setup(); from celery.worker.control import Panel; "
        "assert 'trainyard_device' in Panel.data, 'not registered'; "
        "assert 'webapp.urls' not in sys.modules, 'registered by importing the URLconf'"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "webapp.settings"}
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
