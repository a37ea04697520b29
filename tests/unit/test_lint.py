"""ruff and mypy, configured in pyproject.toml, run with the test suite: a clean exit,
or their findings shown as the failure."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent

# Not clean yet: files being reworked in parallel for issue 19 still have lines over
# 120 characters. Only E501 is waived there, every other rule applies. Empty this
# once they are wrapped.
LONG_LINES_NOT_FIXED_YET = (
    "gemmacompare/engine/**",
    "gemmacompare/cli/compare.py",
    "gemmacompare/cli/main.py",
    "gemmacompare/ui/main_window.py",
    "gemmacompare/bench/export.py",
)

# The packages mypy checks strictly. engine/ joins them (and bench/export.py leaves
# the exclude in pyproject.toml) once it passes.
MYPY_PATHS = ("gemmacompare/state", "gemmacompare/models", "gemmacompare/bench", "gemmacompare/arena")


def _run(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, cwd=ROOT, timeout=300)


def test_ruff_finds_nothing():
    waived = ", ".join(f"'{pattern}' = ['E501']" for pattern in LONG_LINES_NOT_FIXED_YET)
    out = _run([str(BIN / "ruff"), "check", ".", "--no-cache",
                "--config", f"lint.extend-per-file-ignores = {{{waived}}}"])
    assert out.returncode == 0, out.stdout + out.stderr


def test_mypy_finds_nothing():
    out = _run([str(BIN / "mypy"), *MYPY_PATHS])
    assert out.returncode == 0, out.stdout + out.stderr
