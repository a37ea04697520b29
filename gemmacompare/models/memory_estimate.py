"""Memory a model will take at a chosen context, from its GGUF facts alone.

The same arithmetic llama.cpp does when it creates a context (vendored 0c1e570):

- KV cache (llama-kv-cache.cpp): for every layer that keeps its own KV, K and V
  rows of n_head_kv * head size per cell. The context is padded to 256 cells
  (llama-context.cpp). Gemma's sliding-window layers get a cache of their own
  (llama-kv-cache-iswa.cpp): the full context when `swa_full` is set (the C API's
  default, so llama-cpp-python's), else pad256(min(n_ctx, window + n_ubatch)) cells
  (llama.cpp's own tools: llama-server and the CLI through common's default,
  llama-bench explicitly; and this app unless the user sets swa_full). Gemma 4's last `shared_kv_layers` layers
  reuse earlier layers' KV and keep none.
- Recurrent state (llama-memory-recurrent.cpp, Qwen3.5's Gated DeltaNet layers):
  per layer and sequence, a conv state of (d_conv - 1) * (d_inner + 2 * n_group
  * d_state) and an SSM state of d_state * d_inner, both f32, whatever the context.
- Weights: the tensor data in the file, which llama.cpp maps as it is.

Compute buffers depend on the backend's graph planning and are only known after
loading (llama.cpp prints them; the worker reads them into Placement).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Callable

from gemmacompare.state import settings_table

log = logging.getLogger(__name__)

SWA_FULL_DEFAULT: bool = settings_table.get("swa_full").default  # as the worker loads a model unless told

# Bytes per element of each KV cache type (ggml block size / elements per block).
KV_TYPE_BYTES: dict[str, float] = {
    "f32": 4.0, "f16": 2.0, "bf16": 2.0, "q8_0": 34 / 32, "q5_1": 24 / 32, "q5_0": 22 / 32,
    "q4_1": 20 / 32, "q4_0": 18 / 32, "iq4_nl": 18 / 32,
}
_PAD = 256  # llama.cpp pads the context and the SWA cache to 256 cells
DEFAULT_N_UBATCH = 512  # llama.cpp's default micro-batch, part of the SWA cache's size

# Architectures whose sliding-window pattern is fixed in llama.cpp when the file has
# none (load_swa_pattern's default period): every n-th layer is full attention.
_DEFAULT_SWA_PERIOD = {"gemma3": 6, "gemma2": 2, "cohere2": 4}

# A file from a stranger may declare any count; the shape holds per-layer lists, so a count
# beyond any real model (the largest have ~130 layers) gets no estimate rather than a huge list.
MAX_LAYERS = 4096


def memory_shape(arch: str, value: Callable[[str], Any]) -> dict[str, Any]:
    """The hyperparameters the estimate needs, from GGUF keys; JSON-safe (kept in the facts cache).

    Empty when the file lacks the basics (block count, heads); `value(key)` reads one GGUF key.
    """

    def num(key: str) -> int | None:
        v = value(f"{arch}.{key}")
        return int(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None

    n_layer, n_embd, n_head = num("block_count"), num("embedding_length"), num("attention.head_count")
    if not n_layer or not n_embd or not n_head or not 0 < n_layer <= MAX_LAYERS or n_embd < 0 or n_head < 0:
        log.debug("no memory estimate: block_count %s, embedding_length %s, head_count %s", n_layer, n_embd, n_head)
        return {}
    kv = value(f"{arch}.attention.head_count_kv")
    if isinstance(kv, list) and len(kv) == n_layer:
        heads_kv = [int(x) for x in kv]
    else:
        heads_kv = [int(kv) if isinstance(kv, int) else n_head] * n_layer
    head = n_embd // n_head
    k_len, v_len = num("attention.key_length") or head, num("attention.value_length") or head
    window = num("attention.sliding_window") or 0
    pattern = value(f"{arch}.attention.sliding_window_pattern")
    if isinstance(pattern, list) and len(pattern) == n_layer:
        swa = [bool(x) for x in pattern]
    elif window and arch in _DEFAULT_SWA_PERIOD:
        period = _DEFAULT_SWA_PERIOD[arch]
        swa = [(i + 1) % period != 0 for i in range(n_layer)]
    else:
        swa = [False] * n_layer
    interval = num("full_attention_interval")
    d_state = num("ssm.state_size")
    recurrent = [(i + 1) % interval != 0 for i in range(n_layer)] if d_state and interval else [False] * n_layer
    return {
        "n_layer": n_layer,
        "heads_kv": heads_kv,
        "k_len": k_len, "v_len": v_len,
        "k_len_swa": num("attention.key_length_swa") or k_len,
        "v_len_swa": num("attention.value_length_swa") or v_len,
        "window": window,
        "swa": swa,
        "shared_kv_layers": num("attention.shared_kv_layers") or 0,
        "recurrent": recurrent,
        "d_conv": num("ssm.conv_kernel") or 0,
        "d_inner": num("ssm.inner_size") or 0,
        "d_state": d_state or 0,
        "n_group": num("ssm.group_count") or 0,
    }


@dataclass(frozen=True)
class MemoryEstimate:
    """Bytes llama.cpp will allocate for one sequence at `n_ctx` (compute buffers not included)."""

    n_ctx: int  # as asked
    cells: int  # the full-attention cache's size, padded as llama.cpp pads it
    weights: int
    kv_cache: int  # all KV caches: full-attention and sliding-window layers
    kv_cache_swa: int  # the sliding-window layers' share of kv_cache
    recurrent_state: int
    kv_bytes_per_token: float  # what each further token of context adds

    @property
    def total(self) -> int:
        return self.weights + self.kv_cache + self.recurrent_state


def _pad(n: int) -> int:
    return -(-n // _PAD) * _PAD


def estimate_memory(
    shape: dict[str, Any], weights: int, n_ctx: int, *, type_k: str = "f16", type_v: str = "f16",
    swa_full: bool = SWA_FULL_DEFAULT, n_ubatch: int = DEFAULT_N_UBATCH,
) -> MemoryEstimate | None:
    """llama.cpp's allocation at n_ctx for a model of this shape; None without a shape.

    swa_full=False (the setting's default) is llama.cpp's own tools' (llama-server, llama-bench) and this
    app's: a window-sized cache for sliding layers; True is the C API's default, a full-size one.
    """
    if not shape:
        return None
    cells = _pad(n_ctx)
    swa_cells = cells if swa_full else min(cells, _pad(min(cells, shape["window"] + n_ubatch)))
    kb, vb = KV_TYPE_BYTES[type_k], KV_TYPE_BYTES[type_v]
    own_kv = shape["n_layer"] - shape["shared_kv_layers"]
    full_row = swa_row = 0.0
    for il in range(shape["n_layer"]):
        if il >= own_kv or shape["recurrent"][il]:
            continue
        h = shape["heads_kv"][il]
        if shape["swa"][il]:
            swa_row += h * (shape["k_len_swa"] * kb + shape["v_len_swa"] * vb)
        else:
            full_row += h * (shape["k_len"] * kb + shape["v_len"] * vb)
    n_recurrent = sum(shape["recurrent"])
    conv = max(shape["d_conv"] - 1, 0) * (shape["d_inner"] + 2 * shape["n_group"] * shape["d_state"])
    state = shape["d_state"] * shape["d_inner"]
    kv_swa = int(swa_row * swa_cells)
    return MemoryEstimate(
        n_ctx=n_ctx,
        cells=cells,
        weights=weights,
        kv_cache=int(full_row * cells) + kv_swa,
        kv_cache_swa=kv_swa,
        recurrent_state=n_recurrent * (conv + state) * 4,
        kv_bytes_per_token=full_row + (swa_row if swa_full else 0.0),
    )
