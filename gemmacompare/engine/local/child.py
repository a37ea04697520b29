"""The model worker: one process per model, spoken to with protocol messages.

Runs in a spawned child process. It owns llama.cpp completely, so a GGML_ASSERT,
an out-of-memory kill or the process-wide stderr redirection of `verbose=False`
cannot touch the app or the other model.

Generation is a tight loop over llama.cpp's C API (decode one token, native
sampler chain, detokenize): llama-cpp-python's create_completion costs ~8% of
throughput on tiny models, which would blur the very differences we measure.
"""

from __future__ import annotations

import codecs
import ctypes
import logging
import os
import threading
import time
import traceback
from dataclasses import replace
from multiprocessing.connection import Connection
from types import ModuleType
from typing import TYPE_CHECKING

from gemmacompare.engine import protocol as p
from gemmacompare.engine.local.depth_run import DepthWorker, run_depth_safely
from gemmacompare.engine.local.llama_runtime import (
    LoadLog,
    allocation_failure,
    build_facts,
    devices,
    gpu_offload_available,
    load_backends,
    parse_load_log,
    process_log,
)
from gemmacompare.engine.local.prompt_cache import WHY_STOPPED, CheckpointLimits, PromptCache, common_prefix
from gemmacompare.engine.local.prompts import render_chat
from gemmacompare.engine.local.token_stream import (
    TOKEN_FLUSH_S,
    PhaseTagger,
    StopStrings,
    TokenBatcher,
    greedy_pick,
    is_greedy,
)
from gemmacompare.engine.local.vulkan_drivers import drop_bad_driver_files
from gemmacompare.engine.modes import default_threads
from gemmacompare.engine.prompt_text import PromptTextError, check_utf8
from gemmacompare.engine.reasoning import ReasoningSplitter
from gemmacompare.models.base_models import FRAME_STOPS, is_base_model
from gemmacompare.models.chat_template import TemplateError
from gemmacompare.models.gguf_file import ModelFacts, ModelFileError, read_model_facts
from gemmacompare.models.reasoning_formats import prompt_prefills_thinking

if TYPE_CHECKING:  # llama_context imports llama_cpp, which only the worker loads, and late
    from gemmacompare.engine.local.llama_context import LlamaContext
    from gemmacompare.engine.local.speculative import Speculator

log = logging.getLogger(__name__)

PENALTY_LAST_N = 64  # llama.cpp's default window for --repeat-penalty



def worker_main(conn: Connection, stop_flag: ctypes.c_int, log_path: str | None = None) -> None:
    """Entry point of the child process. `stop_flag` is a shared c_int.

    llama.cpp writes its own diagnostics (and GGML_ASSERT messages) straight to
    fd 2; in this process they go to a log file the parent can quote when the
    worker dies, instead of scribbling over the user's terminal.
    """
    if log_path:
        try:
            fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # prompts may show up in it
            os.dup2(fd, 1)
            os.dup2(fd, 2)
            os.close(fd)
        except OSError:
            pass
    _exit_when_orphaned(os.getppid())
    drop_bad_driver_files()  # before llama.cpp (and with it the Vulkan loader) is imported here
    try:
        _Worker(conn, stop_flag).serve()
    except (EOFError, BrokenPipeError, KeyboardInterrupt):
        pass  # the parent went away; nothing left to report to


def _exit_when_orphaned(parent_pid: int, interval_s: float = 0.5) -> None:
    """A killed parent closes the pipe, but a worker deep in a long prefill only
    reads it afterwards (seconds on a busy machine), and memory stays taken
    until then. A reparented worker has lost its app: it leaves at once."""

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(interval_s)
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


class _Worker:
    def __init__(self, conn: Connection, stop_flag: ctypes.c_int) -> None:
        self.conn = conn
        self.stop_flag = stop_flag
        self.llm: LlamaContext | None = None
        self.facts: ModelFacts | None = None  # set with llm, never cleared: there whenever llm is
        self.n_threads = 1
        # Checked by ggml between graph nodes, so it only runs during prefill;
        # per node it would cost ~1 ms per token on small models.
        self._abort_cb: ctypes._CFunctionType | None = None
        self._load_log: LoadLog | None = None
        self._eog_ids: tuple[int, ...] | None = None  # the loaded model's end-of-generation tokens, when asked
        self.cache: PromptCache | None = None  # what the context holds between requests; with llm
        self._depth: DepthWorker | None = None  # the context sweep's view of the loaded model (depth_run.py)
        self.spec: Speculator | None = None  # speculative decoding, where the settings ask for it

    def serve(self) -> None:
        while True:
            cmd = self.conn.recv()
            if isinstance(cmd, p.ShutdownCommand):
                return
            if isinstance(cmd, p.LoadCommand):
                self._load(cmd)
            elif isinstance(cmd, p.GenerateCommand):
                self._generate_safely(cmd)
            elif isinstance(cmd, p.DepthCommand):
                self._measure_depth(cmd)

    def _send(self, event: p.Event) -> None:
        self.conn.send(event)

    # --- loading -----------------------------------------------------------

    def _load(self, cmd: p.LoadCommand) -> None:
        t0 = time.monotonic()
        try:
            facts = read_model_facts(cmd.path)
        except ModelFileError as exc:
            self._send(p.WorkerError(None, exc.message, exc.problem.name))
            return
        s = cmd.settings
        problem = s.problem()
        if problem:
            self._send(p.WorkerError(None, problem))
            return
        import llama_cpp

        from gemmacompare.engine.local.llama_context import LoadError, open_context

        load_backends()
        if self._load_log is None:
            self._load_log = process_log()
        # Every request sets its own thread count (the round's split); a request without one
        # (a worker driven directly) gets the whole machine, llama.cpp's tools' default.
        n_threads = default_threads()
        n_ctx = s.n_ctx
        if facts.context_length:
            n_ctx = min(n_ctx, facts.context_length)
        # "All layers" means none where llama.cpp has no GPU backend; say 0 then.
        n_gpu_layers = s.n_gpu_layers if gpu_offload_available() else 0
        if self.spec is not None:
            self.spec.close()
            self.spec = None
        if self.llm is not None:
            self.llm.close()
            self.llm = None
            self.cache = None
        self._load_log.start()
        try:
            llm = open_context(cmd.path, s, n_ctx, n_threads, n_gpu_layers)
        except LoadError as exc:
            failed = allocation_failure(self._load_log.stop())
            if failed is not None and failed.device not in ("CPU", "?"):
                size = f" ({failed.bytes / 2**20:,.0f} MiB)" if failed.bytes else ""
                msg = (f"{facts.name} does not fit in the memory of {failed.device}: llama.cpp could not allocate "
                       f"its {failed.what} there{size}; lower the GPU layers or the context size.")
            elif exc.what == "context":
                msg = (
                    f"llama.cpp could not create a {n_ctx}-token context for {facts.name} "
                    f"(KV cache {s.type_k}/{s.type_v}, flash attention {s.flash_attn}); "
                    "lower the context size or choose other cache settings."
                )
            else:
                msg = f"llama.cpp could not load {os.path.basename(cmd.path)}; the file may be damaged or unsupported."
            self._send(p.WorkerError(None, msg))
            return
        placement = parse_load_log(self._load_log.stop(), llama_cpp.llama_model_n_layer(llm.model))
        self._abort_cb = llama_cpp.ggml_abort_callback(lambda _data: bool(self.stop_flag.value))
        target_buffers = placement.buffers  # the context sweep's account is the model's alone
        if s.speculation != "off":
            from gemmacompare.engine.local.speculative import SpecRefused, open_speculator

            self._load_log.start()
            try:
                self.spec = open_speculator(llama_cpp, llm, facts, s, n_ctx, n_threads, n_gpu_layers, self._abort_cb)
            except SpecRefused as exc:
                llm.close()
                self._send(p.WorkerError(None, str(exc)))
                return
            finally:
                drafted = parse_load_log(self._load_log.stop()).buffers
            # The draft model's weights, cache and compute buffers, one part of the account.
            placement = replace(placement, buffers=(*placement.buffers,
                                                    *(replace(b, kind="draft") for b in drafted)))
        if placement.device_bytes():
            placement = placement.with_devices(devices())
        self.llm, self.facts, self.n_threads = llm, facts, n_threads
        self.cache = _new_cache(llm, s)
        self._eog_ids = None
        self._depth = DepthWorker(self.conn, llm, s, target_buffers, self.stop_flag, self._abort_cb, self._load_log,
                                  n_threads, self._end_of_generation_ids, greedy_pick)
        self._send(
            p.Loaded(
                pid=os.getpid(),
                load_seconds=time.monotonic() - t0,
                facts=facts,
                n_ctx=llama_cpp.llama_n_ctx(llm.ctx),
                n_threads=n_threads,
                n_gpu_layers=n_gpu_layers,
                system_info=llama_cpp.llama_print_system_info().decode(errors="replace").strip(),
                placement=placement,
                flash_attn=llm.flash_attn,
                type_k=llm.type_k,
                type_v=llm.type_v,
                n_batch=llm.n_batch,
                llama_build=build_facts(),
                swa_full=llm.swa_full,
            )
        )

    def _measure_depth(self, cmd: p.DepthCommand) -> None:
        """The context sweep's measurement at one depth (engine/local/depth_run.py)."""
        if self._depth is None or self.llm is None:
            self._send(p.WorkerError(cmd.request_id, "No model is loaded; load one first."))
            return
        try:
            run_depth_safely(self._depth, cmd)
        finally:
            if self.cache is not None:  # the depth run left its filler in the memory
                self.cache.forget("a context sweep used the model since the last request")

    # --- generation --------------------------------------------------------

    def _generate_safely(self, cmd: p.GenerateCommand) -> None:
        if self.llm is None:
            self._send(p.WorkerError(cmd.request_id, "No model is loaded; load one first."))
            return
        assert self.facts is not None  # loaded with llm
        if cmd.raw_prompt is None and is_base_model(self.facts):
            # The question-and-answer frame ends an answer where the next question would start.
            cmd = replace(cmd, sampling=replace(cmd.sampling, stop=(*cmd.sampling.stop, *FRAME_STOPS)))
        try:
            self._generate(cmd)
        except TemplateError as exc:
            self._send(p.WorkerError(cmd.request_id, self._template_sentence(exc), traceback.format_exc()))
        except PromptTextError as exc:
            self._send(p.WorkerError(cmd.request_id, str(exc)))
        except Exception:  # noqa: BLE001 - reported to the user, worker stays up
            log.exception("generation failed")
            if self.cache is not None:  # what the memory holds after a failed decode is not known
                self.cache.forget("the previous request failed")
            self._send(
                p.WorkerError(
                    cmd.request_id,
                    "Generation failed; try again or reload the model (details in the log).",
                    traceback.format_exc(),
                )
            )

    def _template_sentence(self, exc: TemplateError) -> str:
        assert self.facts is not None  # only asked while a model is loaded
        broken = self.facts.template_problem
        if broken:
            return (f"The chat template of {self.facts.name} is broken ({broken}); "
                    "use raw completion or pick another file.")
        # render_template's message is already one sentence (what stopped it, what to do);
        # wrapping it in another would make two.
        return " ".join(str(exc).split())

    def _render(self, cmd: p.GenerateCommand) -> p.PromptReady:
        if cmd.raw_prompt is not None:
            return p.PromptReady(cmd.request_id, "raw", cmd.raw_prompt, False)
        assert self.llm is not None and self.facts is not None  # _generate_safely checked
        if self.facts.template_problem:
            raise TemplateError(self.facts.template_problem)
        import llama_cpp

        rendered = render_chat(
            cmd.messages,
            template=self.facts.chat_template,
            architecture=self.facts.architecture,
            bos_token=self.llm.token_text(self.llm.bos),
            eos_token=self.llm.token_text(self.llm.eos),
            enable_thinking=cmd.enable_thinking,
            n_ctx=llama_cpp.llama_n_ctx(self.llm.ctx),
            base_model=is_base_model(self.facts),
        )
        prefilled = prompt_prefills_thinking(rendered.text) is not None
        return p.PromptReady(cmd.request_id, rendered.template_name, rendered.text, prefilled)

    def _generate(self, cmd: p.GenerateCommand) -> None:
        import llama_cpp as L

        assert self.llm is not None  # _generate_safely checked
        t_recv = time.monotonic()
        ready = self._render(cmd)
        self._send(ready)
        tokens = self._tokenise(ready.prompt_text)
        n_ctx = L.llama_n_ctx(self.llm.ctx)
        if len(tokens) >= n_ctx:
            self._send(
                p.WorkerError(
                    cmd.request_id,
                    f"The prompt is {len(tokens)} tokens but the context holds {n_ctx}; "
                    "start a new chat or raise the context size.",
                )
            )
            return
        if self.spec is not None:
            from gemmacompare.engine.local.speculative import refusal_for_sampling

            if refused := refusal_for_sampling(cmd.sampling):
                self._send(p.WorkerError(cmd.request_id, refused))
                return
        n_threads = self._start_request(L, cmd)
        assert self.cache is not None  # made with llm
        plan = self.cache.plan(tokens, cmd.cache, _system_key(cmd))
        banned = self._end_of_generation_ids(L) if cmd.sampling.ignore_eos else ()
        sampler = _make_sampler(L, cmd.sampling, L.llama_vocab_n_tokens(self.llm.vocab), banned)
        draft: p.DraftStats | None = None
        try:
            user_start = self._last_user_start(cmd, ready.prompt_text, tokens)
            checkpoints = cmd.cache == p.CACHE_KEEP or cmd.keep_after
            prefilled = self._prefill(L, cmd.request_id, tokens, plan.n_past, user_start, checkpoints)
            # llama.cpp counts every decode of more than one token as prompt eval, a speculating
            # run's verification batches too: the prompt's own figure is the count at this point.
            prompt_perf = _llama_perf(L, self.llm.ctx)
            if not prefilled:
                reason, n_gen = p.STOP_USER, 0
            elif self.spec is not None:
                reason, n_gen, draft = self.spec.decode(self.llm, replace(cmd, n_threads=n_threads), ready.prompt_text,
                                                        tokens, n_ctx, self.stop_flag, self.conn.send, banned)
                self.cache.tokens = self.spec.held  # what the speculating loop left in the memory
            else:
                reason, n_gen = self._decode_loop(L, cmd, ready.prompt_text, sampler, len(tokens), n_ctx)
            self._send_finished(L, cmd.request_id, reason, len(tokens), n_gen, t_recv, n_threads, ready,
                                self.cache.use(cmd.cache, plan), prompt_perf, draft)
        finally:
            L.llama_set_abort_callback(self.llm.ctx, L.ggml_abort_callback(0), None)
            L.llama_sampler_free(sampler)

    def _end_of_generation_ids(self, L: ModuleType) -> tuple[int, ...]:
        """Every token llama.cpp treats as end of generation, found as its
        common_init_from_params does for --ignore-eos (a scan of the vocabulary,
        ~0.1 s for Gemma's 262k entries, so kept per model)."""
        assert self.llm is not None  # called from _generate
        if self._eog_ids is None:
            vocab, is_eog = self.llm.vocab, L.llama_vocab_is_eog
            self._eog_ids = tuple(i for i in range(L.llama_vocab_n_tokens(vocab)) if is_eog(vocab, i))
        return self._eog_ids

    def _tokenise(self, text: str) -> list[int]:
        check_utf8(text)  # one sentence for a prompt that is not text, before llama.cpp sees it
        llm = self.llm
        assert llm is not None  # called from _generate
        bos_text = llm.token_text(llm.bos)
        # The template usually writes the BOS text itself; adding it again would
        # give the model a double BOS it never saw in training.
        add_special = not (bos_text and text.startswith(bos_text))
        return llm.tokenize(text, add_special=add_special)

    def _start_request(self, L: ModuleType, cmd: p.GenerateCommand) -> int:
        """Threads for this request and llama.cpp's counters from zero; returns the thread count.
        What the memory keeps is the cache's plan (a cold request clears it: honest prefill
        numbers, and the same answer for the same seed)."""
        assert self.llm is not None  # called from _generate
        ctx = self.llm.ctx
        n_threads = cmd.n_threads or self.n_threads
        L.llama_set_n_threads(ctx, n_threads, n_threads)
        L.llama_perf_context_reset(ctx)
        return n_threads

    def _last_user_start(self, cmd: p.GenerateCommand, prompt_text: str, tokens: list[int]) -> int:
        """The token where the last user message's text starts (-1: none found). llama-server
        takes a checkpoint there: the next turn's template may render what follows anew
        (Gemma 4 drops the empty thought channel its generation prompt opened), never what
        comes before. Only asked where the cache takes checkpoints."""
        assert self.cache is not None  # made with llm
        last = cmd.messages[-1] if cmd.messages else None
        if not self.cache.takes_checkpoints or last is None or last.role != "user" or not last.content:
            return -1
        at = prompt_text.rfind(last.content)
        if at <= 0:
            return -1
        # The tokens of the text before it, as far as they agree with the prompt's own (a merge
        # across the boundary would make the last one differ).
        return common_prefix(self._tokenise(prompt_text[:at]), tokens)

    def _prefill(self, L: ModuleType, request_id: int, tokens: list[int], n_past: int, user_start: int = -1,
                 checkpoints: bool = True) -> bool:
        """Decodes tokens[n_past:] (the rest is in the cache) in n_batch chunks, abortable between
        graph nodes, taking the cache's checkpoints on the way. False when the user stopped it;
        sends PrefillDone when it completes."""
        assert self.llm is not None and self.cache is not None  # called from _generate
        ctx, cache = self.llm.ctx, self.cache
        n_batch = max(1, self.llm.n_batch)
        arr = (L.llama_token * len(tokens))(*tokens)
        chunks = cache.chunks(n_past, len(tokens), n_batch, int(L.llama_n_ubatch(ctx)), user_start, checkpoints)
        t_pre = time.monotonic()
        L.llama_set_abort_callback(ctx, self._abort_cb, None)
        for start, end, checkpoint in chunks:
            if checkpoint:
                cache.checkpoint(start, request_id)
            chunk = ctypes.cast(ctypes.byref(arr, start * ctypes.sizeof(L.llama_token)), ctypes.POINTER(L.llama_token))
            rc = L.llama_decode(ctx, L.llama_batch_get_one(chunk, end - start))
            if self.stop_flag.value:
                # An aborted batch may have left part of itself in the memory, and a recurrent
                # state cannot be cut back to before it: the next turn starts cold.
                cache.forget(WHY_STOPPED)
                return False
            if rc != 0:
                raise RuntimeError(f"llama_decode returned {rc} during prefill")
            cache.read(tokens[start:end])
        L.llama_synchronize(ctx)
        L.llama_set_abort_callback(ctx, L.ggml_abort_callback(0), None)
        self._send(p.PrefillDone(request_id, len(tokens), t_pre, time.monotonic(), n_reused=n_past))
        return True

    def _decode_loop(
        self, L: ModuleType, cmd: p.GenerateCommand, prompt_text: str, sampler: object, n_prompt: int, n_ctx: int
    ) -> tuple[str, int]:
        """Samples and decodes one token at a time until a stop; returns (stop reason, tokens generated).

        The loop body binds everything it calls to locals: at Gemma's ~20 ms a
        token it hardly matters, but tiny models run at hundreds of tokens a second.
        """
        assert self.llm is not None  # called from _generate
        ctx, vocab, s = self.llm.ctx, self.llm.vocab, cmd.sampling
        utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")
        buf = ctypes.create_string_buffer(256)
        one = (L.llama_token * 1)()
        one_ptr = ctypes.cast(one, ctypes.POINTER(L.llama_token))
        stops = StopStrings(s.stop)
        phases = PhaseTagger(ReasoningSplitter(starts_thinking=prompt_prefills_thinking(prompt_text)))
        batcher = TokenBatcher(cmd.request_id, self.conn.send)
        n_past, n_gen = n_prompt, 0
        assert self.cache is not None  # made with llm
        held = self.cache.tokens.append  # what the memory holds: each token once it is decoded
        banned: tuple[int, ...] = ()
        if s.ignore_eos:
            assert self._eog_ids is not None  # _generate looked them up for ignore_eos
            banned = self._eog_ids
        sample = greedy_pick(L, L.llama_vocab_n_tokens(vocab), banned) if is_greedy(s) else L.llama_sampler_sample
        decode, is_eog = L.llama_decode, L.llama_vocab_is_eog
        to_piece, batch_one, monotonic = L.llama_token_to_piece, L.llama_batch_get_one, time.monotonic
        stop_flag = self.stop_flag
        while True:
            tok = sample(sampler, ctx, -1)
            t = monotonic()
            if is_eog(vocab, tok):
                reason = p.STOP_EOS
                break
            n = to_piece(vocab, tok, buf, 256, 0, True)
            piece, hit_stop = stops.feed(utf8.decode(buf.raw[: max(n, 0)]))
            batcher.add(phases.feed(tok, t, piece))
            if n_gen == 0 or t - batcher.last_flush >= TOKEN_FLUSH_S:
                batcher.flush()
            n_gen += 1
            if hit_stop:
                reason = p.STOP_STRING
                break
            if n_gen >= s.max_tokens:
                reason = p.STOP_MAX_TOKENS
                break
            if stop_flag.value:
                reason = p.STOP_USER
                break
            if n_past >= n_ctx:
                reason = p.STOP_CONTEXT_FULL
                break
            one[0] = tok
            rc = decode(ctx, batch_one(one_ptr, 1))
            if rc != 0:
                raise RuntimeError(f"llama_decode returned {rc}")
            held(tok)
            n_past += 1
        batcher.add(phases.flush())
        batcher.flush()
        return reason, n_gen

    def _send_finished(
        self, L: ModuleType, request_id: int, reason: str, n_prompt: int, n_gen: int, t_recv: float, n_threads: int,
        ready: p.PromptReady, cache: p.CacheUse, prompt_perf: p.LlamaPerf, draft: p.DraftStats | None = None,
    ) -> None:
        """prompt_perf: llama_perf_context right after the prefill, the prompt's figures."""
        assert self.llm is not None  # called from _generate
        # The prompt's figures from the prefill's end; llama.cpp's eval counts its one-token decodes,
        # which in a speculating run are only the rounds without a draft (metrics.py leaves them out).
        perf = replace(_llama_perf(L, self.llm.ctx), t_p_eval_ms=prompt_perf.t_p_eval_ms, n_p_eval=prompt_perf.n_p_eval)
        self._send(
            p.Finished(
                request_id=request_id,
                stop_reason=reason,
                n_prompt=n_prompt,
                n_generated=n_gen,
                t_send=t_recv,
                t_end=time.monotonic(),
                perf=perf,
                n_threads=n_threads,
                template_name=ready.template_name,
                cache=cache,
                draft=draft,
            )
        )


def _llama_perf(L: ModuleType, ctx: object) -> p.LlamaPerf:
    perf = L.llama_perf_context(ctx)
    return p.LlamaPerf(perf.t_load_ms, perf.t_p_eval_ms, perf.t_eval_ms, perf.n_p_eval, perf.n_eval)


def _new_cache(llm: LlamaContext, s: p.LoadSettings) -> PromptCache:
    import llama_cpp

    limits = CheckpointLimits(s.ctx_checkpoints, s.checkpoint_min_step, s.checkpoint_mib << 20)
    assert llm.model is not None and llm.ctx is not None  # just opened
    return PromptCache.for_context(llama_cpp, llm.model, llm.ctx, llm.swa_full, limits)


def _system_key(cmd: p.GenerateCommand) -> tuple[str, ...]:
    """The conversation's system prompt: a new one starts the cache cold."""
    return tuple(m.content for m in cmd.messages if m.role == "system")


def _make_sampler(L: ModuleType, s: p.SamplingSettings, n_vocab: int, banned: tuple[int, ...] = ()) -> object:
    chain = L.llama_sampler_chain_init(L.llama_sampler_chain_default_params())
    if banned:
        # --ignore-eos in llama.cpp's common code: a -inf logit bias on every end-of-generation token.
        biases = (L.llama_logit_bias * len(banned))(*(L.llama_logit_bias(t, float("-inf")) for t in banned))
        L.llama_sampler_chain_add(chain, L.llama_sampler_init_logit_bias(n_vocab, len(banned), biases))
    if s.repeat_penalty and s.repeat_penalty != 1.0:
        # The vendored llama.cpp (0c1e570) still takes n_vocab first; other versions
        # dropped it, and passing their four arguments failed every generation.
        # 64: llama.cpp's default penalty_last_n (common/common.h).
        penalties = L.llama_sampler_init_penalties(n_vocab, PENALTY_LAST_N, s.repeat_penalty, 0.0, 0.0)
        L.llama_sampler_chain_add(chain, penalties)
    if s.temperature <= 0:
        L.llama_sampler_chain_add(chain, L.llama_sampler_init_greedy())
        return chain
    if s.top_k > 0:
        L.llama_sampler_chain_add(chain, L.llama_sampler_init_top_k(s.top_k))
    if 0 < s.top_p < 1:
        L.llama_sampler_chain_add(chain, L.llama_sampler_init_top_p(s.top_p, 1))
    if s.min_p > 0:
        L.llama_sampler_chain_add(chain, L.llama_sampler_init_min_p(s.min_p, 1))
    L.llama_sampler_chain_add(chain, L.llama_sampler_init_temp(s.temperature))
    L.llama_sampler_chain_add(chain, L.llama_sampler_init_dist(s.seed & 0xFFFFFFFF))
    return chain
