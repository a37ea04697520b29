"""The headless commands, run as a user would run them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from gemmacompare.models.gguf_file import FileProblem

ROOT = Path(__file__).resolve().parents[2]


def cli(*args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "gemmacompare", *args], capture_output=True, text=True, cwd=ROOT,
        timeout=timeout, env={**os.environ},
    )


def test_compare_bad_model_exits_with_its_status(tmp_path):
    bad = tmp_path / "bad.gguf"
    bad.write_text("x")
    out = cli("compare", str(bad), "smollm2", "-p", "hi")
    assert out.returncode == FileProblem.NOT_GGUF.value
    assert "not a GGUF" in out.stderr


def test_bad_arguments_are_refused_before_loading(tmp_path):
    out = cli("compare", "-p", "hi", "-n", "0")
    assert out.returncode == 2 and "Max tokens must be between 1 and" in out.stderr
    out = cli("compare", "-p", "hi", "--json", str(tmp_path / "missing" / "x.json"))
    assert out.returncode == 2 and "cannot write" in out.stderr and "loading" not in out.stderr


def test_ignore_eos_reaches_compare_and_bench_settings():
    """--ignore-eos parses in both doors and lands in the settings each one builds."""
    from gemmacompare.bench.records import BenchConfig
    from gemmacompare.cli.compare import run_settings
    from gemmacompare.cli.main import build_parser

    ap = build_parser()
    cmp_args = ap.parse_args(["compare", "-p", "hi", "-n", "64", "--ignore-eos"])
    assert run_settings(cmp_args, 0).sampling.ignore_eos is True
    assert run_settings(ap.parse_args(["compare", "-p", "hi"]), 0).sampling.ignore_eos is False
    assert ap.parse_args(["bench", "--ignore-eos"]).ignore_eos is True
    assert BenchConfig(models=("x",), settings={"ignore_eos": True}).run_settings().sampling.ignore_eos is True
