"""The layers (ui | cli > bench | arena > engine > models > state) and the Qt boundary,
enforced mechanically by the import-linter contracts in pyproject.toml."""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "gemmacompare"


def test_import_contracts_are_kept():
    lint = Path(sys.executable).parent / "lint-imports"
    out = subprocess.run([str(lint)], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "4 kept, 0 broken" in out.stdout


def test_every_package_is_in_the_layers_and_the_qt_boundary():
    import tomllib

    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    layered = {m.strip() for layer in contracts[0]["layers"] for m in layer.split("|")}
    qt = next(c for c in contracts if c["name"] == "Nothing below the window imports Qt")
    below_ui = set(qt["source_modules"])
    packages = {f"gemmacompare.{p.name}" for p in PACKAGE.iterdir() if (p / "__init__.py").exists()}
    assert packages == layered
    assert below_ui == packages - {"gemmacompare.ui"}


def test_no_private_name_is_imported_from_another_module():
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("gemmacompare"):
                offenders += [f"{path.relative_to(ROOT)}: {node.module}.{a.name}"
                              for a in node.names if a.name.startswith("_")]
    assert offenders == []


# Imports that break the contracts: past the door, from the wire types up into local/
# (the one upward arrow there was), and from bench straight to a worker.
VIOLATIONS = {
    "ui/pane.py": "from gemmacompare.engine.session import CompareSession",
    "engine/protocol.py": "from gemmacompare.engine.local.llama_runtime import Placement",
    "bench/runner.py": "from gemmacompare.engine.local.model_worker import ModelWorker",
}


def test_the_contracts_catch_an_import_past_the_door(tmp_path):
    """The contracts can fail: a copy of the package with those imports added breaks the
    door and local/ contracts, each naming its import, and keeps the others."""
    shutil.copytree(PACKAGE, tmp_path / "gemmacompare", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    for rel, line in VIOLATIONS.items():
        path = tmp_path / "gemmacompare" / rel
        path.write_text(path.read_text() + f"\n{line}\n")
    lint = Path(sys.executable).parent / "lint-imports"
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}  # the copy, not the installed package
    out = subprocess.run([str(lint), "--no-cache"], capture_output=True, text=True, cwd=tmp_path, env=env,
                         timeout=120)
    assert out.returncode == 1, out.stdout + out.stderr
    assert "2 kept, 2 broken" in out.stdout, out.stdout
    for name in ("ui and cli reach the engine only through engine.api", "Only the session and the door import"):
        assert re.search(rf"{re.escape(name)}.* BROKEN", out.stdout), out.stdout
    for importer, imported in (("gemmacompare.ui.pane", "gemmacompare.engine.session"),
                               ("gemmacompare.engine.protocol", "gemmacompare.engine.local.llama_runtime"),
                               ("gemmacompare.bench.runner", "gemmacompare.engine.local.model_worker")):
        assert f"{importer} -> {imported}" in out.stdout, out.stdout
