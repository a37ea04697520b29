"""The benchmark's argument checks and an old history file: what needs no model
(runs, stop/resume and exports on the demo models: tests/integration/test_bench_runs.py)."""

from __future__ import annotations

import sqlite3

import pytest

from gemmacompare.bench.store import BenchStore
from gemmacompare.cli.main import main


def test_history_from_before_extract_rules_opens(tmp_path):


    path = tmp_path / "old.sqlite3"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE items (run_id INTEGER, rep INTEGER, task_index INTEGER, model_index INTEGER, "
               "task_id TEXT, expected TEXT, match TEXT, answer TEXT, thinking TEXT, extracted TEXT, "
               "correct INTEGER, stats_json TEXT, error TEXT, finished TEXT)")
    db.commit()
    db.close()
    with BenchStore(path):
        pass
    cols = [r[1] for r in sqlite3.connect(path).execute("PRAGMA table_info(items)")]
    assert cols[-1] == "extract_rule"


@pytest.mark.parametrize(
    "args, message",
    [
        (["--sample", "-1"], "argument --sample: -1 is too small (the least is 1)"),
        (["--sample", "0"], "argument --sample: 0 is too small (the least is 1)"),
        (["--runs", "0"], "argument --runs: 0 is too small (the least is 1)"),
        (["--limit", "-1"], "argument --limit: -1 is too small (the least is 1)"),
        (["--warmup", "-1"], "argument --warmup: -1 is too small (the least is 0)"),
        (["-n", "0"], "argument -n/--max-tokens: Max tokens must be between 1 and 1048576, not 0."),
        (["--runs", "two"], "argument --runs: 'two' is not a whole number"),
    ],
)
def test_cli_rejects_bad_counts_before_anything_runs(capsys, args, message):
    with pytest.raises(SystemExit) as exc:
        main(["bench", *args])
    assert exc.value.code == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last == f"gemmacompare bench: error: {message}"


def test_models_not_loaded_yet_are_named_not_numbered(tmp_path):
    """While the models load (or after one failed) the rows said 'model 1', 'model 2'."""
    from gemmacompare.bench.records import BenchConfig
    from gemmacompare.bench.tasks import Task

    with BenchStore(tmp_path / "h.sqlite3") as store:
        config = BenchConfig(models=("/m/a-Q4_0.gguf", "/m/b.gguf"), suite="reasoning", names=("A model", ""))
        run = store.get_run(store.create_run(config, "reasoning", (Task("t1", "1+1?", ("2",), "number"),)))
    assert run is not None and run.models == (None, None)
    assert run.labels == ["A model", "b.gguf"]
