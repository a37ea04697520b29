"""Hostile run files, written by the tests (issue 30): every field wrong in type, range and size,
a gzip bomb, long and late timelines, markup and control characters in every text.

`good_run_doc()` is a small complete run file; `hostile_run_files(folder)` writes the corpus
beside it and returns {case: (path, expected)}, where expected is "refused" (the reader gives
one sentence naming the field), "plays" (the file is fine but costly if played naively:
its replay must stay bounded) or "shown" (its text must be shown, not obeyed).

    python -m tests.hostile_run_files FOLDER    # writes the corpus, for a person to try
"""

from __future__ import annotations

import copy
import gzip
import json
import sys
from pathlib import Path
from typing import Any, Callable

REFUSED, PLAYS, SHOWN = "refused", "plays", "shown"

MARKUP = '<h1>Big</h1><b>bold</b><a href="https://evil.example/x">org/good-repo</a>'
BIDI = "safe\u202etxt.exe\u2066\u200f"


def good_run_doc(n_tokens: int = 20) -> dict[str, Any]:
    """A small but complete compare run of two models, as the app writes one."""
    tokens = [[i, 100 + i, 0.5 + 0.05 * i, "answer", "", f"w{i} "] for i in range(n_tokens)]

    def model(label: str, name: str) -> dict[str, Any]:
        return {"label": label,
                "identity": {"display_name": name, "file_name": f"{name}.gguf", "file_size": 1000,
                             "quantization": "Q4_0", "architecture": "llama", "file_hash": "ab" * 8,
                             "source": {"kind": "file"}},
                "settings": {"load": {"n_ctx": 2048, "n_threads": 0}, "sampling": {"temperature": 0.0,
                                                                                   "max_tokens": 20},
                             "prompt": {"system_prompt": "", "raw": False, "n_threads": 0}},
                "loaded": {"n_ctx": 2048, "n_batch": 512, "n_threads": 1, "n_gpu_layers": 0, "flash_attn": "auto",
                           "type_k": "f16", "type_v": "f16", "load_seconds": 0.1, "system_info": "CPU"},
                "run": {"prompt": {"template_name": "gguf", "thinking_prefilled": False, "prompt_text": "hi"},
                        "prefill": {"n_prompt": 5, "t_start": 0.01, "t_end": 0.4}, "tokens": copy.deepcopy(tokens),
                        "finished": {"stop_reason": "max_tokens", "n_prompt": 5, "n_generated": n_tokens,
                                     "t_send": 0.0, "t_end": 0.5 + 0.05 * n_tokens, "n_threads": 1},
                        "memory": {"gpu_available": False, "samples": [[0.1, 100 << 20, None]]}},
                "stats": {}}

    return {"format": "gemmacompare-run", "schema": 1, "kind": "compare", "created": "2026-01-01T00:00:00+00:00",
            "machine": {"cpu_model": "x", "ram_bytes": 8 << 30}, "left_out": [], "mode": "race", "threads_total": 2,
            "thread_split": "race mode", "prompt": "hi", "system_prompt": "", "raw": False,
            "models": [model("A", "alpha"), model("B", "beta")]}


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """A change to the good doc: the field at a dotted path (list places as numbers) set to value."""
    def change(doc: dict[str, Any]) -> None:
        *head, last = path.split(".")
        node: Any = doc
        for key in head:
            node = node[int(key)] if isinstance(node, list) else node.setdefault(key, {})
        node[int(last) if isinstance(node, list) else last] = value
    return change


INF, BIG = float("inf"), 1e400  # json.dumps writes both as Infinity: what Python's json reads back as inf
NAN = float("nan")

# (case, change, expected): each change makes one field wrong.
CHANGES: list[tuple[str, Callable[[dict[str, Any]], None], str]] = [
    *[(f"infinite-{name}", _set(path, INF), REFUSED) for name, path in (
        ("n_prompt", "models.0.run.finished.n_prompt"), ("n_generated", "models.0.run.finished.n_generated"),
        ("threads_total", "threads_total"), ("rss", "models.0.run.memory.samples.0.1"),
        ("ram_bytes", "machine.ram_bytes"), ("file_size", "models.0.identity.file_size"),
        ("prefill_n_prompt", "models.1.run.prefill.n_prompt"), ("n_ctx", "models.0.loaded.n_ctx"))],
    ("nan-temperature", _set("models.0.settings.sampling.temperature", NAN), REFUSED),
    ("huge-int-n_generated", _set("models.0.run.finished.n_generated", 10**40), REFUSED),
    ("float-max_tokens", _set("models.0.settings.sampling.max_tokens", 1e9), REFUSED),
    ("billion-max_tokens", _set("models.0.settings.sampling.max_tokens", 10**9), REFUSED),
    ("source-is-a-string", _set("models.0.identity.source", "hub"), REFUSED),
    ("source-kind-is-an-int", _set("models.0.identity.source.kind", 7), REFUSED),
    ("sampling-is-a-list", _set("models.0.settings.sampling", [1, 2]), REFUSED),
    ("load-is-a-string", _set("models.0.settings.load", "fast"), REFUSED),
    ("stop-is-an-int", _set("models.0.settings.sampling.stop", 5), REFUSED),
    ("threads-a-string", _set("models.0.loaded.n_threads", "8"), REFUSED),
    ("bool-for-int", _set("models.0.run.finished.n_prompt", True), REFUSED),
    ("negative-ttft", _set("models.0.run.tokens.0.2", -5.0), REFUSED),
    ("negative-prefill", _set("models.0.run.prefill.t_start", -1.0), REFUSED),
    ("negative-rss", _set("models.0.run.memory.samples.0.1", -1), REFUSED),
    ("token-row-short", _set("models.0.run.tokens.3", [1, 2, 0.1]), REFUSED),
    ("token-phase-unknown", _set("models.0.run.tokens.3.3", "shouting"), REFUSED),
    ("tokens-out-of-order", _set("models.0.run.tokens.5.2", 0.51), REFUSED),
    ("finish-before-send", _set("models.0.run.finished.t_end", 0.2), REFUSED),
    ("token-at-day-115", _set("models.0.run.tokens.19.2", 9_999_999.0), REFUSED),
    ("label-of-a-megabyte", _set("models.0.label", "L" * 100_000), REFUSED),
    ("placement-junk", _set("models.0.loaded.placement", {"backend": "CPU", "layers_offloaded": "all"}), REFUSED),
    ("perf-junk", _set("models.0.run.finished.perf", {"t_load_ms": "x"}), REFUSED),
    ("server-junk", _set("models.0.run.finished.server", {"source": "usage", "n_chunks": INF}), REFUSED),
    # The conversation cache (issue 31): what a reply reused, and the policy it ran with.
    ("cache-reused-more-than-prompt", _set("models.0.run.finished.cache", {"policy": "keep", "n_reused": 6}),
     REFUSED),
    ("cache-checkpoint-past-prompt", _set("models.0.run.finished.cache",
                                          {"policy": "keep", "n_reused": 1, "n_checkpoint": 10**6}), REFUSED),
    ("cache-policy-unknown", _set("models.0.run.finished.cache", {"policy": "warm", "n_reused": 0}), REFUSED),
    ("cache-infinite-bytes", _set("models.0.run.finished.cache",
                                  {"policy": "keep", "n_reused": 1, "checkpoint_bytes": INF}), REFUSED),
    ("cache-why-of-a-megabyte", _set("models.0.run.finished.cache",
                                     {"policy": "keep", "n_reused": 0, "why_full": "w" * 1_000_000}), REFUSED),
    ("cache-a-list", _set("models.0.run.finished.cache", [1, 2]), REFUSED),
    ("prefill-reused-more-than-prompt", _set("models.0.run.prefill.n_reused", 50), REFUSED),
    ("prefill-reused-negative", _set("models.0.run.prefill.n_reused", -1), REFUSED),
    ("settings-cache-unknown", _set("models.0.settings.prompt.cache", "always"), REFUSED),
    ("checkpoints-infinite", _set("models.0.settings.load.ctx_checkpoints", INF), REFUSED),
    ("claim-junk", _set("claim", {"figures": [{"name": "A", "ms_per_token": "fast"}]}), REFUSED),
    ("arena-junk", _set("arena", {"sides": "AB"}), REFUSED),
    ("five-models", lambda d: d["models"].extend(copy.deepcopy(d["models"] * 2)[:3]), REFUSED),
    ("stats-infinite", _set("models.0.stats", {"ms_per_token": INF}), REFUSED),
    ("control-in-name", _set("models.0.identity.display_name", "\x1b]0;pwned\x07x"), REFUSED),
    # Speculative decoding's statistics (protocol.DraftStats) and settings.
    ("draft-kind-unknown", _set("models.0.run.finished.draft", {"kind": "magic", "n_drafted": 1, "n_accepted": 1}),
     REFUSED),
    ("draft-accepts-more-than-drafted", _set("models.0.run.finished.draft",
                                             {"kind": "ngram", "n_drafted": 2, "n_accepted": 5}), REFUSED),
    ("draft-positions-disagree", _set("models.0.run.finished.draft",
                                      {"kind": "draft", "n_drafted": 4, "n_accepted": 2, "drafted_at": [2, 2],
                                       "accepted_at": [1]}), REFUSED),
    ("draft-position-accepts-more", _set("models.0.run.finished.draft",
                                         {"kind": "draft", "n_drafted": 4, "n_accepted": 2, "drafted_at": [2, 2],
                                          "accepted_at": [3, 0]}), REFUSED),
    ("draft-infinite-ms", _set("models.0.run.finished.draft",
                               {"kind": "draft", "n_drafted": 1, "n_accepted": 1, "verify_ms": INF}), REFUSED),
    ("draft-a-million-positions", _set("models.0.run.finished.draft",
                                       {"kind": "draft", "n_drafted": 1, "n_accepted": 1,
                                        "drafted_at": [0] * 1_000_000}), REFUSED),
    ("draft-tokens-a-string", _set("models.0.run.finished.draft",
                                   {"kind": "ngram", "n_drafted": 1, "n_accepted": 1, "accepted_tokens": "all"}),
     REFUSED),
    ("speculation-unknown", _set("models.0.settings.load.speculation", "psychic"), REFUSED),
    ("draft-max-a-million", _set("models.0.settings.load.draft_max", 1_000_000), REFUSED),
    ("draft-model-a-megabyte", _set("models.0.settings.load.draft_model", "d" * 1_000_000), REFUSED),
    # Fine for the reader; a rerun checks them as the command line would.
    ("threads-1100", _set("models.0.settings.load.n_threads", 1100), SHOWN),
    ("top-p-5", _set("models.0.settings.sampling.top_p", 5.0), SHOWN),
    ("negative-temperature", _set("models.0.settings.sampling.temperature", -1.0), SHOWN),
    # Text a stranger wrote, in every place the window or a terminal shows one.
    ("markup-and-bidi", lambda d: _stranger_text(d), SHOWN),
    ("shell-in-hub-repo", _set("models.0.identity.source",
                               {"kind": "hub", "hub_repo": "evil/x; touch /tmp/PWNED #", "hub_file": "x.gguf"}),
     SHOWN),
    # Legal but long: a replay of it must stay bounded by what it shows.
    ("late-token-within-a-day", lambda d: (_set("models.0.run.tokens.19.2", 80_000.0)(d),
                                           _set("models.0.run.finished.t_end", 80_000.5)(d)), PLAYS),
]


def _stranger_text(doc: dict[str, Any]) -> None:
    for m in doc["models"]:
        m["identity"].update(display_name=MARKUP + BIDI, file_name=BIDI + ".gguf", quantization=MARKUP,
                             architecture=BIDI, source={"kind": "hub", "hub_repo": "org/good-repo",
                                                        "hub_file": MARKUP})
        m["run"]["tokens"][0][5] = MARKUP + BIDI
        m["run"]["error"] = None
    doc["machine"].update(cpu_model=MARKUP + BIDI, gpu=BIDI, os=MARKUP)
    doc["thread_split"] = BIDI + MARKUP
    doc["prompt"] = MARKUP + BIDI
    doc["claim"] = {"verdict": MARKUP + BIDI, "runs_ms_per_token": [[1.0, 2.0]]}


def _long_doc(n_tokens: int, chars: int) -> dict[str, Any]:
    """n_tokens tokens of `chars` characters on one line (no newline), 1 ms apart."""
    doc = good_run_doc()
    for m in doc["models"]:
        m["run"]["tokens"] = [[i, 7, 0.5 + 0.001 * i, "answer", "", "x" * chars] for i in range(n_tokens)]
        m["run"]["finished"].update(n_generated=n_tokens, t_end=0.5 + 0.001 * n_tokens + 0.01)
    return doc


def _write(path: Path, doc: dict[str, Any]) -> Path:
    path.write_text(json.dumps(doc))  # allow_nan: writes Infinity and NaN, as a stranger's file may
    return path


def hostile_run_files(folder: Path) -> dict[str, tuple[Path, str]]:
    """Writes the corpus into folder; {case: (path, expected)}."""
    folder.mkdir(parents=True, exist_ok=True)
    out: dict[str, tuple[Path, str]] = {}
    for name, change, expected in CHANGES:
        doc = good_run_doc()
        change(doc)
        out[name] = (_write(folder / f"{name}.gcrun", doc), expected)
    # 65,536 tokens on one line: the most a file holds, each short enough to fit an answer's bound.
    out["65536-tokens-one-line"] = (_write(folder / "long-line.gcrun", _long_doc(65_536, 15)), PLAYS)
    # 65,536 tokens of 200 characters: 13 MB of answer, more than an answer holds.
    out["65536-tokens-of-200"] = (_write(folder / "fat-tokens.gcrun", _long_doc(65_536, 200)), REFUSED)
    out["65537-tokens"] = (_write(folder / "too-many.gcrun", _long_doc(65_537, 1)), REFUSED)
    bomb = folder / "bomb.gcrun.gz"  # 64 MiB of spaces, 64 KiB gzipped
    with gzip.open(bomb, "wb", compresslevel=9) as f:
        for _ in range(64):
            f.write(b" " * (1 << 20))
    out["gzip-bomb"] = (bomb, REFUSED)
    deep = folder / "deep.gcrun"
    deep.write_text('{"format": "gemmacompare-run", "schema": 1, "x": ' + "[" * 100_000 + "]" * 100_000 + "}")
    out["deep-json"] = (deep, REFUSED)
    bench = good_run_doc()
    bench.update(kind="bench", bench={"config": {"models": ["a", "b"]}, "tasks": [], "items": [1, "x", None]})
    out["bench-junk-items"] = (_write(folder / "bench-junk.gcrun", bench), REFUSED)
    bench2 = good_run_doc()
    bench2.update(kind="bench", bench={"config": {"models": ["a", "b"]}, "tasks": [],
                                       "items": [{"rep": 0, "model_index": 9}]})
    out["bench-item-fields-missing"] = (_write(folder / "bench-fields.gcrun", bench2), REFUSED)
    return out


if __name__ == "__main__":
    for case, (path, expected) in hostile_run_files(Path(sys.argv[1])).items():
        print(f"{expected:8} {case:30} {path}")
