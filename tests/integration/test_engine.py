"""The engine on the real demo models: streaming, counts, stop, crashes."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from gemmacompare.engine import protocol as p
from gemmacompare.engine.local.model_worker import ModelWorker
from gemmacompare.engine.metrics import RunRecord, compute_stats
from gemmacompare.engine.modes import FAIR, RACE
from gemmacompare.engine.session import CompareSession
from gemmacompare.models.base_models import FRAME_NAME

PROMPT = (p.ChatMessage("user", "Name three primary colours."),)
GREEDY = p.SamplingSettings(max_tokens=24, temperature=0.0)


@pytest.fixture(scope="module")
def pair(demo_paths):
    with CompareSession(("smol", "gemma")) as pr:
        errors = pr.load([str(demo_paths["smollm2"]), str(demo_paths["gemma3"])], p.LoadSettings(n_ctx=2048))
        assert errors == [None, None]
        yield pr


def command(i: int = 0, sampling: p.SamplingSettings = GREEDY, **kw) -> p.GenerateCommand:
    kw.setdefault("messages", PROMPT)
    return p.GenerateCommand(request_id=100 + i, sampling=sampling, **kw)


def collect(worker: ModelWorker, cmd: p.GenerateCommand) -> RunRecord:
    rec = RunRecord(worker.label, time.monotonic())
    for ev in worker.generate(cmd):
        rec.add(ev)
    return rec


def test_loaded_event_has_facts(pair):
    smol, gemma = pair.loaded
    assert smol.facts.architecture == "llama" and gemma.facts.architecture == "gemma3"
    assert smol.load_seconds > 0 and smol.n_ctx == 2048
    assert smol.pid != gemma.pid != os.getpid()
    assert "CPU" in smol.system_info or "AVX" in smol.system_info
    # llama.cpp's defaults, recorded with the result (llama-bench's names).
    assert (smol.flash_attn, smol.type_k, smol.type_v, smol.n_batch) == ("auto", "f16", "f16", 2048)


def test_speed_settings_reach_llama_cpp(demo_paths):
    w = ModelWorker("fa")
    try:
        settings = p.LoadSettings(n_ctx=512, flash_attn="on", type_k="q8_0", type_v="q8_0")
        ld = w.load(str(demo_paths["smollm2"]), settings)
        assert (ld.flash_attn, ld.type_k, ld.type_v) == ("on", "q8_0", "q8_0")
        assert ld.n_batch == 512  # llama.cpp's 2048, capped to the context
        rec = collect(w, command(sampling=p.SamplingSettings(max_tokens=8)))
        assert rec.error is None and rec.stats().n_tokens > 0

        with pytest.raises(p.WorkerFailed, match="Flash attention must be one of"):
            w.load(str(demo_paths["smollm2"]), p.LoadSettings(flash_attn="sometimes"))
        assert w.alive
    finally:
        w.close()



def test_loaded_event_says_where_llama_cpp_put_the_model(pair):
    """A CPU build: GPU layers "all" (the default) becomes 0, and llama.cpp's own log says CPU."""
    for ld in pair.loaded:
        assert ld.n_gpu_layers == 0
        pl = ld.placement
        assert pl.backend == "CPU" and pl.layers_offloaded == 0
        assert {b.kind for b in pl.buffers} == {"model", "KV", "output", "compute"}
        assert all(b.backend == "CPU" and b.bytes > 0 for b in pl.buffers)
        assert pl.device_bytes() == 0
    smol, gemma = pair.loaded
    assert smol.placement.layers_total == 31 and gemma.placement.layers_total == 19  # n_layer + output
    model_buf = next(b for b in smol.placement.buffers if b.kind == "model")
    assert abs(model_buf.bytes - smol.facts.file_size) < 0.1 * smol.facts.file_size


@pytest.mark.parametrize("mode", [RACE, FAIR])
def test_both_models_stream_one_prompt(pair, mode):
    seen = {0: [], 1: []}
    result = pair.run(lambda i: command(i), mode=mode, threads_total=2,
                      on_event=lambda i, ev: seen[i].append(ev))
    assert result.mode == mode
    expected_threads = 1 if mode == RACE else 2
    for i, run in enumerate(result.runs):
        assert run.error is None, run.error
        st = run.stats()
        assert st.n_threads == expected_threads
        assert st.n_tokens > 0 and run.answer.strip()
        assert st.stop_reason in (p.STOP_EOS, p.STOP_MAX_TOKENS, p.STOP_STRING)
        # Figures, not speeds: a 2-thread decode on a busy 2-core machine can fall below 1 t/s.
        assert st.gen_tps and st.gen_tps > 0 and st.prefill_tps > 0
        assert 0 < st.ttft_s < 30 and st.peak_rss > 50e6
        assert not st.gpu_available and st.peak_vram is None
        times = [t.t for t in run.tokens]
        assert times == sorted(times) and times[0] >= run.t_send
        kinds = [type(ev).__name__ for ev in seen[i]]
        # The session says when each run starts (fair mode: its turn), then the worker's events follow.
        assert kinds[:3] == ["RunStarted", "PromptReady", "PrefillDone"] and kinds[-1] == "Finished"
        assert seen[i][0].n_threads == expected_threads and seen[i][0].t_send == run.t_send
    assert result.runs[0].prompt.template_name == "gguf"
    assert result.runs[1].prompt.template_name == FRAME_NAME  # a base model: asked in a Q&A frame
    if mode == RACE:
        # Both ran at once: their token streams overlap in time.
        a, b = result.runs
        assert a.tokens[0].t < b.tokens[-1].t and b.tokens[0].t < a.tokens[-1].t


@pytest.mark.parametrize("max_tokens", [5, 200])
def test_counts_agree_with_llama_perf(pair, max_tokens):
    w = pair.worker(0)
    rec = collect(w, command(sampling=p.SamplingSettings(max_tokens=max_tokens)))
    fin = rec.finished
    assert fin.n_prompt == rec.prefill.n_prompt == fin.perf.n_p_eval
    # The token that ends a run is sampled but never decoded: after a max_tokens
    # stop the last emitted token was not fed back (n_eval = n - 1); after EOS
    # every emitted token was fed back to get the logits that sampled EOS.
    if fin.stop_reason == p.STOP_MAX_TOKENS:
        assert fin.n_generated == max_tokens
        assert fin.perf.n_eval == fin.n_generated - 1
    else:
        assert fin.stop_reason == p.STOP_EOS
        assert fin.perf.n_eval == fin.n_generated
    assert len(rec.tokens) == fin.n_generated


def test_greedy_is_reproducible(pair):
    w = pair.worker(1)
    a = collect(w, command(sampling=p.SamplingSettings(max_tokens=16)))
    b = collect(w, command(sampling=p.SamplingSettings(max_tokens=16)))
    assert [t.token_id for t in a.tokens] == [t.token_id for t in b.tokens]


def test_seeded_sampling_is_reproducible(pair):
    w = pair.worker(0)
    s = p.SamplingSettings(max_tokens=20, temperature=1.2, top_k=0, top_p=1.0, min_p=0.0, seed=7)
    a = collect(w, command(sampling=s))
    b = collect(w, command(sampling=s))
    c = collect(w, command(sampling=p.SamplingSettings(**{**s.__dict__, "seed": 8})))
    ids = lambda r: [t.token_id for t in r.tokens]  # noqa: E731
    assert ids(a) == ids(b)
    assert ids(a) != ids(c)


def test_raw_completion_and_stop_string(pair):
    w = pair.worker(1)
    rec = collect(w, command(raw_prompt="1, 2, 3, 4,", messages=(),
                             sampling=p.SamplingSettings(max_tokens=40, stop=("8",))))
    assert rec.prompt.template_name == "raw"
    assert rec.finished.stop_reason == p.STOP_STRING
    assert " 5" in rec.answer and "8" not in rec.answer  # the stop string is not part of the answer


def _stop_after(worker: ModelWorker, cmd, when) -> tuple[RunRecord, float]:
    rec = RunRecord(worker.label, time.monotonic())
    stopped_at = None
    for ev in worker.generate(cmd):
        rec.add(ev)
        if stopped_at is None and when(rec):
            stopped_at = time.monotonic()
            worker.stop()
    return rec, time.monotonic() - stopped_at


def test_stop_during_decode(pair):
    w = pair.worker(0)
    cmd = command(raw_prompt="Once upon a time", messages=(), sampling=p.SamplingSettings(max_tokens=5000))
    rec, latency = _stop_after(w, cmd, lambda r: len(r.tokens) >= 3)
    assert rec.finished.stop_reason == p.STOP_USER
    # Generous bound: the 0.5 s target is measured by benchmarks/stop_latency.py,
    # a shared 2-core machine makes tight timings flaky here.
    assert latency < 3.0
    assert 3 <= len(rec.tokens) < 100
    assert collect(w, command()).finished is not None  # still usable


def test_stop_during_prefill(pair):
    w = pair.worker(1)
    long_prompt = "The quick brown fox jumps over the lazy dog. " * 170  # ~1,700 tokens
    cmd = command(raw_prompt=long_prompt, messages=(), sampling=p.SamplingSettings(max_tokens=4), n_threads=1)
    t0 = time.monotonic()
    timer = threading.Timer(0.3, w.stop)
    timer.start()
    events = list(w.generate(cmd))
    elapsed = time.monotonic() - t0
    fin = events[-1]
    assert isinstance(fin, p.Finished) and fin.stop_reason == p.STOP_USER
    assert not any(isinstance(e, (p.PrefillDone, p.Token)) for e in events)
    assert elapsed < 0.3 + 3.0  # the 0.5 s target: benchmarks/stop_latency.py
    assert w.alive  # stopped by the abort callback, not by killing
    assert collect(w, command()).finished.stop_reason in (p.STOP_EOS, p.STOP_MAX_TOKENS, p.STOP_STRING)


def test_killed_worker_reports_and_other_model_finishes(pair):
    victim = pair.worker(0)

    def on_event(i, ev):
        if i == 0 and isinstance(ev, p.Token) and ev.index == 2:
            os.kill(victim.pid, signal.SIGKILL)

    result = pair.run(
        lambda i: command(i, sampling=p.SamplingSettings(max_tokens=64 if i else 5000), raw_prompt="Once upon a time",
                          messages=()),
        mode=RACE, threads_total=2, on_event=on_event,
    )
    dead, other = result.runs
    assert dead.error is not None and dead.error.fatal
    assert "SIGKILL" in dead.error.message and "\n" not in dead.error.message
    assert other.error is None and other.finished.stop_reason in (p.STOP_EOS, p.STOP_MAX_TOKENS, p.STOP_STRING)
    assert other.stats().n_tokens > 0
    # Transparent restart: the next prompt reloads the model in a new process,
    # and the memory sampler follows it to its new pid.
    again = pair.run(lambda i: command(i), mode=RACE, threads_total=2)
    restarted = again.runs[0]
    assert restarted.finished is not None and victim.pid is not None
    assert restarted.memory.samples and restarted.stats().peak_rss > 50e6


def test_fair_stop_also_stops_the_model_still_waiting(pair):
    def on_event(i, ev):
        if i == 0 and isinstance(ev, p.Token) and ev.index == 2:
            pair.stop()

    result = pair.run(
        lambda i: command(i, raw_prompt="Once upon a time", messages=(), sampling=p.SamplingSettings(max_tokens=2000)),
        mode=FAIR, threads_total=2, on_event=on_event,
    )
    first, second = result.runs
    assert first.finished.stop_reason == p.STOP_USER and len(first.tokens) < 2000
    assert second.finished.stop_reason == p.STOP_USER and not second.tokens
    # The next run is not poisoned by that stop.
    after = pair.run(lambda i: command(i), mode=FAIR, threads_total=2)
    assert all(r.finished.stop_reason in (p.STOP_EOS, p.STOP_MAX_TOKENS, p.STOP_STRING) for r in after.runs)


def test_a_dead_worker_is_not_explained_with_a_guess(pair):
    victim = pair.worker(1)
    events = []
    for ev in victim.generate(command(raw_prompt="Once upon a time", messages=(),
                                      sampling=p.SamplingSettings(max_tokens=5000))):
        events.append(ev)
        if isinstance(ev, p.Token) and ev.index == 1:
            os.kill(victim.pid, signal.SIGTERM)
    err = events[-1]
    assert isinstance(err, p.WorkerError) and err.fatal
    assert "died from SIGTERM; it restarts on the next prompt" in err.message
    assert "context size" not in err.message and "smaller model" not in err.message
    assert collect(victim, command()).finished is not None  # restarted


def test_load_errors_are_one_sentence(tmp_path):
    w = ModelWorker("bad")
    try:
        bad = tmp_path / "x.gguf"
        bad.write_text("nope")

        with pytest.raises(p.WorkerFailed, match="not a GGUF"):
            w.load(str(bad))
        assert w.alive  # a bad file does not cost the worker
    finally:
        w.close()
    assert not w.alive


def test_stats_are_reused_only_while_the_record_is_unchanged(pair):
    rec = collect(pair.worker(0), command(sampling=p.SamplingSettings(max_tokens=12)))
    first = rec.stats()
    assert rec.stats() is first and first == compute_stats(rec)
    # Anything stats depend on changing gives fresh figures.
    rec.memory = p.MemoryTrace([p.MemorySample(rec.t_send + 0.1, 123 * 2**20)])
    assert rec.stats() is not first and rec.stats().peak_rss == 123 * 2**20
    shorter = RunRecord(rec.label, rec.t_send)
    for ev in [rec.prompt, rec.prefill, *rec.tokens[:5]]:
        shorter.add(ev)
    assert shorter.stats().n_tokens == 5
    shorter.add(rec.tokens[5])
    assert shorter.stats().n_tokens == 6 and shorter.stats() == compute_stats(shorter)


def test_ignore_eos_runs_exactly_max_tokens(pair):
    """llama.cpp's --ignore-eos: the run that ended at EOS goes on, with the same tokens up to there."""
    w = pair.worker(0)
    ended = collect(w, command(sampling=p.SamplingSettings(max_tokens=200, temperature=0.0)))
    assert ended.finished.stop_reason == p.STOP_EOS
    n = ended.finished.n_generated + 8
    runs = [
        # Greedy goes through our argmax; with a repeat penalty, through llama.cpp's sampler chain.
        collect(w, command(sampling=p.SamplingSettings(max_tokens=n, temperature=0.0, repeat_penalty=rp,
                                                       ignore_eos=True)))
        for rp in (1.0, 1.05)
    ]
    for rec in runs:
        assert rec.finished.stop_reason == p.STOP_MAX_TOKENS
        assert rec.finished.n_generated == len(rec.tokens) == n
    greedy_ids = [t.token_id for t in runs[0].tokens]
    assert greedy_ids[: ended.finished.n_generated] == [t.token_id for t in ended.tokens]


def test_kv_cache_is_what_the_facts_predict(pair):
    """Demo models: llama (SmolLM2) and gemma3, whose sliding-window pattern is llama.cpp's
    built-in default (every 6th layer full) since the file does not carry one."""
    for loaded in pair.loaded:
        (cpu,) = loaded.placement.memory
        estimate = loaded.facts.memory_at(loaded.n_ctx)
        assert cpu.kv_cache == estimate.kv_cache > 0
        assert cpu.recurrent_state == estimate.recurrent_state == 0
        assert cpu.weights >= loaded.facts.file_size * 0.9 and cpu.compute > 0
    smol, gemma = (ld.facts.memory_at(2048) for ld in pair.loaded)
    assert smol.kv_cache_swa == 0 and gemma.kv_cache_swa > 0


def test_a_reply_shorter_than_the_samplers_tick_has_memory_at_its_start_and_end(demo_paths):
    """4 tokens end before a sampler's first tick (here a minute): the run's start and end are read anyway."""
    from gemmacompare.engine.memory import MemorySampler

    sampler = MemorySampler(interval=60.0).start()
    sampler.pause()  # as the window keeps it between replies
    try:
        with CompareSession(("smol",), sampler=sampler) as s:
            assert s.load([str(demo_paths["smollm2"])], p.LoadSettings(n_ctx=512)) == [None]
            for _ in range(2):  # the first reply after loading too
                result = s.run(lambda i: command(i, p.SamplingSettings(max_tokens=4, temperature=0.0)),
                               mode=RACE, threads_total=2)
                run = result.runs[0]
                assert run.error is None and run.stats().n_tokens <= 4
                samples = run.memory.samples
                assert len(samples) >= 2, samples
                assert samples[0].t <= run.tokens[0].t and samples[-1].t >= run.tokens[-1].t
                assert [x.t for x in samples] == sorted(x.t for x in samples)
                assert all(x.rss > 50e6 for x in samples) and run.stats().peak_rss > 50e6
    finally:
        sampler.stop()
