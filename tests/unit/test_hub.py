"""Hub references and the suggested-models file: what needs no Hub
(downloads against a Hub-compatible server: tests/integration/test_hub_downloads.py)."""

from __future__ import annotations

import pytest

from gemmacompare.models import hub
from gemmacompare.models.hub import HubError


@pytest.mark.parametrize("text, expected", [
    ("unsloth/Qwen3.5-4B-GGUF:q4_k_m", ("unsloth/Qwen3.5-4B-GGUF", "Q4_K_M")),
    ("hf:org/repo", ("org/repo", None)),
    ("https://huggingface.co/org/repo", ("org/repo", None)),
])
def test_repo_specs(text, expected):
    assert hub.parse_repo_spec(text) == expected


def test_bad_repo_spec_is_one_sentence():
    with pytest.raises(HubError, match=r"^'justaname' is not a Hub repository id; write it as ORG/REPO"):
        hub.parse_repo_spec("justaname")


def test_suggestions_are_data_and_a_broken_file_gives_none(tmp_path):
    pair = hub.load_suggestions()
    assert [s.quant for s in pair] == ["Q4_K_M", "Q4_K_M"]
    assert any("gemma-4-E2B" in s.repo for s in pair) and any("Qwen3.5-4B" in s.repo for s in pair)
    bad = tmp_path / "s.json"
    bad.write_text('{"models": [{"label": 1}]')
    assert hub.load_suggestions(bad) == []
