"""GGUF facts and every kind of bad file, on real and hand-made files."""

from __future__ import annotations

import os

import pytest

from gemmacompare.models.gguf_file import FileProblem, read_model_facts
from tests.make_files import write_truncated
from tests.unit.test_model_file import problem_of


def test_smollm2_facts(demo_paths):
    f = read_model_facts(demo_paths["smollm2"])
    assert f.architecture == "llama"
    assert 130e6 < f.parameters < 140e6
    assert f.quantization == "Q4_1"
    assert f.context_length == 8192
    assert f.has_chat_template and "<|im_start|>" in f.chat_template
    assert f.file_size == os.path.getsize(demo_paths["smollm2"])


def test_gemma3_facts_no_template(demo_paths):
    f = read_model_facts(demo_paths["gemma3"])
    assert f.architecture == "gemma3"
    assert 250e6 < f.parameters < 300e6
    assert f.quantization == "Q4_K_M"
    assert f.context_length == 32768
    assert not f.has_chat_template
    assert f.reasoning is None


def test_truncated(tmp_path, demo_paths):
    err = problem_of(write_truncated(demo_paths["smollm2"], tmp_path / "cut.gguf"))
    assert err.problem is FileProblem.TRUNCATED and "truncated" in err.message


@pytest.mark.parametrize("model", ["smollm2", "gemma3"])
def test_truncated_files_say_so_with_sizes(tmp_path, demo_paths, model):
    data = demo_paths[model].read_bytes()
    size = len(data)
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(data[:-1])
    err = problem_of(cut)
    assert err.problem is FileProblem.TRUNCATED
    assert err.message == f"cut.gguf is truncated ({size - 1:,} bytes of {size:,} expected); download it again."
    head = tmp_path / "head.gguf"
    head.write_bytes(data[:1024])
    err = problem_of(head)
    assert err.problem is FileProblem.TRUNCATED
    assert err.message == "head.gguf is truncated (it ends inside its header, after 1,024 bytes); download it again."


def test_broken_chat_template_is_a_fact_not_a_load_failure(tmp_path, demo_paths):
    from tests.make_files import write_broken_template

    f = read_model_facts(write_broken_template(demo_paths["smollm2"], tmp_path / "typo.gguf"))
    assert f.has_chat_template
    assert f.template_problem.startswith("line 5: Encountered unknown tag 'endfro'.")
    assert any(line.startswith("chat template:  present but broken (line 5:") for line in f.summary_lines())
    assert read_model_facts(demo_paths["smollm2"]).template_problem is None
