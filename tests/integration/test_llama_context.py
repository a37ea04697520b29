"""The worker's llama.cpp context (engine/local/llama_context.py) against llama.cpp's tools' parameters
(issue 32: our engine beside llama-bench): what it sets, and the warm-up at load."""

from __future__ import annotations

import llama_cpp as L  # noqa: N812 - its C API as its own examples call it
import pytest

from gemmacompare.engine import protocol as p
from gemmacompare.engine.local.llama_context import context_params, open_context
from gemmacompare.engine.local.llama_runtime import load_backends


def test_context_parameters_are_llama_benchs():
    """llama-bench's to_llama_cparams: n_batch 2048 and n_ubatch 512 (n_batch clamped to n_ctx by llama.cpp
    for causal models), f16 KV, flash attention auto, window-sized SWA cache, one sequence, KV not
    unified, ops offloaded; threads for decode and batch alike."""
    c = context_params(p.LoadSettings(), 8192, 2)
    assert (c.n_ctx, c.n_batch, c.n_ubatch) == (8192, 2048, 512)
    assert (c.n_seq_max, c.kv_unified, c.swa_full, c.op_offload, c.offload_kqv) == (1, False, False, True, True)
    assert c.n_rs_seq == 0 and c.n_outputs_max == 0  # no recurrent-state snapshots; outputs up to n_batch
    assert (c.type_k, c.type_v, c.flash_attn_type) == (1, 1, L.LLAMA_FLASH_ATTN_TYPE_AUTO)
    assert (c.n_threads, c.n_threads_batch) == (2, 2)
    small = context_params(p.LoadSettings(), 300, 2)
    assert (small.n_batch, small.n_ubatch) == (300, 300)  # what llama.cpp itself makes of 2048 at n_ctx 300


def test_a_load_warms_up_as_llama_cpps_tools_do(demo_paths):
    load_backends()
    llm = open_context(str(demo_paths["smollm2"]), p.LoadSettings(), 256, 1, 0)
    try:
        assert llm.warmup_tokens == 2  # BOS and EOS, as common_init_from_params decodes them
        assert L.llama_memory_seq_pos_max(L.llama_get_memory(llm.ctx), 0) == -1  # nothing of it is left
        perf = L.llama_perf_context(llm.ctx)
        assert perf.t_p_eval_ms == 0 and perf.t_eval_ms == 0  # nor in llama.cpp's counters (counts read max(1, n))
    finally:
        llm.close()


@pytest.mark.parametrize("n_ctx", [256, 1000])
def test_the_context_holds_what_was_asked_padded_to_256(demo_paths, n_ctx):
    load_backends()
    llm = open_context(str(demo_paths["smollm2"]), p.LoadSettings(), n_ctx, 1, 0)
    try:
        assert L.llama_n_ctx(llm.ctx) == -(-n_ctx // 256) * 256
    finally:
        llm.close()
