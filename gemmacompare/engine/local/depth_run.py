"""Speed after a depth of context, in the worker: llama-bench's `-d`, on the app's own decode path.

llama-bench (tools/llama-bench/llama-bench.cpp, vendored 0c1e570) measures a test at depth d as:
the cache cleared, d tokens of filler prefilled untimed (random token ids, the first a BOS where the
vocabulary adds one, in n_batch chunks), the state saved after the first filler and restored for
every later repetition (llama_state_seq_get/set_data); then, timed, either a prefill of -p random
tokens (`test_prompt`, n_batch chunks, one output at the end) or -n single-token decodes
(`test_gen`, each with its output, never read). A warm-up (one prefill of -p and one decode) runs
first on the fresh context. Its context is n_prompt + n_gen + d tokens, n_ubatch 512, swa_full off.

Here the same, with two differences that are the app's: the model stays loaded at the context of
the deepest depth asked (the session loads it once; llama-bench makes a new context per test), and
each generated token is picked as the app picks it (greedy argmax of its logits, end-of-generation
tokens banned), so the figure includes what the app pays per token. llama.cpp's own account of a
context sized for each depth is read from a context made for that (and freed at once).
"""

from __future__ import annotations

import ctypes
import logging
import random
import time
import traceback
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Callable

from gemmacompare.engine import protocol as p
from gemmacompare.engine.local.llama_runtime import devices, parse_load_log
from gemmacompare.engine.placement import DeviceBuffer

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

    from gemmacompare.engine.local.llama_context import LlamaContext
    from gemmacompare.engine.local.llama_runtime import LoadLog

log = logging.getLogger(__name__)


@dataclass
class DepthWorker:
    """What a depth run uses of the worker (child.py), made at each load."""

    conn: Connection
    llm: LlamaContext
    settings: p.LoadSettings
    buffers: tuple[DeviceBuffer, ...]  # llama.cpp's at the load
    stop_flag: ctypes.c_int
    abort_cb: object  # ggml_abort_callback: the stop, checked between graph nodes
    load_log: LoadLog
    n_threads: int
    eog_ids: Callable[[ModuleType], tuple[int, ...]]  # the model's end-of-generation tokens
    greedy_pick: Callable[..., Callable[[object, object, int], int]]  # the app's argmax pick (child.py)
    warmed_up: bool = False  # llama-bench's warm-up has run on this context


class _Stopped(Exception):
    """The user stopped the sweep: what was measured has been sent."""


def run_depth_safely(worker: DepthWorker, cmd: p.DepthCommand) -> None:
    """run_depth, its failure one sentence to the parent; the worker stays up."""
    try:
        run_depth(worker, cmd)
    except Exception:  # noqa: BLE001 - reported to the user, worker stays up
        log.exception("depth run failed")
        worker.conn.send(p.WorkerError(cmd.request_id, "The depth measurement failed; see the log for details.",
                                       traceback.format_exc()))


def run_depth(worker: DepthWorker, cmd: p.DepthCommand) -> None:
    """Answers one DepthCommand: DepthMemory, then DepthMeasured per test, then Finished (or WorkerError)."""
    import llama_cpp as L

    llm = worker.llm
    n_ctx = L.llama_n_ctx(llm.ctx)
    if cmd.n_ctx > n_ctx:
        worker.conn.send(p.WorkerError(cmd.request_id, (
            f"Depth {cmd.depth:,} with its tests needs {cmd.n_ctx:,} tokens of context but the model was loaded "
            f"with {n_ctx:,}; load it with a larger context.")))
        return
    t_recv = time.monotonic()
    n_threads = cmd.n_threads or worker.n_threads
    L.llama_set_n_threads(llm.ctx, n_threads, n_threads)
    run = _DepthRun(worker, L, cmd)
    reason = p.STOP_MAX_TOKENS
    try:
        run.measure()
    except _Stopped:
        reason = p.STOP_USER
    finally:
        L.llama_set_abort_callback(llm.ctx, L.ggml_abort_callback(0), None)
    worker.conn.send(p.Finished(cmd.request_id, reason, cmd.depth, run.n_generated, t_recv, time.monotonic(), None,
                                n_threads, "depth"))


class _DepthRun:
    def __init__(self, worker: DepthWorker, L: ModuleType, cmd: p.DepthCommand) -> None:
        self.worker, self.L, self.cmd = worker, L, cmd
        self.llm = worker.llm
        self.ctx = worker.llm.ctx
        self.n_vocab = int(L.llama_vocab_n_tokens(worker.llm.vocab))
        self.bos = worker.llm.bos if L.llama_vocab_get_add_bos(worker.llm.vocab) else -1
        self.rand = random.Random(cmd.seed)  # llama-bench: std::rand() % n_vocab
        self.n_generated = 0

    def _check_stop(self) -> None:
        if self.worker.stop_flag.value:
            raise _Stopped

    def measure(self) -> None:
        L, cmd, ctx = self.L, self.cmd, self.ctx
        buffers = self._context_account(cmd.n_ctx)
        self._check_stop()
        if not self.worker.warmed_up:
            # llama-bench's warm-ups on a fresh context: a prefill of -p tokens (its pp test's) and,
            # apart, one decode (its tg test's); apart, so a context of max(-n, -p) cells holds each.
            self._clear()
            self._prefill(cmd.n_pp, abortable=True)
            self._clear()
            self._generate(1)
            self.worker.warmed_up = True
        self._clear()
        t0 = time.monotonic()
        self._prefill(cmd.depth, abortable=True)
        fill_s = time.monotonic() - t0
        state = self._save_state() if cmd.depth else None
        gpus = tuple((d.name, d.memory_total) for d in devices() if d.kind in ("GPU", "iGPU") and d.memory_total)
        self.worker.conn.send(p.DepthMemory(cmd.request_id, cmd.depth, cmd.n_ctx, buffers, fill_s, gpu_memory=gpus))
        for rep in range(cmd.reps):
            for test in (p.TEST_TG, p.TEST_PP):
                self._check_stop()
                self._restore(state)
                L.llama_perf_context_reset(ctx)
                t = time.perf_counter()
                if test == p.TEST_TG:
                    self._generate(cmd.n_gen)
                    n = cmd.n_gen
                else:
                    self._prefill(cmd.n_pp, abortable=True)
                    n = cmd.n_pp
                seconds = time.perf_counter() - t
                perf = L.llama_perf_context(ctx)
                perf_ms = float(perf.t_eval_ms if test == p.TEST_TG else perf.t_p_eval_ms)
                self.worker.conn.send(p.DepthMeasured(cmd.request_id, cmd.depth, rep, test, n, seconds, perf_ms,
                                                      int(perf.n_reused)))

    # --- llama.cpp -------------------------------------------------------------

    def _context_account(self, n_ctx: int) -> tuple[DeviceBuffer, ...]:
        """llama.cpp's buffers for a context of n_ctx tokens on this model, from its log: the loaded
        context's where it is that size, else a context made for the purpose and freed at once."""
        from gemmacompare.engine.local.llama_context import new_context

        worker, L = self.worker, self.L
        if L.llama_n_ctx(self.ctx) == _padded(n_ctx):
            return tuple(b for b in worker.buffers if b.kind != "model")
        worker.load_log.start()
        other = new_context(self.llm.model or 0, worker.settings, n_ctx, 1)
        text = worker.load_log.stop()
        if other is None:
            return ()
        L.llama_free(other)
        return tuple(b for b in parse_load_log(text).buffers if b.kind != "model")

    def _clear(self) -> None:
        # Clears the recurrent state (Qwen3.5's DeltaNet layers) as well as the KV cache.
        self.L.llama_memory_clear(self.L.llama_get_memory(self.ctx), False)

    def _save_state(self) -> ctypes.Array[ctypes.c_uint8]:
        L = self.L
        size = int(L.llama_state_seq_get_size(self.ctx, 0))
        buf = (ctypes.c_uint8 * size)()
        L.llama_state_seq_get_data(self.ctx, buf, size, 0)
        return buf

    def _restore(self, state: ctypes.Array[ctypes.c_uint8] | None) -> None:
        self._clear()
        if state is not None and not self.L.llama_state_seq_set_data(self.ctx, state, len(state), 0):
            raise RuntimeError("llama.cpp could not restore the state saved at this depth")

    def _tokens(self, n: int) -> list[int]:
        first = [self.bos] if self.bos >= 0 and n else []
        return first + [self.rand.randrange(self.n_vocab) for _ in range(n - len(first))]

    def _prefill(self, n: int, abortable: bool) -> None:
        """test_prompt: n random tokens (the first a BOS) in n_batch chunks; abortable between graph nodes."""
        if n <= 0:
            return
        L, ctx = self.L, self.ctx
        if abortable:
            L.llama_set_abort_callback(ctx, self.worker.abort_cb, None)
        n_batch = max(1, self.llm.n_batch)
        arr = (L.llama_token * n)(*self._tokens(n))
        for start in range(0, n, n_batch):
            k = min(n_batch, n - start)
            chunk = ctypes.cast(ctypes.byref(arr, start * ctypes.sizeof(L.llama_token)), ctypes.POINTER(L.llama_token))
            rc = L.llama_decode(ctx, L.llama_batch_get_one(chunk, k))
            self._check_stop()
            if rc != 0:
                raise RuntimeError(f"llama_decode returned {rc} during a prefill")
        L.llama_synchronize(ctx)
        L.llama_set_abort_callback(ctx, L.ggml_abort_callback(0), None)

    def _generate(self, n: int) -> None:
        """test_gen, with the app's pick: each token decoded alone, the next one the argmax of its logits
        with end-of-generation tokens banned (-n counts them all). No abort callback: ggml would call it
        between graph nodes, ~1 ms a token on small models; the stop is checked between tokens."""
        L, ctx = self.L, self.ctx
        pick = self.worker.greedy_pick(L, self.n_vocab, self.worker.eog_ids(L))
        one = (L.llama_token * 1)(self.bos if self.bos >= 0 else self.rand.randrange(self.n_vocab))
        one_ptr = ctypes.cast(one, ctypes.POINTER(L.llama_token))
        decode, batch_one, stop_flag = L.llama_decode, L.llama_batch_get_one, self.worker.stop_flag
        for _ in range(n):
            rc = decode(ctx, batch_one(one_ptr, 1))
            if rc != 0:
                raise RuntimeError(f"llama_decode returned {rc}")
            one[0] = pick(None, ctx, -1)
            self.n_generated += 1
            if stop_flag.value:
                raise _Stopped


def _padded(n_ctx: int) -> int:
    """The context llama.cpp makes for n_ctx: padded to 256 cells."""
    return -(-n_ctx // 256) * 256
