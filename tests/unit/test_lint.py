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
    "gemmacompare/engine/local/child.py",
    "gemmacompare/engine/local/llama_runtime.py",
    "gemmacompare/engine/report/stats_table.py",
    "gemmacompare/engine/protocol.py",
    "gemmacompare/cli/compare.py",
    "gemmacompare/cli/main.py",
    "gemmacompare/ui/main_window.py",
    "gemmacompare/bench/export.py",
)

# engine/ files being reworked in parallel (issue 19) that do not pass mypy yet; every
# other engine file is checked. Once these pass, "gemmacompare/engine" joins MYPY_PATHS
# whole (and these leave the follow_imports override in pyproject.toml).
MYPY_ENGINE_NOT_CLEAN_YET = (
)
MYPY_ENGINE_PATHS = tuple(sorted(
    path for path in (p.relative_to(ROOT).as_posix() for p in (ROOT / "gemmacompare/engine").rglob("*.py"))
    if path not in MYPY_ENGINE_NOT_CLEAN_YET
))

# The packages mypy checks strictly.
MYPY_PATHS = ("gemmacompare/state", "gemmacompare/models", "gemmacompare/bench", "gemmacompare/arena",
              *MYPY_ENGINE_PATHS)


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
