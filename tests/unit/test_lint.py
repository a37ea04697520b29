"""ruff and mypy, configured in pyproject.toml, run with the test suite: a clean exit,
or their findings shown as the failure."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent

def _run(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, cwd=ROOT, timeout=300)


def test_ruff_finds_nothing():
    out = _run([str(BIN / "ruff"), "check", ".", "--no-cache"])
    assert out.returncode == 0, out.stdout + out.stderr


def test_mypy_finds_nothing():
    """Strict, over the whole package (pyproject's `files`): the window and the command line too."""
    out = _run([str(BIN / "mypy")])
    assert out.returncode == 0, out.stdout + out.stderr
    assert "no issues found in" in out.stdout and "source files" in out.stdout
