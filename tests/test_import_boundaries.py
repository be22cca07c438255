"""Import boundaries: training/ is a plain PyTorch library that never imports the web stack, and its
modules import one another without cycles."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TRAINING = ROOT / "training"
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
        str(p.relative_to(ROOT)): sorted(imported_modules(p) & set(FORBIDDEN)) for p in sorted(TRAINING.rglob("*.py"))
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


# --- no cycles between training's modules ---------------------------------------------------------------
def training_imports(path: Path, modules: set[str]) -> set[str]:
    """The training modules `path` imports when it runs (anywhere in it, functions too).

    Imports under `if TYPE_CHECKING:` never run: a builder may name the config as a type that way."""
    tree = ast.parse(path.read_text(), filename=str(path))
    type_only = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for inner in ast.walk(node)
    }
    found = set()
    for node in ast.walk(tree):
        if id(node) in type_only:
            continue
        if isinstance(node, ast.ImportFrom) and node.module == "training":  # from training import checkpoint
            found |= {alias.name for alias in node.names if alias.name in modules}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("training."):
            found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            found |= {a.name.split(".")[1] for a in node.names if a.name.startswith("training.")}
    return found - {path.stem}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    found: list[list[str]] = []
    state: dict[str, str] = {}  # "open" while on the path, "done" after

    def visit(module: str, path: list[str]) -> None:
        state[module] = "open"
        for imported in sorted(graph.get(module, ())):
            if state.get(imported) == "open":
                found.append([*path[path.index(imported) :], module, imported])
            elif imported not in state:
                visit(imported, [*path, module])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [])
    return found


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"config": {"losses"}, "losses": {"registry", "config"}, "registry": set()}) == [
        ["config", "losses", "config"]
    ]


def test_no_module_in_training_imports_another_that_imports_it_back():
    # The package's __init__ (the public surface) and __main__ (the command line) import the modules
    # and are imported by none of them.
    modules = {p.stem for p in TRAINING.glob("*.py")} - {"__init__", "__main__"}
    graph = {m: training_imports(TRAINING / f"{m}.py", modules) for m in modules}
    assert cycles(graph) == []
