"""A llama.cpp model and context, made with llama.cpp's own defaults.

The worker talks to llama.cpp's C API directly. Loading goes the same way rather
than through `llama_cpp.Llama`: that class replaces llama.cpp's defaults with its
own (flash attention off, n_batch 512), which made every model slower than
llama.cpp's tools and some more than others, and it compiles the chat template at
load time, so a broken template stopped the model from loading at all. Here we
start from `llama_context_default_params()` and change only what the user set.
Imported in the worker process only.
"""

from __future__ import annotations

from dataclasses import dataclass

import llama_cpp as L

from gemmacompare.engine.protocol import LoadSettings
from gemmacompare.state.settings_table import FLASH_ATTN_CHOICES, KV_CACHE_TYPES

_FLASH_ATTN = {
    "auto": L.LLAMA_FLASH_ATTN_TYPE_AUTO,
    "on": L.LLAMA_FLASH_ATTN_TYPE_ENABLED,
    "off": L.LLAMA_FLASH_ATTN_TYPE_DISABLED,
}
# ggml_type ids (a stable part of ggml's ABI) of the KV cache types offered.
_GGML_TYPE = {"f32": 0, "f16": 1, "q4_0": 2, "q4_1": 3, "q5_0": 6, "q5_1": 7, "q8_0": 8, "iq4_nl": 20, "bf16": 30}
assert set(_FLASH_ATTN) == set(FLASH_ATTN_CHOICES) and set(_GGML_TYPE) == set(KV_CACHE_TYPES)


class LoadError(Exception):
    """llama.cpp refused the model or the context; `what` says which."""

    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what  # "model" | "context"


@dataclass
class LlamaContext:
    # llama.cpp pointers, as ctypes returns a c_void_p result: an int (None once freed).
    model: int | None
    ctx: int | None
    vocab: int
    n_batch: int
    flash_attn: str
    type_k: str
    type_v: str
    swa_full: bool
    warmup_tokens: int = 0  # tokens decoded by the warm-up at load (warm_up)

    def tokenize(self, text: str, add_special: bool) -> list[int]:
        data = text.encode("utf-8")
        cap = len(data) + 8
        buf = (L.llama_token * cap)()
        n = L.llama_tokenize(self.vocab, data, len(data), buf, cap, add_special, True)
        if n < 0:  # more tokens than bytes cannot happen, but llama.cpp says how many it needs
            cap = -n
            buf = (L.llama_token * cap)()
            n = L.llama_tokenize(self.vocab, data, len(data), buf, cap, add_special, True)
        return list(buf[:n])

    def token_text(self, token: int) -> str:
        if token < 0:
            return ""
        return (L.llama_vocab_get_text(self.vocab, token) or b"").decode("utf-8", errors="replace")

    @property
    def bos(self) -> int:
        return int(L.llama_vocab_bos(self.vocab))

    @property
    def eos(self) -> int:
        return int(L.llama_vocab_eos(self.vocab))

    def close(self) -> None:
        if self.ctx:
            L.llama_free(self.ctx)
            self.ctx = None
        if self.model:
            L.llama_model_free(self.model)
            self.model = None


def context_params(s: LoadSettings, n_ctx: int, n_threads: int) -> object:
    """llama.cpp's default context parameters with only what the user set changed."""
    cparams = L.llama_context_default_params()
    cparams.n_ctx = n_ctx
    # llama.cpp's n_batch default (2048) and n_ubatch (512) unless the user set one.
    if s.n_batch > 0:
        cparams.n_batch = s.n_batch
        cparams.n_ubatch = min(cparams.n_ubatch, s.n_batch)
    cparams.n_batch = min(cparams.n_batch, n_ctx)
    cparams.n_ubatch = min(cparams.n_ubatch, cparams.n_batch)
    cparams.n_threads = n_threads
    cparams.n_threads_batch = n_threads
    cparams.flash_attn_type = _FLASH_ATTN[s.flash_attn]
    cparams.type_k = _GGML_TYPE[s.type_k]
    cparams.type_v = _GGML_TYPE[s.type_v]
    # The C API's default is a full-size cache for sliding-window layers; llama.cpp's tools
    # (and this app, unless the user asks) size it to the window.
    cparams.swa_full = s.swa_full
    cparams.no_perf = False  # llama_perf_context gives llama.cpp's own counters
    return cparams


def new_context(model: int, s: LoadSettings, n_ctx: int, n_threads: int) -> int | None:
    """Another context on a loaded model, made as open_context makes its own (None: llama.cpp refused);
    the context sweep sizes one per depth to read llama.cpp's account of it. Free it with llama_free."""
    ctx: int | None = L.llama_init_from_model(model, context_params(s, n_ctx, n_threads))
    return ctx or None


def open_context(path: str, s: LoadSettings, n_ctx: int, n_threads: int, n_gpu_layers: int) -> LlamaContext:
    """Backends must be loaded first (llama_runtime.load_backends)."""
    mparams = L.llama_model_default_params()
    mparams.n_gpu_layers = n_gpu_layers if n_gpu_layers >= 0 else 0x7FFFFFFF  # -1: all layers
    model = L.llama_model_load_from_file(path.encode("utf-8"), mparams)
    if not model:
        raise LoadError("model")
    ctx = L.llama_init_from_model(model, context_params(s, n_ctx, n_threads))
    if not ctx:
        L.llama_model_free(model)
        raise LoadError("context")
    llm = LlamaContext(
        model=model,
        ctx=ctx,
        vocab=L.llama_model_get_vocab(model),
        n_batch=L.llama_n_batch(ctx),
        flash_attn=s.flash_attn,
        type_k=s.type_k,
        type_v=s.type_v,
        swa_full=s.swa_full,
    )
    llm.warmup_tokens = warm_up(llm)
    return llm


def warm_up(llm: LlamaContext) -> int:
    """llama.cpp's tools' warm-up at load (common_init_from_params; llama-bench runs its own): one
    decode of BOS and EOS, then the memory cleared and the counters reset. Without it the first
    request after a load paid the first pass over the weights and the first graph's allocations,
    which llama-server and llama-bench have paid before they time anything. Returns the tokens decoded."""
    tokens = [t for t in (llm.bos, llm.eos) if t >= 0] or [0]
    tokens = tokens[: max(1, llm.n_batch)]
    arr = (L.llama_token * len(tokens))(*tokens)
    L.llama_decode(llm.ctx, L.llama_batch_get_one(arr, len(tokens)))
    L.llama_memory_clear(L.llama_get_memory(llm.ctx), True)
    L.llama_synchronize(llm.ctx)
    L.llama_perf_context_reset(llm.ctx)
    return len(tokens)
