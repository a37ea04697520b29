"""One name per model, the picker's, everywhere; long names cut in the middle."""

from __future__ import annotations

from gemmacompare.models.display_names import display_name, elide_middle, file_display_name


def test_a_file_is_named_by_its_file_not_its_general_name():
    assert display_name("/m/gemma-4-E2B-it-Q4_K_M.gguf", "Gemma 4 E2B It") == "gemma-4-E2B-it-Q4_K_M"


def test_an_ollama_blob_is_named_by_its_ollama_name_never_its_hash():
    blob = "/home/u/.ollama/models/blobs/sha256-b1797f2c7b8d1e4c0a2f"
    assert display_name(blob, "Qwen3 0.6B", arg="ollama:qwen3:0.6b") == "qwen3:0.6b"
    assert file_display_name(blob, "Qwen3 0.6B") == "Qwen3 0.6B"  # no Ollama name known: the file's own
    assert "sha256" not in display_name(blob, "Qwen3 0.6B")


def test_the_demo_models_have_their_labels(demo_paths):
    assert display_name(str(demo_paths["smollm2"]), "Smollm2 135M 8k Lc100K Mix1 Ep2") == "SmolLM2-135M-Instruct Q4_1"


def test_long_names_keep_both_ends():
    name = "gemma-4-E2B-it-UD-something-very-long-Q4_K_M"
    cut = elide_middle(name, 24)
    assert len(cut) == 24 and cut.startswith("gemma-4-E2B") and cut.endswith("Q4_K_M") and "…" in cut
    assert elide_middle("short", 24) == "short"
