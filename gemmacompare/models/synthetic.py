"""Synthetic GGUF files of the seed architectures (and Llama 3.2): real shapes, random weights.

A transformer's speed and memory do not depend on its weight values, so a file
with a model's published shapes, complete metadata, the real chat template and
random weights, quantised by llama.cpp's own quantiser, runs at that model's
speed. The file says what it is: `general.name` starts with "Synthetic" and
`gemmacompare.synthetic` is true.

Two kinds of weights:
- random (the default): for speed, memory, streaming and determinism. The rows
  of end-of-generation tokens in the output layer are zero, so greedy decoding
  never picks them and a run lasts as long as asked.
- scripted (tests only): every layer's contribution to the residual stream is
  zero, so the model is a bigram table written into the embeddings and the
  output layer. It says "<|channel>thought hmm<channel|> Paris Paris…" (Gemma 4)
  or " hmm</think> Paris…" (Qwen3.5) through the real templates, which lets the
  thinking split be tested with thinking on and off (Llama 3, with no thinking:
  " Paris Paris…").

The float file is written tensor by tensor (the 2.3B-entry per-layer embedding
table of Gemma-4-E2B never sits in memory whole), then quantised.
"""

from __future__ import annotations

import ctypes
import logging
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Callable

import numpy as np

from gemmacompare.models import synthetic_tensors as st
from gemmacompare.models.synthetic_presets import PRESETS, Gemma4Shape, LlamaShape, Qwen35Shape, SyntheticPreset
from gemmacompare.models.synthetic_vocab import GEMMA4_WORDS, QWEN35_WORDS, Vocab, build_vocab

if TYPE_CHECKING:  # gguf is imported only when a file is written
    from gguf import GGUFWriter

log = logging.getLogger(__name__)

SYNTHETIC_KEY = "gemmacompare.synthetic"
PRESET_KEY = "gemmacompare.synthetic_preset"
WEIGHTS_KEY = "gemmacompare.synthetic_weights"  # "random" | "scripted"

# Output types offered, by llama.cpp's ftype names (llama.h LLAMA_FTYPE_MOSTLY_*).
QUANT_TYPES = {"F16": 1, "Q8_0": 7, "Q4_0": 2, "Q4_K_M": 15, "Q5_K_M": 17, "Q6_K": 18}

_INIT_STD = 0.02  # the initializer_range of both configs
_TIED_EMBD_SCALE = 0.05
_BLOCK = 1 << 22  # elements generated at a time
_POOL = 1 << 23  # random values drawn once and reused from random offsets


@dataclass(frozen=True)
class BuildResult:
    path: Path
    preset: str
    quant_type: str
    parameters: int
    file_size: int
    write_seconds: float
    quantize_seconds: float


def resources_template(name: str) -> str:
    from gemmacompare.state.paths import resources_dir

    return (resources_dir() / "templates" / name).read_text(encoding="utf-8")


def build(
    preset_name: str,
    out: str | os.PathLike[str],
    quant_type: str = "Q4_K_M",
    scripted: bool = False,
    seed: int = 0,
    threads: int = 0,
) -> BuildResult:
    """Write the preset's file at `out`, quantised to `quant_type`."""
    preset = PRESETS[preset_name]
    if quant_type not in QUANT_TYPES:
        raise ValueError(f"unknown type {quant_type!r}; one of {', '.join(QUANT_TYPES)}")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    float_path = out if quant_type == "F16" else out.with_name(out.name + ".f16.tmp")
    t0 = time.monotonic()
    try:
        write_float_file(preset, float_path, scripted=scripted, seed=seed)
        t1 = time.monotonic()
        if quant_type != "F16":
            quantize(float_path, out, quant_type, threads)
    finally:
        if float_path != out:
            float_path.unlink(missing_ok=True)
    t2 = time.monotonic()
    return BuildResult(out, preset_name, quant_type, st.parameter_count(preset).total, out.stat().st_size,
                       t1 - t0, t2 - t1)


def quantize(src: Path, dst: Path, quant_type: str, threads: int = 0) -> None:
    """llama.cpp's own quantiser with its default parameters (llama-quantize does the same)."""
    import llama_cpp

    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = QUANT_TYPES[quant_type]
    params.nthread = threads
    rc = llama_cpp.llama_model_quantize(str(src).encode(), str(dst).encode(), ctypes.byref(params))
    if rc != 0:
        raise RuntimeError(f"llama_model_quantize returned {rc} for {src.name}")


# --- the float file ------------------------------------------------------------

def write_float_file(preset: SyntheticPreset, path: Path, scripted: bool = False, seed: int = 0) -> None:
    import gguf

    vocab = build_vocab(preset.family, preset.shape.n_vocab)
    plan = st.tensor_plan(preset, separate_output=scripted)
    writer = gguf.GGUFWriter(str(path), preset.family)
    _add_metadata(writer, preset, vocab, scripted)
    fill = _Filler(preset, vocab, plan, scripted, seed)
    for t in plan:
        dtype = np.float16 if fill.is_f16(t) else np.float32
        np_shape = tuple(reversed(t.shape))  # gguf-py takes numpy order and reverses it
        writer.add_tensor_info(t.name, np_shape, np.dtype(dtype), t.n_elements * np.dtype(dtype).itemsize)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    for t in plan:
        dtype = np.float16 if fill.is_f16(t) else np.float32
        writer.write_tensor_data(_Stream(t, dtype, fill.block_maker(t)))  # type: ignore[arg-type]
    writer.close()


class _Stream:
    """Quacks like the numpy array GGUFWriter.write_tensor_data expects (it
    reads .nbytes and calls .tofile), but produces the data block by block."""

    def __init__(self, spec: st.TensorSpec, dtype: type, make_block: Callable[[int, int], np.ndarray]) -> None:
        self.ncols = spec.shape[0]
        self.nrows = spec.n_elements // self.ncols
        self.dtype = np.dtype(dtype)
        self.nbytes = spec.n_elements * self.dtype.itemsize
        self._make_block = make_block

    def tofile(self, fout: BinaryIO) -> None:
        step = max(1, _BLOCK // self.ncols)
        for r0 in range(0, self.nrows, step):
            r1 = min(self.nrows, r0 + step)
            block = self._make_block(r0, r1)
            assert block.shape == (r1 - r0, self.ncols), (block.shape, r0, r1)
            fout.write(np.ascontiguousarray(block, dtype=self.dtype).tobytes())


class _Filler:
    def __init__(self, preset: SyntheticPreset, vocab: Vocab, plan: list[st.TensorSpec], scripted: bool,
                 seed: int) -> None:
        self.preset, self.vocab, self.scripted = preset, vocab, scripted
        self.rng = np.random.default_rng(seed)
        biggest = max(t.n_elements for t in plan)
        noise = self.rng.standard_normal(min(_POOL, biggest) + _BLOCK, dtype=np.float32)
        self.pool = (noise * _INIT_STD).astype(np.float16)
        self.tied = not any(t.role == st.OUTPUT for t in plan)
        self.script = _script(preset, vocab) if scripted else {}

    @staticmethod
    def is_f16(t: st.TensorSpec) -> bool:
        # 1-D tensors and the DeltaNet convolution stay F32, as the converter writes them.
        return len(t.shape) >= 2 and t.role != st.CONV

    def _random(self, n: int) -> np.ndarray:
        start = int(self.rng.integers(0, len(self.pool) - n + 1))
        return self.pool[start : start + n]

    def block_maker(self, t: st.TensorSpec) -> Callable[[int, int], np.ndarray]:
        ncols = t.shape[0]

        def random_rows(r0: int, r1: int) -> np.ndarray:
            return self._random((r1 - r0) * ncols).reshape(r1 - r0, ncols)

        if t.role == st.NORM:
            return lambda r0, r1: np.ones((r1 - r0, ncols), np.float32)
        if t.role == st.ROPE_FREQS:
            return lambda r0, r1: _rope_freqs(self.preset.shape)[None, :]
        if t.role == st.SSM_A:
            # llama.cpp stores A = -exp(A_log); HF initialises A in [1, 16).
            return lambda r0, r1: -self.rng.uniform(1.0, 16.0, (1, ncols)).astype(np.float32)
        if t.role == st.SSM_DT:
            # softplus^-1 of a time step in [0.001, 0.1], as HF's dt_bias init.
            def dt(r0: int, r1: int) -> np.ndarray:
                step = np.exp(self.rng.uniform(math.log(1e-3), math.log(1e-1), (1, ncols)))
                return (step + np.log(-np.expm1(-step))).astype(np.float32)

            return dt
        if t.role == st.CONV:
            return lambda r0, r1: random_rows(r0, r1).astype(np.float32)
        if self.scripted:
            return self._scripted_maker(t)
        if t.role == st.OUTPUT or (t.role == st.EMBD and self.tied):
            # An end-of-generation row of zeros gives logit 0 while the largest of
            # the random logits is positive: greedy runs never stop early.
            eog = np.array(sorted(self.vocab.eog))

            # Tied embeddings at the layers' scale make a random model repeat its last
            # token (its own row scores highest); smaller rows let the layers decide,
            # so the output depends on the context, as a trained model's does.
            scale = _TIED_EMBD_SCALE if t.role == st.EMBD else 1.0

            def no_eog(r0: int, r1: int) -> np.ndarray:
                block: np.ndarray = random_rows(r0, r1) * np.float16(scale)
                hit = eog[(eog >= r0) & (eog < r1)]
                block[hit - r0] = 0
                return block

            return no_eog
        return random_rows

    def _scripted_maker(self, t: st.TensorSpec) -> Callable[[int, int], np.ndarray]:
        ncols = t.shape[0]
        if t.role == st.RESIDUAL:
            return lambda r0, r1: np.zeros((r1 - r0, ncols), np.float16)
        if t.role not in (st.EMBD, st.OUTPUT):
            return lambda r0, r1: self._random((r1 - r0) * ncols).reshape(r1 - r0, ncols)
        # State k (a dimension of the residual stream) stands for "the last token was
        # source k"; dimension 0 for any other token. Each scripted token's output row
        # points at the states it follows.
        sources = list(self.script)
        dense = np.zeros((t.n_elements // ncols, ncols), np.float16)
        if t.role == st.EMBD:
            dense[:, 0] = 1.0
            for k, src in enumerate(sources, start=1):
                dense[src, 0] = 0.0
                dense[src, k] = 1.0
        else:
            default = self.script.get(-1)
            for k, src in enumerate(sources, start=1):
                if src >= 0:
                    dense[self.script[src], k] = 1.0
            if default is not None:
                dense[default, 0] = 1.0
        return lambda r0, r1: dense[r0:r1]


def _rope_freqs(shape: Gemma4Shape | Qwen35Shape | LlamaShape) -> np.ndarray:
    """conversion/gemma.py, Gemma4Model.generate_extra_tensors: 1 for the rotated
    pairs of a full-attention head, 1e30 (never rotated) for the rest."""
    if isinstance(shape, LlamaShape):
        return _llama3_rope_factors(shape)
    assert isinstance(shape, Gemma4Shape)
    half = shape.head_dim_full // 2
    n_rot = int(shape.head_dim_full * shape.partial_rotary_full / 2)
    return np.array([1.0] * n_rot + [1e30] * (half - n_rot), np.float32)


def _llama3_rope_factors(s: LlamaShape) -> np.ndarray:
    """conversion/llama.py, LlamaModel.generate_extra_tensors: Llama 3's rope_scaling as
    one factor per rotated pair (1 for short wavelengths, `factor` for long ones, a
    smooth blend between)."""
    freqs = 1.0 / (s.rope_theta ** (np.arange(0, s.head_dim, 2, dtype=np.float64) / s.head_dim))
    low_wavelen = s.rope_original_context / s.rope_low_freq_factor
    high_wavelen = s.rope_original_context / s.rope_high_freq_factor
    out = []
    for freq in freqs:
        wavelen = 2 * math.pi / freq
        if wavelen < high_wavelen:
            out.append(1.0)
        elif wavelen > low_wavelen:
            out.append(s.rope_factor)
        else:
            smooth = (s.rope_original_context / wavelen - s.rope_low_freq_factor) / (
                s.rope_high_freq_factor - s.rope_low_freq_factor)
            out.append(1 / ((1 - smooth) / s.rope_factor + smooth))
    return np.array(out, np.float32)


def _script(preset: SyntheticPreset, vocab: Vocab) -> dict[int, int]:
    """The bigram table of a scripted model: token id -> next token id; key -1 is
    what follows any other token."""
    if preset.family == "gemma4":
        thought, hmm, paris = GEMMA4_WORDS
        pairs = {"\n": "<|channel>", "<|channel>": thought, thought: hmm, hmm: "<channel|>", "<channel|>": paris}
    elif preset.family == "llama":
        _, paris = QWEN35_WORDS  # the same byte-level BPE words
        pairs = {"ĊĊ": paris}
    else:
        hmm, paris = QWEN35_WORDS
        pairs = {"Ċ": hmm, hmm: "</think>", "</think>": paris, "ĊĊ": paris}
    table = {vocab.id(a): vocab.id(b) for a, b in pairs.items()}
    table[-1] = vocab.id(paris)
    return table


def _add_metadata(writer: GGUFWriter, preset: SyntheticPreset, vocab: Vocab, scripted: bool) -> None:
    s = preset.shape
    writer.add_name(f"Synthetic {preset.title} ({'scripted' if scripted else 'random'} weights)")
    writer.add_description(
        "Random weights in the published shapes, written by gemmacompare for speed and memory "
        "measurements only; it is not the model and its answers mean nothing."
    )
    writer.add_type("model")
    writer.add_file_type(1)  # MOSTLY_F16 until quantised
    writer.add_bool(SYNTHETIC_KEY, True)
    writer.add_string(PRESET_KEY, preset.name)
    writer.add_string(WEIGHTS_KEY, "scripted" if scripted else "random")
    writer.add_context_length(s.context_length)
    writer.add_embedding_length(s.n_embd)
    writer.add_block_count(s.n_layer)
    writer.add_head_count(s.n_head)
    writer.add_head_count_kv(s.n_head_kv)
    writer.add_layer_norm_rms_eps(s.rms_eps)
    if isinstance(s, Gemma4Shape):
        _add_gemma4(writer, s)
    elif isinstance(s, LlamaShape):
        _add_llama(writer, s)
    else:
        _add_qwen35(writer, s)
    writer.add_tokenizer_model(vocab.model)
    if vocab.pre:
        writer.add_tokenizer_pre(vocab.pre)
    writer.add_token_list(vocab.tokens)
    writer.add_token_types(vocab.types)
    if vocab.model == "gemma4":
        writer.add_token_scores([0.0] * len(vocab.tokens))
        writer.add_add_space_prefix(False)
    writer.add_token_merges(vocab.merges)
    writer.add_bos_token_id(vocab.bos)
    writer.add_eos_token_id(vocab.eos)
    if vocab.pad is not None:
        writer.add_pad_token_id(vocab.pad)
    if vocab.unk is not None:
        writer.add_unk_token_id(vocab.unk)
    writer.add_add_bos_token(vocab.add_bos)
    writer.add_chat_template(resources_template(preset.template_file))


def _add_gemma4(writer: GGUFWriter, s: Gemma4Shape) -> None:
    # Keys as conversion/gemma.py (Gemma3Model, Gemma4Model.set_gguf_parameters) writes them.
    writer.add_feed_forward_length([s.ffn_width(i) for i in range(s.n_layer)])
    writer.add_key_length(s.head_dim_full)
    writer.add_value_length(s.head_dim_full)
    writer.add_key_length_swa(s.head_dim_swa)
    writer.add_value_length_swa(s.head_dim_swa)
    writer.add_rope_freq_base(s.rope_theta_full)
    writer.add_rope_freq_base_swa(s.rope_theta_swa)
    writer.add_rope_dimension_count(s.head_dim_full)  # "proportional": rope_freqs masks the rest
    writer.add_rope_dimension_count_swa(s.head_dim_swa)
    writer.add_sliding_window(s.sliding_window)
    writer.add_sliding_window_pattern(s.swa_layers)
    writer.add_shared_kv_layers(s.n_kv_shared_layers)
    writer.add_embedding_length_per_layer_input(s.n_embd_per_layer)
    writer.add_final_logit_softcapping(s.final_logit_softcap)


def _add_qwen35(writer: GGUFWriter, s: Qwen35Shape) -> None:
    # Keys as conversion/qwen.py (Qwen3NextModel, _Qwen35MRopeMixin) writes them.
    writer.add_feed_forward_length(s.n_ff)
    writer.add_key_length(s.head_dim)
    writer.add_value_length(s.head_dim)
    writer.add_rope_freq_base(s.rope_theta)
    writer.add_rope_dimension_count(int(s.head_dim * s.partial_rotary))
    writer.add_rope_dimension_sections(list(s.mrope_sections))
    writer.add_ssm_conv_kernel(s.conv_kernel)
    writer.add_ssm_state_size(s.linear_head_dim)
    writer.add_ssm_group_count(s.linear_k_heads)
    writer.add_ssm_time_step_rank(s.linear_v_heads)
    writer.add_ssm_inner_size(s.linear_head_dim * s.linear_v_heads)
    writer.add_full_attention_interval(s.full_attention_interval)


def _add_llama(writer: GGUFWriter, s: LlamaShape) -> None:
    # Keys as conversion/llama.py (LlamaModel.set_gguf_parameters) and conversion/base.py write
    # them; the `llama3` rope scaling goes into the rope_freqs tensor, not into keys.
    writer.add_vocab_size(s.n_vocab)
    writer.add_feed_forward_length(s.n_ff)
    writer.add_key_length(s.head_dim)
    writer.add_value_length(s.head_dim)
    writer.add_rope_freq_base(s.rope_theta)
    writer.add_rope_dimension_count(s.head_dim)
