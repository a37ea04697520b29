"""Speculative decoding in the worker (engine/local/speculative.py) on the real demo models."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from gemmacompare.engine import protocol as p
from gemmacompare.engine.local.child import _Worker
from gemmacompare.engine.local.model_worker import ModelWorker
from gemmacompare.engine.metrics import RunRecord
from gemmacompare.models.synthetic import build

PARAGRAPH = ("The lighthouse stood on a rock at the edge of the bay. Every night its keeper climbed the spiral "
             "stairs, trimmed the wick and watched the lamp turn until morning.")
REPEAT = (p.ChatMessage("user", "Repeat this paragraph exactly:\n\n" + PARAGRAPH),)
QUESTION = (p.ChatMessage("user", "Name three primary colours."),)
FIRST = 8  # tokens that must agree with the plain run (never bit-exact across batch shapes)


def generate(worker: ModelWorker, messages: tuple[p.ChatMessage, ...], max_tokens: int = 40,
             **sampling: object) -> RunRecord:
    rec = RunRecord(worker.label, time.monotonic())
    cmd = p.GenerateCommand(1, messages=messages, sampling=p.SamplingSettings(max_tokens=max_tokens, **sampling),
                            n_threads=1)
    for ev in worker.generate(cmd):
        rec.add(ev)
    return rec


def token_ids(rec: RunRecord) -> list[int]:
    return [t.token_id for t in rec.tokens]


@pytest.fixture(scope="module")
def plain(demo_paths):
    w = ModelWorker("plain")
    w.load(str(demo_paths["smollm2"]), p.LoadSettings(n_ctx=1024))
    yield w
    w.close()


def load(path: Path, **settings: object) -> ModelWorker:
    w = ModelWorker("spec")
    try:
        w.load(str(path), p.LoadSettings(n_ctx=1024, **settings))  # type: ignore[arg-type]
    except p.WorkerFailed:
        w.close()
        raise
    return w


def test_target_as_its_own_draft_accepts_every_draft(demo_paths, plain):
    smol = demo_paths["smollm2"]
    w = load(smol, speculation="draft", draft_model=str(smol))
    try:
        rec = generate(w, QUESTION)
    finally:
        w.close()
    d = rec.finished.draft
    assert d is not None and d.kind == "draft"
    assert d.n_drafted > 0 and d.n_accepted == d.n_drafted  # the same model agrees with itself
    assert d.drafted_at == d.accepted_at and len(d.drafted_at) == 3  # llama.cpp's n_max default
    assert d.draft_ms > 0 and d.verify_ms > 0
    assert token_ids(rec)[:FIRST] == token_ids(generate(plain, QUESTION))[:FIRST]
    assert len(d.accepted_tokens) > 0 and max(d.accepted_tokens) < len(rec.tokens)


def test_ngram_lookup_accepts_a_repeated_paragraph(demo_paths, plain):
    w = load(demo_paths["smollm2"], speculation="ngram", ngram_n=3, draft_max=8)
    try:
        rec = generate(w, REPEAT, max_tokens=48)
        again = generate(w, REPEAT, max_tokens=48)  # the worker stays usable, and its answer the same
    finally:
        w.close()
    d = rec.finished.draft
    assert d is not None and d.kind == "ngram"
    assert d.n_accepted > 0 and d.acceptance is not None and d.acceptance > 0
    assert d.mean_accepted is not None and d.mean_accepted > 0
    assert token_ids(rec)[:FIRST] == token_ids(generate(plain, REPEAT, max_tokens=48))[:FIRST]
    assert token_ids(again)[:FIRST] == token_ids(rec)[:FIRST]
    assert sum(d.accepted_at) == d.n_accepted and sum(d.drafted_at) == d.n_drafted


def test_a_draft_with_another_vocabulary_is_refused_in_one_sentence(demo_paths):
    with pytest.raises(p.WorkerFailed) as err:
        load(demo_paths["smollm2"], speculation="draft", draft_model=str(demo_paths["gemma3"]))
    msg = err.value.error.message
    assert "cannot draft for" in msg and "vocabular" in msg and msg.count(". ") == 0


@pytest.mark.parametrize("bad, words", [
    ({"speculation": "draft", "draft_model": "/nonexistent/draft.gguf"}, "draft model cannot be used"),
    ({"speculation": "draft"}, "needs the draft model's file"),
    ({"speculation": "ngram", "draft_max": 2, "draft_min": 3}, "least draft length"),
])
def test_bad_speculation_settings_are_one_sentence(demo_paths, bad, words):
    with pytest.raises(p.WorkerFailed) as err:
        load(demo_paths["smollm2"], **bad)
    assert words in err.value.error.message


def test_sampling_with_temperature_is_refused_and_the_worker_stays(demo_paths):
    w = load(demo_paths["smollm2"], speculation="ngram")
    try:
        rec = generate(w, QUESTION, temperature=0.7)
        assert rec.error is not None and "greedy sampling only" in rec.error.message
        assert generate(w, QUESTION, max_tokens=4).finished is not None
    finally:
        w.close()


def test_window_sized_sliding_window_cache_is_refused_full_size_runs(demo_paths):
    with pytest.raises(p.WorkerFailed) as err:
        load(demo_paths["gemma3"], speculation="ngram")
    assert "full-size sliding-window cache" in err.value.error.message
    w = load(demo_paths["gemma3"], speculation="ngram", swa_full=True)
    try:
        assert generate(w, QUESTION, max_tokens=8).finished.draft is not None
    finally:
        w.close()


def test_recurrent_model_is_refused(tmp_path):
    qwen = build("qwen35-tiny", tmp_path / "qwen35-tiny.gguf").path
    with pytest.raises(p.WorkerFailed) as err:
        load(qwen, speculation="ngram")
    assert "recurrent layers" in err.value.error.message


# --- stop: in the worker's own code, in this process, with a flag that rises in one phase ---

class _Conn:
    def __init__(self) -> None:
        self.events: list[object] = []

    def send(self, ev: object) -> None:
        self.events.append(ev)


class _StopIn:
    """The shared stop flag, raised the first time it is read in `phase` after `after` rounds."""

    def __init__(self, phase: str, after: int = 2) -> None:
        self.phase, self.after = phase, after
        self.worker: _Worker | None = None
        self.rounds = 0
        self.raised = False
        self._seen = ""

    @property
    def value(self) -> int:
        spec = self.worker.spec if self.worker else None
        now = spec.phase if spec else ""
        if now == self.phase and self._seen != now:
            self.rounds += 1
        self._seen = now
        if not self.raised and now == self.phase and self.rounds > self.after:
            self.raised = True
        return int(self.raised)


def _in_process(path: Path, flag: _StopIn, **settings: object) -> tuple[_Worker, _Conn]:
    conn = _Conn()
    w = _Worker(conn, flag)  # type: ignore[arg-type]
    flag.worker = w
    w._load(p.LoadCommand(str(path), p.LoadSettings(n_ctx=1024, **settings)))  # type: ignore[arg-type]
    assert isinstance(conn.events[-1], p.Loaded), conn.events[-1]
    return w, conn


def _run(w: _Worker, conn: _Conn) -> tuple[list[p.Token], p.Finished]:
    conn.events.clear()
    w._generate_safely(p.GenerateCommand(2, messages=REPEAT, sampling=p.SamplingSettings(max_tokens=48), n_threads=1))
    toks = [t for e in conn.events if isinstance(e, p.TokenBatch) for t in e.tokens()]
    fin = conn.events[-1]
    assert isinstance(fin, p.Finished), fin
    return toks, fin


@pytest.mark.parametrize("phase", ["draft", "verify"])
@pytest.mark.parametrize("kind", ["draft", "ngram"])
def test_stop_during_a_draft_or_its_verification_ends_cleanly(demo_paths, phase, kind):
    smol = demo_paths["smollm2"]
    flag = _StopIn(phase)
    settings = {"speculation": kind, "draft_model": str(smol)} if kind == "draft" else \
        {"speculation": kind, "ngram_n": 3, "draft_max": 8}
    w, conn = _in_process(smol, flag, **settings)
    try:
        toks, fin = _run(w, conn)
        assert flag.raised and fin.stop_reason == p.STOP_USER
        assert 0 < len(toks) == fin.n_generated < 48
        assert fin.draft is not None and fin.draft.n_rounds + fin.draft.n_plain <= flag.after + 1
        # The caches were left whole: the next request runs to its end and starts as the first did.
        flag.raised, flag.after, flag.rounds = False, 10_000, 0
        full, fin2 = _run(w, conn)
        assert fin2.stop_reason != p.STOP_USER and len(full) > len(toks)
        assert [t.token_id for t in full][:len(toks)][:FIRST] == [t.token_id for t in toks][:FIRST]
    finally:
        if w.spec is not None:
            w.spec.close()
        if w.llm is not None:
            w.llm.close()


def test_a_kept_conversation_cache_stays_right_after_speculation(demo_paths, plain):
    """The worker's account of its cache (issue 31's keep policy) holds what speculation left in it:
    the next turn reuses the first and answers as a cold plain run does."""
    w = load(demo_paths["smollm2"], speculation="ngram", ngram_n=3, draft_max=8)
    try:
        first = p.GenerateCommand(1, messages=REPEAT, sampling=p.SamplingSettings(max_tokens=40), n_threads=1,
                                  cache=p.CACHE_KEEP)
        rec = RunRecord("spec", time.monotonic())
        for ev in w.generate(first):
            rec.add(ev)
        assert rec.finished.draft is not None and rec.finished.draft.n_accepted > 0
        turn2 = (*REPEAT, p.ChatMessage("assistant", rec.answer), p.ChatMessage("user", "Now say it shorter."))
        kept = RunRecord("spec", time.monotonic())
        for ev in w.generate(p.GenerateCommand(2, messages=turn2, sampling=p.SamplingSettings(max_tokens=16),
                                               n_threads=1, cache=p.CACHE_KEEP)):
            kept.add(ev)
    finally:
        w.close()
    assert kept.finished.cache is not None and kept.finished.cache.n_reused > 0
    cold = generate(plain, turn2, max_tokens=16)
    assert token_ids(kept)[:FIRST] == token_ids(cold)[:FIRST]


def test_a_different_model_with_the_same_vocabulary_drafts(tmp_path_factory):
    """Two synthetic Gemma-4 files share their vocabulary but not their weights: every draft is
    checked and counted, and the reply is the target's own (a sliding-window model, so swa_full)."""
    folder = tmp_path_factory.mktemp("same-vocab")
    target = build("gemma4-tiny", folder / "target.gguf").path
    draft = build("gemma4-tiny", folder / "draft.gguf", "Q8_0", scripted=True).path
    runs = {}
    for name, extra in (("plain", {}), ("draft", {"speculation": "draft", "draft_model": str(draft)})):
        w = load(target, swa_full=True, **extra)
        try:
            runs[name] = generate(w, QUESTION, max_tokens=24)
        finally:
            w.close()
    d = runs["draft"].finished.draft
    assert d is not None and d.n_drafted > 0 and 0 <= d.n_accepted <= d.n_drafted
    assert d.n_rounds > 0 and sum(d.drafted_at) == d.n_drafted and sum(d.accepted_at) == d.n_accepted
    assert token_ids(runs["draft"])[:FIRST] == token_ids(runs["plain"])[:FIRST]


def test_a_draft_longer_than_the_batch_is_cut_to_it(demo_paths):
    """n_batch 16 with drafts of up to 64: each verification batch stays within n_batch."""
    w = load(demo_paths["smollm2"], speculation="ngram", ngram_n=3, draft_max=64, n_batch=16)
    try:
        rec = generate(w, REPEAT, max_tokens=48)
    finally:
        w.close()
    d = rec.finished.draft
    assert rec.error is None and d is not None and d.n_accepted > 0
    assert all(n == 0 for n in d.drafted_at[15:])


def test_stop_from_the_app_ends_a_speculating_worker_and_it_stays_usable(demo_paths):
    smol = demo_paths["smollm2"]
    w = load(smol, speculation="draft", draft_model=str(smol))
    try:
        cmd = p.GenerateCommand(3, raw_prompt="Once upon a time", sampling=p.SamplingSettings(max_tokens=5000),
                                n_threads=1)
        rec = RunRecord("spec", time.monotonic())
        stopped = False
        for ev in w.generate(cmd):
            rec.add(ev)
            if len(rec.tokens) >= 3 and not stopped:
                w.stop()
                stopped = True
        assert rec.finished.stop_reason == p.STOP_USER and 3 <= len(rec.tokens) < 200
        assert rec.finished.draft is not None
        assert generate(w, QUESTION, max_tokens=8).finished.stop_reason != p.STOP_USER
    finally:
        w.close()


def test_llama_cpps_prompt_figure_is_the_prompt_and_its_eval_is_no_speed_when_speculating(demo_paths, plain):
    """llama.cpp counts every multi-token decode as prompt eval: the verification batches would
    join the prompt's figure, and its eval counts only the rounds without a draft."""
    smol = demo_paths["smollm2"]
    w = load(smol, speculation="draft", draft_model=str(smol))
    try:
        rec = generate(w, QUESTION)
    finally:
        w.close()
    fin = rec.finished
    assert fin.draft is not None and fin.draft.n_rounds > 0
    assert fin.perf is not None and fin.perf.n_p_eval == fin.n_prompt  # not the verified drafts too
    assert rec.stats().llama_eval_tps is None and rec.stats().llama_prompt_tps is not None
    base = generate(plain, QUESTION)
    assert base.finished.perf.n_p_eval == base.finished.n_prompt and base.stats().llama_eval_tps is not None


def test_the_draft_models_memory_is_in_the_account(demo_paths, plain):
    """The draft's weights, cache and compute buffers are llama.cpp's too: one "draft model" part,
    as large as the model itself where the model is its own draft (the same file and context)."""
    smol = demo_paths["smollm2"]
    w = load(smol, speculation="draft", draft_model=str(smol))
    try:
        with_draft = w.loaded.placement
    finally:
        w.close()
    alone = plain.loaded.placement
    total = sum(a.total for a in with_draft.memory)
    assert total > sum(a.total for a in alone.memory)
    draft = sum(a.draft_model for a in with_draft.memory)
    assert draft == sum(a.total for a in alone.memory)
    assert any(line.count("draft model") == 1 for line in with_draft.memory_lines())
    assert not any("draft model" in line for line in alone.memory_lines())


def _shown_and_counted(rec: RunRecord) -> None:
    d = rec.finished.draft
    assert d is not None and d.n_rounds > 0
    assert d.n_accepted == len(d.accepted_tokens) <= len(rec.tokens) == rec.finished.n_generated
    assert max(d.accepted_tokens) < len(rec.tokens)
    assert sum(d.accepted_at) == d.n_accepted and sum(d.drafted_at) == d.n_drafted


@pytest.mark.parametrize("ending", ["eos", "stop_string"])
def test_acceptance_counts_only_the_draft_tokens_shown(demo_paths, plain, ending):
    """A reply that ends inside an accepted draft (its end token, a stop string) counts the tokens
    it showed, the same ones the tint marks; the draft beyond the end is not counted. The model is
    its own draft, so every draft is accepted up to the end; two draft lengths (rounds of 5 and 7
    tokens), so that the end falls inside a draft in at least one of them."""
    smol = demo_paths["smollm2"]
    base = generate(plain, QUESTION, max_tokens=200)
    assert base.finished.stop_reason == p.STOP_EOS and len(base.tokens) > 12  # the demo answers and ends
    stop = {}
    if ending == "stop_string":  # a few characters a third of the way in
        stop = {"stop": (base.answer[len(base.answer) // 3:][:8],)}
    for n in (4, 6):
        w = load(smol, speculation="draft", draft_model=str(smol), draft_max=n)
        try:
            rec = generate(w, QUESTION, max_tokens=200, **stop)
        finally:
            w.close()
        assert rec.finished.stop_reason == (p.STOP_EOS if ending == "eos" else p.STOP_STRING)
        _shown_and_counted(rec)


def test_speculation_ending_on_its_end_token_holds_what_the_plain_loop_holds(demo_paths):
    """After an end token the plain loop's cache holds the prompt and every token shown (each was
    decoded before the model picked the end); a speculating worker's holds the same."""
    import llama_cpp

    smol = demo_paths["smollm2"]
    held = {}
    for kind, settings in (("plain", {}), ("draft", {"speculation": "draft", "draft_model": str(smol)})):
        flag = _StopIn("never")
        w, conn = _in_process(smol, flag, **settings)
        try:
            conn.events.clear()
            w._generate_safely(p.GenerateCommand(4, messages=QUESTION, sampling=p.SamplingSettings(max_tokens=200),
                                                 n_threads=1, cache=p.CACHE_KEEP))
            fin = conn.events[-1]
            assert isinstance(fin, p.Finished) and fin.stop_reason == p.STOP_EOS, fin
            assert len(w.cache.tokens) == fin.n_prompt + fin.n_generated
            pos_max = llama_cpp.llama_memory_seq_pos_max(llama_cpp.llama_get_memory(w.llm.ctx), 0)
            held[kind] = (len(w.cache.tokens), pos_max + 1)
        finally:
            if w.spec is not None:
                w.spec.close()
            if w.llm is not None:
                w.llm.close()
    assert held["draft"][0] == held["draft"][1]  # the account is what the memory holds
    assert held["plain"][0] == held["plain"][1]
