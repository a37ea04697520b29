"""llama.cpp's account of where a model went: parsed from its load log.

The CPU cases run for real in test_engine and test_self_test; GPU logs cannot
be produced on this machine, so these are llama.cpp's own log lines as its
CUDA, Metal and Vulkan backends print them (formats from llama-model.cpp,
llama-kv-cache.cpp and llama-context.cpp of the vendored llama.cpp).
"""

from __future__ import annotations

import pytest

from gemmacompare.engine.local.llama_runtime import (
    AllocationFailure,
    allocation_failure,
    cpu_variant,
    parse_load_log,
    runtime_info,
)
from gemmacompare.engine.placement import DeviceBuffer, backend_name

MIB = 1024 * 1024

CUDA_FULL = """\
load_tensors: offloading 30 repeating layers to GPU
load_tensors: offloading output layer to GPU
load_tensors: offloaded 31/31 layers to GPU
load_tensors:        CUDA0 model buffer size =    85.94 MiB
load_tensors:   CPU_Mapped model buffer size =    20.00 MiB
llama_kv_cache:      CUDA0 KV buffer size =    90.00 MiB
llama_context:  CUDA_Host  output buffer size =     0.19 MiB
llama_context:      CUDA0 compute buffer size =   100.00 MiB
llama_context:  CUDA_Host compute buffer size =     5.00 MiB
"""


def test_full_cuda_offload():
    pl = parse_load_log(CUDA_FULL, n_layer=30)
    assert pl.backend == "CUDA" and (pl.layers_offloaded, pl.layers_total) == (31, 31)
    assert pl.device_bytes() == int(85.94 * MIB) + 90 * MIB + 100 * MIB
    assert pl.device_bytes("KV") == 90 * MIB
    assert pl.summary == "CUDA · 31/31 layers offloaded"
    assert pl.accounting.startswith("device memory allocated by llama.cpp: 276 MiB; ")
    assert "KV 90 MiB on CUDA0" in pl.accounting


def test_partial_offload_names_both():
    text = ("load_tensors: offloaded 10/31 layers to GPU\n"
            "load_tensors:      Vulkan0 model buffer size =    30.00 MiB\n"
            "load_tensors:   CPU_Mapped model buffer size =    60.00 MiB\n")
    pl = parse_load_log(text)
    assert pl.backend == "Vulkan + CPU" and pl.layers_offloaded == 10


def test_cpu_only_log_has_no_offload_line():
    text = ("load_tensors:   CPU_Mapped model buffer size =    92.10 MiB\n"
            "llama_kv_cache:        CPU KV buffer size =    90.00 MiB\n")
    pl = parse_load_log(text, n_layer=18)
    assert pl.summary == "CPU · 0/19 layers offloaded" and pl.device_bytes() == 0


def test_backend_names():
    assert [backend_name(x) for x in ("CUDA0", "CUDA_Host", "ROCm1", "MTL0", "Metal", "Vulkan0", "Vulkan_Host",
                                      "CPU_REPACK", "SYCL0")] == \
        ["CUDA", "CPU", "ROCm", "Metal", "Metal", "Vulkan", "CPU", "CPU", "SYCL"]


def test_cpu_variant_from_loaded_libraries(tmp_path):
    maps = tmp_path / "maps"
    maps.write_text("7f00-7f01 r-xp 0 08:01 1 /opt/app/_internal/llama_cpp/lib/libggml-cpu-haswell.so\n")
    assert cpu_variant(str(maps)) == "haswell"
    maps.write_text("7f00-7f01 r-xp 0 08:01 1 /venv/llama_cpp/lib/libggml-cpu.so\n")
    assert "no runtime dispatch" in cpu_variant(str(maps))


def test_runtime_info_on_this_build():
    info = runtime_info()
    assert "CPU" in info.backends and not info.gpu_devices
    assert info.devices[0].kind == "CPU" and info.devices[0].memory_total > 0
    assert "CPU :" in info.system_info


def test_stats_table_shows_backend_and_llama_cpp_device_memory_without_nvml():
    """A Vulkan (or Metal, ROCm) model: no NVML, so the table shows llama.cpp's own allocation."""
    from dataclasses import fields
    from types import SimpleNamespace

    from gemmacompare.engine.metrics import RunStats
    from gemmacompare.engine.report.stats_table import stats_rows

    vulkan = parse_load_log("load_tensors: offloaded 31/31 layers to GPU\n"
                            "load_tensors:      Vulkan0 model buffer size =    85.00 MiB\n"
                            "llama_kv_cache:      Vulkan0 KV buffer size =    90.00 MiB\n")
    cpu = parse_load_log("load_tensors:   CPU_Mapped model buffer size =    92.10 MiB\n", n_layer=30)
    figures = {f.name: None for f in fields(RunStats)} | {"remote": False, "server_complete": True}
    st = RunStats(**figures | dict(n_prompt=10, n_tokens=16, stop_reason="max_tokens", peak_rss=300 * MIB,
                                  gpu_available=False, n_threads=2, template="gguf"))
    run = SimpleNamespace(stats=lambda: st)
    result = SimpleNamespace(mode="race", runs=[run, run],
                             loaded=[SimpleNamespace(placement=pl, flash_attn="auto", type_k="f16", type_v="f16",
                                                     swa_full=False)
                                     for pl in (vulkan, cpu)])
    rows = {r[0]: r[1:] for r in stats_rows(result, ["A", "B"])}
    assert rows["peak VRAM"] == ["175.0 MiB allocated by llama.cpp (model, KV, compute)", "no GPU"]
    assert rows["backend (llama.cpp)"] == ["Vulkan · 31/31 layers offloaded", "CPU · 0/31 layers offloaded"]


# Qwen3.5 (hybrid: KV for attention layers, RS for DeltaNet layers) and Gemma (two KV caches,
# full and sliding-window), as llama-kv-cache.cpp and llama-memory-recurrent.cpp print them.
CUDA_HYBRID = """\
load_tensors: offloaded 33/33 layers to GPU
load_tensors:        CUDA0 model buffer size =  2500.00 MiB
load_tensors:   CPU_Mapped model buffer size =   485.00 MiB
llama_kv_cache:      CUDA0 KV buffer size =   128.00 MiB
llama_kv_cache:      CUDA0 KV buffer size =    12.00 MiB
llama_memory_recurrent:      CUDA0 RS buffer size =    50.25 MiB
llama_context:  CUDA_Host  output buffer size =     0.95 MiB
llama_context:      CUDA0 compute buffer size =   300.00 MiB
llama_context:  CUDA_Host compute buffer size =    13.01 MiB
"""


def test_memory_by_device_and_part():
    pl = parse_load_log(CUDA_HYBRID, n_layer=32)
    gpu, cpu = pl.memory
    assert (gpu.device, gpu.weights, gpu.kv_cache, gpu.compute) == ("CUDA0", 2500 * MIB, 140 * MIB, 300 * MIB)
    assert gpu.recurrent_state == int(50.25 * MIB) and gpu.output == 0
    # Pinned host buffers (CUDA_Host) are CPU memory, as are mapped weights.
    assert (cpu.device, cpu.weights, cpu.output, cpu.compute) == ("CPU", 485 * MIB, int(0.95 * MIB), int(13.01 * MIB))
    assert gpu.total == pl.device_bytes()
    assert pl.memory_lines()[0] == (
        "CUDA0: weights 2500.0 MiB + KV cache 140.0 MiB + recurrent state 50.2 MiB + output (logits) 0.0 MiB"
        " + compute 300.0 MiB = 2990.2 MiB"
    )
    # A model without a recurrent state does not list one.
    assert "recurrent" not in parse_load_log(CUDA_FULL).memory_lines()[0]


def test_tooltip_and_table_carry_the_memory_account():
    from types import SimpleNamespace

    from gemmacompare.engine.report.stats_table import memory_rows
    from gemmacompare.ui.stats_format import memory_tooltip_lines

    hybrid, plain = parse_load_log(CUDA_HYBRID), parse_load_log(CUDA_FULL)
    lines = memory_tooltip_lines(hybrid)
    assert lines[0] == "llama.cpp's memory (at load):" and lines[1].startswith("  CUDA0: weights 2500.0 MiB")
    assert memory_tooltip_lines(None) == [] and memory_tooltip_lines(SimpleNamespace(buffers=())) == []
    rows = {r[0]: r[1:] for r in memory_rows([hybrid, plain, None])}
    assert rows["KV cache (llama.cpp)"] == ["140.0 MiB CUDA0 + 0 B CPU", "90.0 MiB CUDA0 + 0 B CPU", "-"]
    assert rows["recurrent state (llama.cpp)"][0] == "50.2 MiB CUDA0 + 0 B CPU"
    assert "recurrent state (llama.cpp)" not in {r[0] for r in memory_rows([plain])}
    assert "draft model (llama.cpp)" not in {r[0] for r in memory_rows([plain])}


def test_a_draft_models_buffers_are_one_part_of_the_account():
    from dataclasses import replace

    from gemmacompare.engine.report.stats_table import memory_rows

    plain = parse_load_log(CUDA_FULL)
    drafted = replace(plain, buffers=(*plain.buffers, DeviceBuffer("draft", "CUDA0", 7 * MIB),
                                      DeviceBuffer("draft", "CPU_Mapped", 3 * MIB)))
    gpu, cpu = drafted.memory
    assert (gpu.draft_model, cpu.draft_model) == (7 * MIB, 3 * MIB)
    assert gpu.total == plain.memory[0].total + 7 * MIB and drafted.device_bytes() == plain.device_bytes() + 7 * MIB
    assert "+ draft model 7.0 MiB =" in drafted.memory_lines()[0]
    rows = {r[0]: r[1:] for r in memory_rows([drafted, plain])}
    assert rows["draft model (llama.cpp)"] == ["7.0 MiB CUDA0 + 3.0 MiB CPU", "0 B CUDA0 + 0 B CPU"]


# --- a model that does not fit ---------------------------------------------------------

def test_allocation_failure_of_weights_on_a_device():
    log = ("ggml_vulkan: Device memory allocation of size 2684354560 failed.\n"
           "alloc_tensor_range: failed to allocate Vulkan0 buffer of size 2684354560\n"
           "llama_model_load: error loading model: unable to allocate Vulkan0 buffer\n")
    failed = allocation_failure(log)
    assert failed == AllocationFailure("Vulkan0", "weights", 2684354560)


def test_allocation_failure_of_the_kv_cache_names_the_device_and_part():
    log = ("alloc_tensor_range: failed to allocate CUDA0 buffer of size 1073741824\n"
           "llama_init_from_model: failed to initialize the context: failed to allocate buffer for kv cache\n")
    assert allocation_failure(log) == AllocationFailure("CUDA0", "KV cache", 1073741824)


def test_no_allocation_failure_in_an_ordinary_log():
    assert allocation_failure("load_tensors: offloaded 31/31 layers to GPU\nVulkan0 model buffer size = 12.0 MiB\n") \
        is None


def test_build_facts_name_the_build_that_runs_here():
    import llama_cpp

    from gemmacompare.engine.local.llama_runtime import build_facts

    facts = build_facts()
    assert facts["llama_cpp_python"] == llama_cpp.__version__
    assert facts["commit"] not in ("", "unknown") and facts["ggml_version"].count(".") == 2
    assert "CPU" in facts["backends"] and facts["cpu_variant"]


def test_the_portable_build_has_no_amx_variant():
    """scripts/llama_wheel.sh takes the sapphirerapids CPU library out of the wheel: its AMX
    kernels die of SIGILL at the first matrix product in this llama.cpp (seen on a Xeon with
    AMX), and llama.cpp would pick it on every such CPU."""
    from gemmacompare.engine.local.llama_runtime import llama_lib_dir

    variants = sorted(p.name for p in llama_lib_dir().glob("libggml-cpu-*"))
    if not variants:
        pytest.skip("a build with its CPU backend compiled in has no variants to pick from")
    assert "libggml-cpu-sapphirerapids.so" not in variants
    assert "libggml-cpu-zen4.so" in variants  # AVX-512 with VNNI and BF16: what AMX CPUs run instead
