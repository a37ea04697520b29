"""Every field of a run file checked against its schema before any of it is used.

`resources/gcrun.schema.json` describes the format for people; this module is
the same schema for the reader, with the ranges a real run can have: a run
file is made to be passed around, so each field is a stranger's and is checked
for its type (an integer is an integer, not 1e400 or Infinity), its range (no
negative times, no token at day 115), its size and, for timelines, its order.
`check_run_doc` raises SchemaProblem naming the first field that fails, as
`models[0].run.finished.n_prompt`; engine/run_file.py turns it into one sentence.

Fields the reader does not use may be absent; fields it does not know are left
alone (their strings and numbers are still bounded by run_file's walk).
"""

from __future__ import annotations

import math
from typing import Any, Callable, NoReturn

from gemmacompare.state.defaults import MAX_MODELS
from gemmacompare.state.settings_table import (
    CACHE_POLICIES,
    FLASH_ATTN_CHOICES,
    KV_CACHE_TYPES,
    MAX_DRAFT,
    SPECULATION_KINDS,
)

# A compare run is at most MAX_TOKENS_PER_RUN tokens; at a slow second per token that is
# 18 hours, so a day bounds every time a real run records.
MAX_RUN_SECONDS = 86_400.0
# Memory sampling starts a little before Send (while the request is written); a minute covers it.
MEMORY_LEAD_SECONDS = 60.0
MAX_TOKENS_PER_RUN = 65_536
MAX_MEMORY_SAMPLES = 100_000
MAX_BENCH_ITEMS = 100_000
MAX_BENCH_TASKS = 100_000
MAX_NAME_CHARS = 512
MAX_PROMPT_CHARS = 256 * 1024
MAX_TEXT_CHARS = 1024 * 1024
MAX_BYTES = 2**50  # a petabyte: more memory or file than any machine of ours has
MAX_COUNT = 10_000_000  # prompt and generated tokens, items, repetitions
MAX_THREADS = 4096
MAX_CTX = 2**24
MAX_LAYERS = 10_000
MAX_MS = 1e9  # llama.cpp's counters: 11 days of milliseconds
MAX_RATE = 1e9  # tokens per second
MAX_SEED = 2**64
MAX_LIST = 256  # short lists: stop strings, devices, buffers, left-out notes, sides
MAX_TURNS = 64  # a conversation's turns (bench/conversations.py reads no more)


class SchemaProblem(Exception):
    """`where` (a field path) is not what the schema allows; `what` says what it must be."""

    def __init__(self, where: str, what: str) -> None:
        super().__init__(f"{where} {what}")
        self.where = where
        self.what = what


Check = Callable[[Any, str], None]


def _fail(where: str, what: str) -> NoReturn:
    raise SchemaProblem(where, what)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def Int(lo: int, hi: int, null: bool = False) -> Check:  # noqa: N802 - a schema type, read like one
    def check(v: Any, where: str) -> None:
        if v is None and null:
            return
        if not _is_int(v) or not lo <= v <= hi:
            _fail(where, f"must be a whole number from {lo:,} to {hi:,}")
    return check


def Num(lo: float, hi: float, null: bool = False) -> Check:  # noqa: N802
    def check(v: Any, where: str) -> None:
        if v is None and null:
            return
        if not _is_num(v) or not math.isfinite(v) or not lo <= v <= hi:
            _fail(where, f"must be a number from {lo:,g} to {hi:,g}")
    return check


def Str(max_len: int = MAX_NAME_CHARS, null: bool = False, one_of: tuple[str, ...] = ()) -> Check:  # noqa: N802
    def check(v: Any, where: str) -> None:
        if v is None and null:
            return
        if not isinstance(v, str):
            _fail(where, "must be a text")
        if len(v) > max_len:
            _fail(where, f"is {len(v):,} characters long (at most {max_len:,})")
        if one_of and v not in one_of:
            _fail(where, f"must be one of {', '.join(x or '(empty)' for x in one_of)}")
    return check


def Bool(null: bool = False) -> Check:  # noqa: N802
    def check(v: Any, where: str) -> None:
        if v is None and null:
            return
        if not isinstance(v, bool):
            _fail(where, "must be true or false")
    return check


def Obj(fields: dict[str, Check], required: tuple[str, ...] = (), null: bool = False) -> Check:  # noqa: N802
    def check(v: Any, where: str) -> None:
        if v is None and null:
            return
        if not isinstance(v, dict):
            _fail(where, "must be an object")
        for key in required:
            if key not in v:
                _fail(f"{where}.{key}" if where else key, "is missing")
        for key, sub in fields.items():
            if key in v:
                sub(v[key], f"{where}.{key}" if where else key)
    return check


def Arr(item: Check, max_items: int, min_items: int = 0, null: bool = False) -> Check:  # noqa: N802
    def check(v: Any, where: str) -> None:
        if v is None and null:
            return
        if not isinstance(v, list):
            _fail(where, "must be a list")
        if not min_items <= len(v) <= max_items:
            _fail(where, f"must hold {min_items:,} to {max_items:,} entries (it holds {len(v):,})")
        for k, x in enumerate(v):
            item(x, f"{where}[{k}]")
    return check


def Row(*items: Check) -> Check:  # noqa: N802 - a fixed-length list, one check per place
    def check(v: Any, where: str) -> None:
        if not isinstance(v, list) or len(v) != len(items):
            _fail(where, f"must be a list of {len(items)} values")
        for k, (x, sub) in enumerate(zip(v, items)):
            sub(x, f"{where}[{k}]")
    return check


def Sorted(inner: Check, at: int) -> Check:  # noqa: N802 - rows whose time (place `at`) never goes back
    def check(v: Any, where: str) -> None:
        inner(v, where)
        last = -math.inf
        for k, row in enumerate(v or []):
            if row[at] < last:
                _fail(f"{where}[{k}]", "is earlier than the entry before it (a timeline runs forward)")
            last = row[at]
    return check


# --- the schema -------------------------------------------------------------------------

SECONDS = Num(0.0, MAX_RUN_SECONDS)
COUNT = Int(0, MAX_COUNT)
NAME = Str()

LOAD = Obj({"n_ctx": Int(0, MAX_CTX), "n_threads": Int(0, MAX_THREADS), "n_gpu_layers": Int(-1, MAX_LAYERS),
            "n_batch": Int(0, MAX_CTX), "flash_attn": Str(one_of=FLASH_ATTN_CHOICES),
            "type_k": Str(one_of=KV_CACHE_TYPES), "type_v": Str(one_of=KV_CACHE_TYPES),
            "ctx_checkpoints": Int(0, MAX_COUNT), "checkpoint_min_step": Int(0, MAX_CTX),
            "checkpoint_mib": Int(0, MAX_BYTES >> 20),
            "speculation": Str(one_of=SPECULATION_KINDS), "draft_model": Str(4096), "draft_max": Int(0, MAX_DRAFT),
            "draft_min": Int(0, MAX_DRAFT), "ngram_n": Int(1, 64)})
SAMPLING = Obj({"max_tokens": Int(1, MAX_COUNT), "temperature": Num(-1e6, 1e6), "top_p": Num(-1e6, 1e6),
                "top_k": Int(-MAX_COUNT, MAX_COUNT), "min_p": Num(-1e6, 1e6), "repeat_penalty": Num(-1e6, 1e6),
                "seed": Int(-MAX_SEED, MAX_SEED), "stop": Arr(Str(), MAX_LIST), "ignore_eos": Bool()})
PROMPT_OPTIONS = Obj({"system_prompt": Str(MAX_PROMPT_CHARS, null=True), "raw": Bool(),
                      "thinking": Bool(null=True), "n_threads": Int(0, MAX_THREADS),
                      "cache": Str(one_of=CACHE_POLICIES)})
SETTINGS = Obj({"load": LOAD, "sampling": SAMPLING, "prompt": PROMPT_OPTIONS})

SOURCE = Obj({"kind": Str(one_of=("file", "hub", "ollama", "ollama-server", "server", "unknown")),
              "hub_repo": NAME, "hub_file": NAME, "ollama": NAME, "server_model_id": Str(null=True),
              "server": NAME})
IDENTITY = Obj({"display_name": NAME, "file_name": NAME, "file_size": Int(0, MAX_BYTES, null=True),
                "quantization": NAME, "architecture": NAME, "parameters": Int(0, MAX_BYTES, null=True),
                "context_length": Int(0, 2**40, null=True), "reasoning": Str(null=True),
                "thinking_switch": Bool(null=True), "synthetic": Bool(null=True), "file_hash": Str(null=True),
                "hash_method": Str(null=True), "source": SOURCE})
PLACEMENT = Obj({"backend": NAME, "layers_offloaded": Int(0, MAX_LAYERS), "layers_total": Int(0, MAX_LAYERS, null=True),
                 "buffers": Arr(Obj({"kind": NAME, "buffer": NAME, "bytes": Int(0, MAX_BYTES)},
                                    required=("kind", "buffer", "bytes")), MAX_LIST),
                 "devices": Arr(NAME, MAX_LIST)}, required=("backend", "layers_offloaded"), null=True)
LOADED = Obj({"n_ctx": Int(0, MAX_CTX), "n_batch": Int(0, MAX_CTX, null=True),
              "n_threads": Int(0, MAX_THREADS, null=True),
              "n_threads_loaded": Int(0, MAX_THREADS, null=True), "n_gpu_layers": Int(-1, MAX_LAYERS),
              "flash_attn": NAME, "type_k": NAME, "type_v": NAME, "load_seconds": Num(0.0, MAX_RUN_SECONDS, null=True),
              "system_info": Str(MAX_TEXT_CHARS, null=True), "placement": PLACEMENT}, required=("n_ctx",), null=True)
PERF = Obj({"t_load_ms": Num(0, MAX_MS), "t_p_eval_ms": Num(0, MAX_MS), "t_eval_ms": Num(0, MAX_MS),
            "n_p_eval": COUNT, "n_eval": COUNT}, required=("t_load_ms", "t_p_eval_ms", "t_eval_ms", "n_p_eval",
                                                           "n_eval"), null=True)
SERVER = Obj({"source": NAME, "n_prompt": Int(0, MAX_COUNT, null=True), "n_generated": Int(0, MAX_COUNT, null=True),
              "prompt_ms": Num(0, MAX_MS, null=True), "gen_ms": Num(0, MAX_MS, null=True),
              "prompt_tps": Num(0, MAX_RATE, null=True), "gen_tps": Num(0, MAX_RATE, null=True),
              "n_cached": Int(0, MAX_COUNT, null=True), "n_chunks": COUNT, "send_ms": Num(0, MAX_MS, null=True),
              "complete": Bool(), "problem": Str(MAX_TEXT_CHARS)}, required=("source",), null=True)
# What a reply took from the conversation's cache (protocol.CacheUse); absent in older files: unknown.
CACHE_USE = Obj({"policy": Str(one_of=CACHE_POLICIES), "n_reused": COUNT, "n_checkpoint": COUNT,
                 "why_full": Str(MAX_NAME_CHARS), "checkpoint_bytes": Int(0, MAX_BYTES),
                 "parted": Str(MAX_NAME_CHARS)}, required=("policy", "n_reused"), null=True)
# Speculative decoding's statistics (protocol.DraftStats): per-position counts have one entry per
# draft position, and accepted tokens name generated tokens by index.
DRAFT = Obj({"kind": Str(one_of=("draft", "ngram", "server")), "n_drafted": COUNT, "n_accepted": COUNT,
             "n_rounds": COUNT, "n_plain": COUNT, "drafted_at": Arr(COUNT, MAX_DRAFT),
             "accepted_at": Arr(COUNT, MAX_DRAFT), "draft_ms": Num(0, MAX_MS), "verify_ms": Num(0, MAX_MS),
             "accepted_tokens": Arr(Int(0, MAX_TOKENS_PER_RUN), MAX_TOKENS_PER_RUN)},
            required=("kind", "n_drafted", "n_accepted"), null=True)
FINISHED = Obj({"stop_reason": NAME, "n_prompt": COUNT, "n_generated": COUNT, "t_send": SECONDS, "t_end": SECONDS,
                "n_threads": Int(0, MAX_THREADS, null=True), "template_name": Str(null=True), "perf": PERF,
                "server": SERVER, "cache": CACHE_USE, "draft": DRAFT},
               required=("stop_reason", "n_prompt", "n_generated", "t_send", "t_end"), null=True)
TOKEN = Row(Int(0, MAX_COUNT), Int(-(2**31), 2**32), SECONDS, Str(one_of=("thinking", "answer")), Str(MAX_TEXT_CHARS),
            Str(MAX_TEXT_CHARS))
SAMPLE = Row(Num(-MEMORY_LEAD_SECONDS, MAX_RUN_SECONDS), Int(0, MAX_BYTES), Int(0, MAX_BYTES, null=True))
RUN = Obj({
    "prompt": Obj({"template_name": Str(null=True), "thinking_prefilled": Bool(null=True),
                   "prompt_text": Str(MAX_PROMPT_CHARS, null=True)}, null=True),
    "prefill": Obj({"n_prompt": COUNT, "t_start": SECONDS, "t_end": SECONDS, "n_reused": COUNT},
                   required=("n_prompt", "t_start", "t_end"), null=True),
    "tokens": Sorted(Arr(TOKEN, MAX_TOKENS_PER_RUN, null=True), at=2),
    "finished": FINISHED,
    "error": Obj({"message": Str(MAX_TEXT_CHARS), "fatal": Bool(null=True)}, required=("message",), null=True),
    "memory": Obj({"gpu_available": Bool(null=True), "gpu_source": Str(null=True),
                   "samples": Sorted(Arr(SAMPLE, MAX_MEMORY_SAMPLES, null=True), at=0)}, null=True),
})
MODEL = Obj({"label": Str(64), "identity": IDENTITY, "settings": SETTINGS, "loaded": LOADED, "run": RUN,
             "stats": Obj({}, null=True)}, required=("label",))

BENCH_CONFIG = Obj({"models": Arr(NAME, MAX_MODELS), "suite": NAME, "limit": Int(0, MAX_COUNT, null=True),
                    "sample": Int(0, MAX_COUNT, null=True), "seed": Int(-MAX_SEED, MAX_SEED),
                    "runs": Int(1, MAX_COUNT), "warmup": Int(0, MAX_COUNT), "mode": Str(one_of=("race", "fair")),
                    "thinking": Bool(null=True), "max_tokens": Int(1, MAX_COUNT), "ignore_eos": Bool(),
                    "n_ctx": Int(0, MAX_CTX), "threads": Int(0, MAX_THREADS), "gpu_layers": Int(-1, MAX_LAYERS),
                    "flash_attn": NAME, "type_k": NAME, "type_v": NAME, "instruction": Str(MAX_PROMPT_CHARS, null=True),
                    "names": Arr(NAME, MAX_MODELS)}, required=("models",))
BENCH_TASK = Obj({"id": NAME, "prompt": Str(MAX_PROMPT_CHARS, null=True),
                  "expected": Arr(Str(MAX_PROMPT_CHARS), MAX_LIST, min_items=1), "match": NAME, "category": NAME,
                  "choices": Arr(Str(MAX_PROMPT_CHARS), MAX_LIST, null=True)},
                 required=("id", "expected", "match"))
BENCH_ITEM = Obj({"rep": COUNT, "task_index": COUNT, "task_id": NAME, "model_index": Int(0, MAX_MODELS - 1),
                  "expected": Str(MAX_PROMPT_CHARS), "match": NAME, "answer": Str(MAX_TEXT_CHARS),
                  "thinking": Str(MAX_TEXT_CHARS), "extracted": Str(MAX_TEXT_CHARS, null=True), "correct": Bool(),
                  "stats": Obj({}), "error": Str(MAX_TEXT_CHARS, null=True), "extract_rule": NAME},
                 required=("rep", "task_index", "task_id", "model_index", "expected", "match", "answer", "thinking",
                           "extracted", "correct", "stats"))
BENCH = Obj({"config": BENCH_CONFIG, "suite_name": NAME, "status": NAME, "run_id": Int(0, 2**63), "created": NAME,
             "tasks": Arr(BENCH_TASK, MAX_BENCH_TASKS), "items": Arr(BENCH_ITEM, MAX_BENCH_ITEMS)},
            required=("config", "tasks", "items"), null=True)

MACHINE = Obj({"cpu_model": NAME, "cpu_cores": Int(0, 2**20, null=True), "cpu_threads": Int(0, 2**20, null=True),
               "gpu": Str(4096), "ram_bytes": Int(0, MAX_BYTES, null=True), "os": NAME, "python": NAME,
               "llama_cpp_python": NAME, "gemmacompare": NAME})
CLAIM = Obj({"text": Str(4096), "figures": Arr(Obj({"name": NAME, "ms_per_token": Num(0, 1e9)}), MAX_MODELS),
             "runs_ms_per_token": Arr(Arr(Num(0, 1e9), MAX_MODELS), 1000),
             "runs_tokens": Arr(Arr(COUNT, MAX_MODELS), 1000), "verdict": Str(MAX_PROMPT_CHARS)}, null=True)
ARENA = Obj({"sides": Arr(NAME, MAX_MODELS), "side_names": Arr(NAME, MAX_MODELS),
             "votes": Obj({k: COUNT for k in ("one", "two", "tie", "both_bad")}), "result": NAME,
             "counted": Bool(null=True), "not_counted": Str(MAX_PROMPT_CHARS, null=True)}, null=True)

# A conversation (issue 31): each model's figures per turn, the turns and the replies kept.
TURN = Obj({"turn": Int(1, MAX_TURNS), "cache": Str(one_of=CACHE_POLICIES), "n_prompt": COUNT,
            "n_reused": Int(0, MAX_COUNT, null=True), "n_prefilled": Int(0, MAX_COUNT, null=True),
            "ttft_s": Num(0.0, MAX_RUN_SECONDS, null=True), "ms_per_token": Num(0.0, MAX_MS, null=True),
            "n_tokens": Int(0, MAX_COUNT, null=True), "total_s": Num(0.0, MAX_RUN_SECONDS, null=True),
            "stop_reason": NAME, "n_checkpoint": COUNT, "why_full": Str(MAX_PROMPT_CHARS), "server": Bool(),
            "server_prompt_ms": Num(0.0, MAX_MS, null=True), "error": Str(MAX_TEXT_CHARS)},
           required=("turn", "cache", "n_prompt", "n_reused", "ttft_s", "ms_per_token", "n_tokens", "total_s",
                     "stop_reason"))
CONVERSATION = Obj({"id": Str(100), "cache": Str(one_of=CACHE_POLICIES), "system": Str(MAX_PROMPT_CHARS, null=True),
                    "turns": Arr(Str(MAX_PROMPT_CHARS), MAX_TURNS, min_items=1, null=True),
                    "figures": Arr(Arr(TURN, MAX_TURNS), MAX_MODELS, min_items=1),
                    "replies": Arr(Arr(Str(MAX_TEXT_CHARS), MAX_TURNS), MAX_MODELS, null=True)},
                   required=("id", "cache", "figures"), null=True)

RUN_FILE = Obj({
    "created": NAME, "machine": MACHINE,
    "left_out": Arr(Str(), MAX_LIST, null=True), "threads_total": Int(0, MAX_THREADS, null=True),
    "threads_per_model": Arr(Int(0, MAX_THREADS), MAX_MODELS, null=True), "thread_split": Str(null=True),
    "prompt": Str(MAX_PROMPT_CHARS, null=True), "system_prompt": Str(MAX_PROMPT_CHARS, null=True),
    "raw": Bool(null=True), "models": Arr(MODEL, MAX_MODELS, min_items=1), "bench": BENCH, "claim": CLAIM,
    "arena": ARENA, "conversation": CONVERSATION,
}, required=("models",))


def check_run_doc(doc: dict[str, Any]) -> None:
    """SchemaProblem for the first field of a run file's JSON that the schema does not allow."""
    RUN_FILE(doc, "")
    for k, m in enumerate(doc["models"]):
        _times_agree(m.get("run") or {}, f"models[{k}].run")
    if doc.get("conversation") is not None:
        _conversation_agrees(doc["conversation"], len(doc["models"]))


def _conversation_agrees(conv: dict[str, Any], n_models: int) -> None:
    """One list of turns per model, numbered from 1 in order, no more than the conversation has,
    a reply per turn, and never more reused than the prompt held."""
    figures, turns, replies = conv["figures"], conv.get("turns"), conv.get("replies")
    if len(figures) != n_models:
        _fail("conversation.figures", f"must hold one list per model ({n_models}), not {len(figures)}")
    if replies is not None and len(replies) != n_models:
        _fail("conversation.replies", f"must hold one list per model ({n_models}), not {len(replies)}")
    for k, rows in enumerate(figures):
        where = f"conversation.figures[{k}]"
        if turns is not None and len(rows) > len(turns):
            _fail(where, f"has {len(rows)} turns, more than the conversation's {len(turns)}")
        if replies is not None and len(replies[k]) != len(rows):
            _fail(f"conversation.replies[{k}]", f"must hold one reply per turn ({len(rows)})")
        for t, row in enumerate(rows):
            if row["turn"] != t + 1:
                _fail(f"{where}[{t}].turn", f"must be {t + 1} (turns are numbered in order from 1)")
            if row.get("n_reused") is not None and row["n_reused"] > row["n_prompt"]:
                _fail(f"{where}[{t}].n_reused", "is more than the prompt's tokens")


def _times_agree(run: dict[str, Any], where: str) -> None:
    """A reply ends after it starts: the finish is not before the prefill or the last token."""
    fin, pre, tokens = run.get("finished"), run.get("prefill"), run.get("tokens") or []
    if pre and pre["t_end"] < pre["t_start"]:
        _fail(f"{where}.prefill.t_end", "is earlier than its t_start")
    if pre and pre.get("n_reused", 0) > pre["n_prompt"]:
        _fail(f"{where}.prefill.n_reused", "is more than the prompt's tokens")
    cache = fin.get("cache") if fin else None
    if fin and cache:
        if cache["n_reused"] > fin["n_prompt"]:
            _fail(f"{where}.finished.cache.n_reused", "is more than the prompt's tokens")
        if cache.get("n_checkpoint", 0) > fin["n_prompt"]:
            _fail(f"{where}.finished.cache.n_checkpoint", "is more than the prompt's tokens")
    if fin:
        if fin["t_end"] < fin["t_send"]:
            _fail(f"{where}.finished.t_end", "is earlier than its t_send")
        if tokens and fin["t_end"] < tokens[-1][2]:
            _fail(f"{where}.finished.t_end", "is earlier than the last token")
    for place, what in ((4, "thinking"), (5, "answer")):  # an answer is bounded as a whole, not only per token
        if sum(len(row[place]) for row in tokens) > MAX_TEXT_CHARS:
            _fail(f"{where}.tokens", f"hold more than {MAX_TEXT_CHARS:,} characters of {what} together")


__all__ = ["MAX_TURNS", "MAX_RUN_SECONDS", "SchemaProblem", "check_run_doc"]
