"""`gemmacompare --self-test` as a user (or CI, or the bundle) runs it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[2]
STEP_NAMES = ("llama.cpp", "model", "worker", "window", "processes")


def run_self_test(*extra: str, timeout: float = 240) -> tuple[subprocess.CompletedProcess, set[int]]:
    """Runs it, noting every process it starts, so a leftover can be caught after it exits."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "gemmacompare", "--self-test", *extra], stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, cwd=ROOT, env={**os.environ},
    )
    seen: set[int] = set()
    parent = psutil.Process(proc.pid)
    deadline = time.monotonic() + timeout
    while proc.poll() is None and time.monotonic() < deadline:
        try:
            seen |= {c.pid for c in parent.children(recursive=True)}
        except psutil.NoSuchProcess:
            break
        time.sleep(0.05)
    out, err = proc.communicate(timeout=max(1, deadline - time.monotonic()))
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err), seen


def step_lines(stdout: str) -> dict[str, str]:
    lines = {}
    for line in stdout.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[1] in STEP_NAMES:
            lines[parts[1]] = line
    return lines


def still_running(pids: set[int]) -> list[int]:
    time.sleep(0.5)  # multiprocessing's resource tracker ends just after its parent
    alive = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                alive.append(pid)
        except psutil.NoSuchProcess:
            pass
    return alive


def test_self_test_passes_every_step_and_leaves_nothing(demo_paths):
    out, seen = run_self_test()
    assert out.returncode == 0, out.stdout + out.stderr
    steps = step_lines(out.stdout)
    assert list(steps) == list(STEP_NAMES)
    for name, line in steps.items():
        assert line.split()[0] == "ok", line
        assert line.split()[3] == "s" and float(line.split()[2]) >= 0, line  # its time
    assert "backends: " in steps["llama.cpp"] and "CPU variant:" in steps["llama.cpp"]
    assert "CPU" in steps["llama.cpp"].split("backends: ")[1].split(" · ")[0].split(", ")
    assert "system info: CPU :" in steps["llama.cpp"]
    assert str(demo_paths["smollm2"]) in steps["model"]
    assert "16 tokens through a spawned worker" in steps["worker"]
    assert "CPU · 0/31 layers offloaded" in steps["worker"]
    assert "first paint" in steps["window"] and "offscreen" in steps["window"]
    assert out.stdout.rstrip().endswith("self-test passed")
    assert seen, "the worker should have been a child process"
    assert still_running(seen) == []


def test_self_test_with_a_broken_model_names_the_step(tmp_path):
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"GGUF\x03\x00\x00\x00" + b"\x00" * 100)
    out, seen = run_self_test("--model", str(bad))
    assert out.returncode != 0
    steps = step_lines(out.stdout)
    assert steps["llama.cpp"].split()[0] == "ok"
    assert steps["model"].split()[0] == "FAILED" and "broken.gguf" in steps["model"]
    assert steps["worker"].split()[0] == "skipped" and steps["window"].split()[0] == "skipped"
    assert steps["processes"].split()[0] == "ok"
    assert out.stdout.rstrip().endswith("self-test FAILED at step 'model'")
    assert "Traceback" not in out.stdout + out.stderr
    assert still_running(seen) == []


def test_self_test_with_a_missing_model_path(tmp_path):
    out, _ = run_self_test("--model", str(tmp_path / "nowhere.gguf"))
    assert out.returncode != 0
    assert "does not exist" in step_lines(out.stdout)["model"]


def test_model_without_self_test_is_refused():
    out = subprocess.run([sys.executable, "-m", "gemmacompare", "--model", "x.gguf"], capture_output=True,
                         text=True, cwd=ROOT, timeout=60)
    assert out.returncode == 2 and "--self-test" in out.stderr
