#!/usr/bin/env python3
"""Trainyard's command line.

    python3 manage.py up      run the product: Redis, a Celery worker and the web server
    python3 manage.py test    run the test suite (pytest; arguments are passed on)
    python3 manage.py lint    check the code with ruff (lint and format); --fix rewrites it

Any other command is Django's. On a fresh clone the first call creates `.venv`, installs the
project into it (again whenever pyproject.toml changes), and re-runs itself with that interpreter.
Set TRAINYARD_NO_BOOTSTRAP=1 to use the current interpreter as it is (the Docker image does).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = Path(os.environ.get("TRAINYARD_VENV", ROOT / ".venv")).resolve()
STAMP = VENV / ".trainyard-installed"


def _install_stamp() -> str:
    return hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()


def _ensure_installed(python: Path) -> None:
    if STAMP.exists() and STAMP.read_text().strip() == _install_stamp():
        return
    print("trainyard: installing the project and its dependencies into", VENV, flush=True)
    subprocess.check_call([str(python), "-m", "pip", "install", "--quiet", "--upgrade", "pip"])
    subprocess.check_call([str(python), "-m", "pip", "install", "--quiet", "-e", f"{ROOT}[test]"])
    STAMP.write_text(_install_stamp())


def bootstrap() -> None:
    if os.environ.get("TRAINYARD_NO_BOOTSTRAP"):
        return
    if sys.version_info < (3, 11):  # noqa: UP036 (the system python3 that starts this may be older)
        sys.exit(f"trainyard: Python 3.11 or newer is needed (this is {sys.version.split()[0]})")
    python = VENV / "bin" / "python"
    if Path(sys.prefix).resolve() == VENV:
        _ensure_installed(python)
        return
    if not python.exists():
        print("trainyard: creating the virtual environment", VENV, flush=True)
        subprocess.check_call([sys.executable, "-m", "venv", str(VENV)])
    _ensure_installed(python)
    os.execv(str(python), [str(python), str(Path(__file__).resolve()), *sys.argv[1:]])


def lint(fix: bool = False) -> int:
    """Ruff, configured in pyproject.toml: the linter's rules, then the formatter's layout."""
    ruff = [sys.executable, "-m", "ruff"]
    if fix:
        subprocess.call([*ruff, "check", "--fix", "."])
        return subprocess.call([*ruff, "format", "."])
    checked = subprocess.call([*ruff, "check", "."])
    formatted = subprocess.call([*ruff, "format", "--check", "--diff", "."])
    return checked or formatted


def main() -> None:
    bootstrap()
    os.chdir(ROOT)
    if len(sys.argv) > 1 and sys.argv[1] == "test":
        # The suite is pytest's; its plugin tests/services.py starts what the settings need.
        os.execv(sys.executable, [sys.executable, "-m", "pytest", *sys.argv[2:]])
    if len(sys.argv) > 1 and sys.argv[1] == "lint":
        sys.exit(lint(fix="--fix" in sys.argv[2:]))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
