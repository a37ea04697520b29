"""The benchmark on the real demo models: runs, figures, stop/resume, a killed process, exports."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import psutil
import pytest

from gemmacompare.bench.export import items_csv, markdown_report, summary_csv, to_json
from gemmacompare.bench.records import (
    STATUS_DONE,
    STATUS_INTERRUPTED,
    STATUS_RUNNING,
    STATUS_STOPPED,
    BenchConfig,
)
from gemmacompare.bench.runner import BenchBusyError, BenchError, BenchRunner, create_run, run_benchmark
from gemmacompare.bench.stats import summarize_run
from gemmacompare.bench.store import BenchStore, default_db_path
from gemmacompare.cli.main import main
from gemmacompare.engine import protocol as p
from gemmacompare.engine.modes import threads_for_mode
from gemmacompare.state.settings_table import is_setting

ROOT = Path(__file__).resolve().parents[2]


MAX_TOKENS = 24


def _config(demo_paths, **kw) -> BenchConfig:
    base = dict(models=(str(demo_paths["smollm2"]), str(demo_paths["gemma3"])), suite="reasoning", limit=3,
                runs=2, warmup=0, settings={"max_tokens": MAX_TOKENS})
    # Settings of the table go into the config's settings; the rest are the benchmark's own.
    settings = {k: kw.pop(k) for k in list(kw) if is_setting(k)}
    return BenchConfig(**{**base, **kw, "settings": {"max_tokens": MAX_TOKENS, **settings}})


@pytest.mark.parametrize("mode", ["fair", "race"])
def test_bench_three_items_two_runs(demo_paths, mode):
    progress = []
    with BenchStore() as store:
        out = run_benchmark(_config(demo_paths, mode=mode), store, on_progress=progress.append)
        run = store.get_run(out.run_id)
    assert out.status == STATUS_DONE and run.status == STATUS_DONE
    assert len(run.items) == 3 * 2 * 2 == run.n_planned
    assert [p.done for p in progress] == [2, 4, 6, 8, 10, 12] and progress[-1].total == 12

    for it in run.items:
        st = it.stats
        assert it.error is None
        assert 0 < st["n_tokens"] <= MAX_TOKENS
        assert st["n_thinking"] + st["n_answer"] == st["n_tokens"]
        # llama.cpp's own counters agree exactly (see test_engine's perf test):
        # the token that ends a run is sampled but never decoded.
        assert st["llama_n_p_eval"] == st["n_prompt"] > 0
        if st["stop_reason"] == p.STOP_MAX_TOKENS:
            assert st["n_tokens"] == MAX_TOKENS
            assert st["llama_n_eval"] == st["n_tokens"] - 1
        elif st["stop_reason"] == p.STOP_STRING:
            # The base-model frame's stop string: the token that completes it ends the run undecoded.
            assert st["llama_n_eval"] == st["n_tokens"] - 1
        else:
            assert st["stop_reason"] == p.STOP_EOS
            assert st["llama_n_eval"] == st["n_tokens"]
        assert st["gen_tps"] > 0 and st["prefill_tps"] > 0 and st["ttft_s"] > 0
        assert st["peak_rss"] > 0
        assert not it.correct or it.extracted is not None

    summaries = summarize_run(run)
    assert [s.n_items for s in summaries] == [6, 6]
    for s in summaries:
        assert 0.0 <= s.accuracy.mean <= 1.0
        assert 0.0 <= s.accuracy_low <= s.accuracy.mean <= s.accuracy_high <= 1.0
        for key, m in s.metrics.items():
            if key == "peak_vram" and m.mean is None:
                continue  # no GPU: none, never 0
            assert m.sd is not None and m.sd >= 0, key
        assert s.metrics["gen_tps"].n == 6
        assert s.metrics["n_tokens"].mean <= MAX_TOKENS

    # Every model's facts and the machine are recorded with the result.
    assert all(m is not None and len(m.file_hash) == 16 and m.quantization for m in run.models)
    assert all(m.n_threads == threads_for_mode(mode, None, 2) for m in run.models)
    assert all(it.stats["n_threads"] == threads_for_mode(mode, None, 2) for it in run.items)
    assert run.machine["cpu_cores"] >= 1 and "llama_cpp_python" in run.machine
    assert "CPU" in run.models[0].system_info

    if mode == "fair":
        _check_exports(run)


def _check_exports(run) -> None:
    data = json.loads(json.dumps(to_json(run)))
    assert data["config"]["mode"] == "fair" and len(data["items"]) == 12
    names = [row["model_name"] for row in data["summary"]]
    assert len(names) == 2
    for row in data["summary"]:
        assert row["avg_ts"] > 0 and row["stddev_ts"] >= 0 and row["n_gen"] > 0
        assert row["model_type"] and row["model_size"] > 0 and row["n_threads"] >= 1
        assert len(row["samples_ts"]) == 6
        # Every setting that changes speed, as llama-bench names it.
        assert (row["flash_attn"], row["type_k"], row["type_v"]) == ("auto", "f16", "f16") and row["n_batch"] > 0

    rows = list(csv.DictReader(io.StringIO(summary_csv(run))))
    assert [r["model_name"] for r in rows] == names
    assert {"avg_ts", "stddev_ts", "n_prompt", "n_gen", "model_type", "model_size", "n_threads",
            "n_gpu_layers", "flash_attn", "type_k", "type_v"} <= set(rows[0])
    assert float(rows[0]["avg_ts"]) == pytest.approx(data["summary"][0]["avg_ts"])
    items = list(csv.DictReader(io.StringIO(items_csv(run))))
    assert len(items) == 12 and {r["correct"] for r in items} <= {"True", "False"}
    # Which extraction rule read each answer, e.g. "answer is: = result" or "last number in reply".
    assert all(r["extract_rule"] for r in items)

    md = markdown_report(run)
    table = [line for line in md.splitlines() if line.startswith("| ")]
    assert table[0].startswith("| model | accuracy")
    assert all(any(line.startswith(f"| {name} |") for line in table) for name in names)


def test_stop_and_resume_keeps_finished_items(demo_paths):
    config = _config(demo_paths, limit=3, runs=1, max_tokens=16)
    with BenchStore() as store:
        run_id = create_run(store, config)
        runner = BenchRunner(store)
        out = runner.run(run_id, on_item=lambda items: runner.stop())
        assert out.status == STATUS_STOPPED
        first = store.get_run(run_id)
        assert first.status == STATUS_STOPPED and len(first.items) == 2
        assert {(it.task_index, it.model_index) for it in first.items} == {(0, 0), (0, 1)}

        out = BenchRunner(store).run(run_id)
        assert out.status == STATUS_DONE
        done = store.get_run(run_id)
    assert len(done.items) == 6
    assert sorted((it.task_index, it.model_index) for it in done.items) == [(t, m) for t in range(3) for m in range(2)]
    kept = {(it.task_index, it.model_index): it for it in done.items}
    for it in first.items:
        assert kept[(it.task_index, it.model_index)] == it  # not redone


def _items_in(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as con:
            return con.execute("SELECT COUNT(*) FROM items").fetchone()[0]
    except sqlite3.OperationalError:
        return 0  # the schema is not written yet


def test_results_survive_a_killed_process(demo_paths, tmp_path):
    db = default_db_path()
    proc = subprocess.Popen(
        [sys.executable, "-m", "gemmacompare", "bench", "smollm2", "gemma3", "--suite", "reasoning",
         "--limit", "30", "-n", "16", "--warmup", "0", "-q"],
        cwd=ROOT, env={**os.environ}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 180
        while _items_in(db) < 4 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert proc.poll() is None, proc.stderr.read().decode()
        children = psutil.Process(proc.pid).children(recursive=True)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        proc.stderr.close()
    # The workers notice their parent is gone (its pipe closes) and exit on their own.
    assert children, "the benchmark ran without model worker processes?"
    _, alive = psutil.wait_procs(children, timeout=5)
    alive = [c for c in alive if _still_running(c)]  # a zombie has exited; only its reaping is up to init
    for child in alive:
        child.kill()  # tidy up, but it is a failure
    assert not alive, f"orphan worker processes outlived their killed parent by 5 s: {[c.pid for c in alive]}"

    with BenchStore() as store:
        runs = store.list_runs()
        assert len(runs) == 1 and runs[0].status == STATUS_INTERRUPTED
        run = store.get_run(runs[0].id)
    assert 4 <= len(run.items) < run.n_planned
    assert len(run.items) % 2 == 0  # whole tasks only: both models' answers committed together
    assert all(it.stats["n_tokens"] > 0 for it in run.items)

    # Reopened from the command line, with every export (PNG charts included).
    out_dir = tmp_path / "out"
    show = subprocess.run([sys.executable, "-m", "gemmacompare", "bench", "--show", str(run.id), "--out",
                           str(out_dir)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert show.returncode == 0, show.stderr
    assert "interrupted" in show.stdout
    assert {p.name for p in out_dir.iterdir()} >= {
        f"bench-{run.id}.json", f"bench-{run.id}-summary.csv", f"bench-{run.id}-items.csv", f"bench-{run.id}.md",
        f"bench-{run.id}-times.png", f"bench-{run.id}-speed.png", f"bench-{run.id}-accuracy.png"}
    assert (out_dir / f"bench-{run.id}-times.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    listing = subprocess.run([sys.executable, "-m", "gemmacompare", "bench", "--list"], cwd=ROOT,
                             capture_output=True, text=True, timeout=60)
    assert f"{len(run.items)}/{run.n_planned}" in listing.stdout and "interrupted" in listing.stdout


def test_cli_gsm8k_suite_with_a_seeded_sample(tmp_path, demo_paths):
    out = subprocess.run([sys.executable, "-m", "gemmacompare", "bench", "smollm2", "--suite", "gsm8k",
                          "--sample", "2", "--seed", "5", "-n", "8", "--warmup", "0", "--out", str(tmp_path)],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    data = json.loads(next(tmp_path.glob("*.json")).read_text())
    from gemmacompare.bench.tasks import load_suite

    expected = [t.id for t in load_suite("gsm8k").subset(sample=2, seed=5).tasks]
    assert data["suite"] == "gsm8k" and [i["task_id"] for i in data["items"]] == expected
    assert all(i["extract_rule"] for i in data["items"])


def test_cli_bad_task_file_names_the_line(tmp_path, demo_paths):
    bad = tmp_path / "tasks.jsonl"
    bad.write_text('{"prompt": "ok", "answer": "1"}\n{"prompt": "broken"\n')
    out = subprocess.run([sys.executable, "-m", "gemmacompare", "bench", "smollm2", "smollm2", "--suite", str(bad)],
                         cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    assert out.stderr.strip().splitlines()[-1].startswith("error: tasks.jsonl line 2: not valid JSON")


def test_create_run_rejects_bad_counts(demo_paths):
    with BenchStore() as store:
        for bad in (dict(sample=-1), dict(limit=0), dict(warmup=-1), dict(max_tokens=0)):
            with pytest.raises(BenchError, match="must be (at least|between)"):
                create_run(store, _config(demo_paths, **bad))
        assert store.list_runs() == []


def _set_owner(run_id: int, pid: int, updated: str) -> None:
    with sqlite3.connect(default_db_path()) as con:
        con.execute("UPDATE runs SET status=?, pid=?, updated=? WHERE id=?", (STATUS_RUNNING, pid, updated, run_id))


def _sleeper() -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])


def test_resume_refuses_a_run_another_live_process_is_running(demo_paths, capsys):
    with BenchStore() as store:
        run_id = create_run(store, _config(demo_paths, limit=1, runs=1))
    owner = _sleeper()
    try:
        _set_owner(run_id, owner.pid, datetime.now(timezone.utc).isoformat(timespec="seconds"))
        rc = main(["bench", "--resume", str(run_id)])
        err = capsys.readouterr().err.strip().splitlines()
        assert rc != 0
        assert err == [f"error: Benchmark run #{run_id} is still running in process {owner.pid}; stop it there "
                       "or wait for it to finish before resuming."]
        with BenchStore() as store:
            # The window's path (BenchRunner) refuses too, and nothing was written.
            with pytest.raises(BenchBusyError, match=f"process {owner.pid}"):
                BenchRunner(store).run(run_id)
            run = store.get_run(run_id)
            assert run.status == STATUS_RUNNING and run.items == ()
            assert store.owner_pid(run_id) == owner.pid
    finally:
        owner.kill()
        owner.wait(10)
    with BenchStore() as store:
        assert store.owner_pid(run_id) is None
        assert store.get_run(run_id).status == STATUS_INTERRUPTED


def test_a_reused_pid_does_not_hold_a_run(demo_paths):
    """A live process started after the run's last write is not its writer (pid reused after a reboot)."""
    with BenchStore() as store:
        run_id = create_run(store, _config(demo_paths, limit=1, runs=1))
    stranger = _sleeper()
    try:
        _set_owner(run_id, stranger.pid, "2020-01-01T00:00:00+00:00")
        with BenchStore() as store:
            assert store.owner_pid(run_id) is None
            assert store.get_run(run_id).status == STATUS_INTERRUPTED
    finally:
        stranger.kill()
        stranger.wait(10)


def _still_running(proc: psutil.Process) -> bool:
    try:
        return proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
