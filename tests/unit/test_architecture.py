"""The layers (ui | cli > bench | arena > engine > models > state) and the Qt boundary,
enforced mechanically by the import-linter contracts in pyproject.toml."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "gemmacompare"


def test_import_contracts_are_kept():
    lint = Path(sys.executable).parent / "lint-imports"
    out = subprocess.run([str(lint)], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "3 kept, 0 broken" in out.stdout


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


def test_no_door_schedules_models_itself():
    """The window, the command line, bench and arena reach models through the compare
    session: none of them imports a worker module (the import contract says the same)."""
    import tomllib

    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    doors = next(c for c in contracts if c["name"] == "Doors use the compare session, not the workers")
    assert "gemmacompare.engine.local.model_worker" in doors["forbidden_modules"]
    offenders = []
    for pkg in ("ui", "cli", "bench", "arena"):
        for path in sorted((PACKAGE / pkg).rglob("*.py")):
            text = path.read_text()
            for worker_module in ("engine.model_worker", "engine.worker import", "engine.llama_context"):
                if worker_module in text and path.name != "self_test.py":
                    offenders.append(f"{path.relative_to(ROOT)}: {worker_module}")
    assert offenders == []
