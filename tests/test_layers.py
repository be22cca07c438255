"""training/ is a plain PyTorch library: it never imports the web stack."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN = ("django", "celery", "channels", "channels_redis", "daphne", "rest_framework", "webapp", "redis", "kombu")


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_no_module_in_training_imports_the_web_stack():
    offenders = {
        str(p.relative_to(ROOT)): sorted(imported_modules(p) & set(FORBIDDEN))
        for p in sorted((ROOT / "training").rglob("*.py"))
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_importing_the_whole_training_package_loads_none_of_it():
    # `import optuna` (the search's dependency) loads redis itself, for its optional Redis journal storage
    # (optuna/storages/journal/_redis.py); what it loads on its own is not training's doing.
    code = (
        "import sys, pkgutil, importlib, optuna\n"
        f"before = {{n for n in sys.modules if n.split('.')[0] in {FORBIDDEN!r}}}\n"
        "import training\n"
        "for m in pkgutil.walk_packages(training.__path__, 'training.'): importlib.import_module(m.name)\n"
        f"print(sorted(n for n in sys.modules if n.split('.')[0] in {FORBIDDEN!r} and n not in before))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
