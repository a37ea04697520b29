"""ruff and mypy, configured in pyproject.toml, run with the test suite: a clean exit,
or their findings shown as the failure."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent

# The packages mypy checks strictly: everything below the window and the command line.
MYPY_PATHS = ("gemmacompare/state", "gemmacompare/models", "gemmacompare/engine", "gemmacompare/bench",
              "gemmacompare/arena")


def _run(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, cwd=ROOT, timeout=300)


def test_ruff_finds_nothing():
    out = _run([str(BIN / "ruff"), "check", ".", "--no-cache"])
    assert out.returncode == 0, out.stdout + out.stderr


def test_mypy_finds_nothing():
    out = _run([str(BIN / "mypy"), *MYPY_PATHS])
    assert out.returncode == 0, out.stdout + out.stderr
