"""Which tensors a synthetic file holds, with llama.cpp's names and shapes.

The lists follow what llama.cpp's loaders create (src/models/gemma4.cpp,
qwen35.cpp and llama.cpp, `load_arch_tensors`) and what its converter writes for the real
checkpoints. Shapes are in ggml order (ne0 first), as llama.cpp states them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from gemmacompare.models.synthetic_presets import Gemma4Shape, LlamaShape, Qwen35Shape, SyntheticPreset

# How a tensor is filled; the writer decides values by role, never by name.
EMBD = "embd"  # token embeddings (also the output layer when tied)
OUTPUT = "output"  # a separate output layer
MATRIX = "matrix"  # a projection that feeds a layer
RESIDUAL = "residual"  # a projection whose output is added to the residual stream
NORM = "norm"  # RMSNorm weights
ROPE_FREQS = "rope_freqs"
SSM_A = "ssm_a"
SSM_DT = "ssm_dt"
CONV = "conv"


@dataclass(frozen=True)
class TensorSpec:
    name: str
    shape: tuple[int, ...]  # ggml order
    role: str

    @property
    def n_elements(self) -> int:
        return math.prod(self.shape)


def tensor_plan(preset: SyntheticPreset, separate_output: bool = False) -> list[TensorSpec]:
    """Every tensor of the file. `separate_output` adds an output layer even
    where the real model ties it to the embeddings (the scripted test models)."""
    if isinstance(preset.shape, Gemma4Shape):
        return _gemma4_plan(preset.shape, separate_output)
    if isinstance(preset.shape, LlamaShape):
        return _llama_plan(preset.shape, separate_output)
    return _qwen35_plan(preset.shape, separate_output)


def _gemma4_plan(s: Gemma4Shape, separate_output: bool) -> list[TensorSpec]:
    ple = s.n_embd_per_layer * s.n_layer
    plan = [
        TensorSpec("token_embd.weight", (s.n_embd, s.n_vocab), EMBD),
        TensorSpec("per_layer_token_embd.weight", (ple, s.n_vocab), MATRIX),
        TensorSpec("per_layer_model_proj.weight", (s.n_embd, ple), MATRIX),
        TensorSpec("per_layer_proj_norm.weight", (s.n_embd_per_layer,), NORM),
        TensorSpec("output_norm.weight", (s.n_embd,), NORM),
        # Full-attention layers rotate a quarter of each head ("proportional" RoPE):
        # the converter writes per-pair frequency factors, 1e30 for unrotated pairs.
        TensorSpec("rope_freqs.weight", (s.head_dim_full // 2,), ROPE_FREQS),
    ]
    if separate_output:
        plan.append(TensorSpec("output.weight", (s.n_embd, s.n_vocab), OUTPUT))
    for i, swa in enumerate(s.swa_layers):
        hd = s.head_dim_swa if swa else s.head_dim_full
        ff = s.ffn_width(i)
        b = f"blk.{i}."
        plan += [
            TensorSpec(b + "attn_norm.weight", (s.n_embd,), NORM),
            TensorSpec(b + "attn_q.weight", (s.n_embd, hd * s.n_head), MATRIX),
            # KV-shared layers keep their K/V weights in the checkpoint (and so in a
            # converted GGUF) although llama.cpp reads the cache of an earlier layer.
            TensorSpec(b + "attn_k.weight", (s.n_embd, hd * s.n_head_kv), MATRIX),
            TensorSpec(b + "attn_v.weight", (s.n_embd, hd * s.n_head_kv), MATRIX),
            TensorSpec(b + "attn_output.weight", (hd * s.n_head, s.n_embd), RESIDUAL),
            TensorSpec(b + "attn_q_norm.weight", (hd,), NORM),
            TensorSpec(b + "attn_k_norm.weight", (hd,), NORM),
            TensorSpec(b + "post_attention_norm.weight", (s.n_embd,), NORM),
            TensorSpec(b + "ffn_norm.weight", (s.n_embd,), NORM),
            TensorSpec(b + "ffn_gate.weight", (s.n_embd, ff), MATRIX),
            TensorSpec(b + "ffn_up.weight", (s.n_embd, ff), MATRIX),
            TensorSpec(b + "ffn_down.weight", (ff, s.n_embd), RESIDUAL),
            TensorSpec(b + "post_ffw_norm.weight", (s.n_embd,), NORM),
            TensorSpec(b + "inp_gate.weight", (s.n_embd, s.n_embd_per_layer), MATRIX),
            TensorSpec(b + "proj.weight", (s.n_embd_per_layer, s.n_embd), RESIDUAL),
            TensorSpec(b + "post_norm.weight", (s.n_embd,), NORM),
        ]
    return plan


def _qwen35_plan(s: Qwen35Shape, separate_output: bool) -> list[TensorSpec]:
    key_dim = s.linear_head_dim * s.linear_k_heads
    value_dim = s.linear_head_dim * s.linear_v_heads
    plan = [
        TensorSpec("token_embd.weight", (s.n_embd, s.n_vocab), EMBD),
        TensorSpec("output_norm.weight", (s.n_embd,), NORM),
    ]
    if separate_output or not s.tied_embeddings:
        plan.append(TensorSpec("output.weight", (s.n_embd, s.n_vocab), OUTPUT))
    for i, recurrent in enumerate(s.recurrent_layers):
        b = f"blk.{i}."
        plan += [
            TensorSpec(b + "attn_norm.weight", (s.n_embd,), NORM),
            TensorSpec(b + "post_attention_norm.weight", (s.n_embd,), NORM),
        ]
        if recurrent:  # Gated DeltaNet
            plan += [
                TensorSpec(b + "attn_qkv.weight", (s.n_embd, 2 * key_dim + value_dim), MATRIX),
                TensorSpec(b + "attn_gate.weight", (s.n_embd, value_dim), MATRIX),
                TensorSpec(b + "ssm_conv1d.weight", (s.conv_kernel, 2 * key_dim + value_dim), CONV),
                TensorSpec(b + "ssm_dt.bias", (s.linear_v_heads,), SSM_DT),
                TensorSpec(b + "ssm_a", (s.linear_v_heads,), SSM_A),
                TensorSpec(b + "ssm_beta.weight", (s.n_embd, s.linear_v_heads), MATRIX),
                TensorSpec(b + "ssm_alpha.weight", (s.n_embd, s.linear_v_heads), MATRIX),
                TensorSpec(b + "ssm_norm.weight", (s.linear_head_dim,), NORM),
                TensorSpec(b + "ssm_out.weight", (value_dim, s.n_embd), RESIDUAL),
            ]
        else:  # gated attention: the query projection also yields the output gate
            plan += [
                TensorSpec(b + "attn_q.weight", (s.n_embd, s.head_dim * s.n_head * 2), MATRIX),
                TensorSpec(b + "attn_k.weight", (s.n_embd, s.head_dim * s.n_head_kv), MATRIX),
                TensorSpec(b + "attn_v.weight", (s.n_embd, s.head_dim * s.n_head_kv), MATRIX),
                TensorSpec(b + "attn_output.weight", (s.head_dim * s.n_head, s.n_embd), RESIDUAL),
                TensorSpec(b + "attn_q_norm.weight", (s.head_dim,), NORM),
                TensorSpec(b + "attn_k_norm.weight", (s.head_dim,), NORM),
            ]
        plan += [
            TensorSpec(b + "ffn_gate.weight", (s.n_embd, s.n_ff), MATRIX),
            TensorSpec(b + "ffn_up.weight", (s.n_embd, s.n_ff), MATRIX),
            TensorSpec(b + "ffn_down.weight", (s.n_ff, s.n_embd), RESIDUAL),
        ]
    return plan


def _llama_plan(s: LlamaShape, separate_output: bool) -> list[TensorSpec]:
    plan = [
        TensorSpec("token_embd.weight", (s.n_embd, s.n_vocab), EMBD),
        TensorSpec("output_norm.weight", (s.n_embd,), NORM),
        # Llama 3's rope_scaling as the converter writes it (conversion/llama.py,
        # generate_extra_tensors): one frequency factor per rotated pair.
        TensorSpec("rope_freqs.weight", (s.head_dim // 2,), ROPE_FREQS),
    ]
    if separate_output or not s.tied_embeddings:
        plan.append(TensorSpec("output.weight", (s.n_embd, s.n_vocab), OUTPUT))
    for i in range(s.n_layer):
        b = f"blk.{i}."
        plan += [
            TensorSpec(b + "attn_norm.weight", (s.n_embd,), NORM),
            TensorSpec(b + "attn_q.weight", (s.n_embd, s.head_dim * s.n_head), MATRIX),
            TensorSpec(b + "attn_k.weight", (s.n_embd, s.head_dim * s.n_head_kv), MATRIX),
            TensorSpec(b + "attn_v.weight", (s.n_embd, s.head_dim * s.n_head_kv), MATRIX),
            TensorSpec(b + "attn_output.weight", (s.head_dim * s.n_head, s.n_embd), RESIDUAL),
            TensorSpec(b + "ffn_norm.weight", (s.n_embd,), NORM),
            TensorSpec(b + "ffn_gate.weight", (s.n_embd, s.n_ff), MATRIX),
            TensorSpec(b + "ffn_up.weight", (s.n_embd, s.n_ff), MATRIX),
            TensorSpec(b + "ffn_down.weight", (s.n_ff, s.n_embd), RESIDUAL),
        ]
    return plan


@dataclass(frozen=True)
class ParameterCount:
    total: int
    per_layer_embeddings: int  # Gemma's per-layer embedding table: stored, only looked up

    @property
    def effective(self) -> int:
        """Google's "effective" count: everything but the per-layer embedding table."""
        return self.total - self.per_layer_embeddings


def parameter_count(preset: SyntheticPreset) -> ParameterCount:
    plan = tensor_plan(preset)
    total = sum(t.n_elements for t in plan)
    ple = sum(t.n_elements for t in plan if t.name == "per_layer_token_embd.weight")
    return ParameterCount(total, ple)
