"""Tokenizers for synthetic GGUF files: the real vocabulary size and the special
tokens the real chat templates speak, with filler tokens in between.

The output layer costs n_vocab x n_embd per token whatever the tokens say, so the
size is kept; the fillers are plain words ("w123") so that a random model's
output reads as words rather than as empty control tokens.

Gemma 4 (`tokenizer.ggml.model = gemma4`) is SentencePiece-style BPE over raw
UTF-8 with `<0xXX>` byte tokens and "▁" for spaces; Qwen3.5 (`gpt2`, pre-tokenizer
`qwen35`) and Llama 3 (`gpt2`, pre-tokenizer `llama-bpe`) are GPT-2 byte-level BPE.
All tokenize any text: a character that is not a token falls back to its bytes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# gguf.TokenType values (gguf-py constants), written as numbers to keep this import-light.
NORMAL, UNKNOWN, CONTROL, USER_DEFINED, UNUSED, BYTE = 1, 2, 3, 4, 5, 6

# Special tokens of google-gemma-4-31B-it.jinja. The converter (conversion/gemma.py,
# Gemma4Model.set_vocab) marks the ones a chat parser must see as USER_DEFINED.
_GEMMA4_CONTROL = ("<|turn>", "<turn|>", "<|think|>", "<|tool>", "<tool|>", "<|image|>", "<|audio|>", "<|video|>")
_GEMMA4_VISIBLE = (
    "<|channel>", "<channel|>", "<|tool_call>", "<tool_call|>", "<|tool_response>", "<tool_response|>", '<|"|>',
)
# Special tokens of Qwen3.5-4B.jinja: control tokens, then the added tokens the
# template writes as text (<think> is an added, non-special token in Qwen's tokenizer).
_QWEN35_CONTROL = (
    "<|endoftext|>", "<|im_start|>", "<|im_end|>",
    "<|vision_start|>", "<|vision_end|>", "<|image_pad|>", "<|video_pad|>",
)
_QWEN35_ADDED = ("<tool_call>", "</tool_call>", "<tool_response>", "</tool_response>", "<think>", "</think>")

# Llama 3.1 / 3.2's 256 special tokens, ids 128000 on, in order: transformers'
# convert_llama_weights_to_hf.py (its "3.2" list; the instruct tokenizer's eos is <|eot_id|>).
_LLAMA3_SPECIAL = (
    "<|begin_of_text|>", "<|end_of_text|>", "<|reserved_special_token_0|>", "<|reserved_special_token_1|>",
    "<|finetune_right_pad_id|>", "<|reserved_special_token_2|>", "<|start_header_id|>", "<|end_header_id|>",
    "<|eom_id|>", "<|eot_id|>", "<|python_tag|>",
    *(f"<|reserved_special_token_{i}|>" for i in range(3, 256 - 8)),
)

# Words the scripted test models say (see synthetic_script.py).
GEMMA4_WORDS = ("thought", "▁hmm", "▁Paris")
QWEN35_WORDS = ("Ġhmm", "ĠParis")


@dataclass
class Vocab:
    model: str  # tokenizer.ggml.model
    pre: str | None  # tokenizer.ggml.pre
    tokens: list[str]
    types: list[int]
    merges: list[str]
    bos: int
    eos: int
    pad: int | None  # None: the tokenizer has none (Llama 3)
    unk: int | None
    add_bos: bool
    eog: list[int] = field(default_factory=list)  # ids llama.cpp treats as end of generation

    def id(self, text: str) -> int:
        return self.tokens.index(text)


def build_vocab(family: str, n_vocab: int) -> Vocab:
    if family == "gemma4":
        return _gemma4_vocab(n_vocab)
    if family == "qwen35":
        return _qwen35_vocab(n_vocab)
    if family == "llama":
        return _llama3_vocab(n_vocab)
    raise ValueError(f"no synthetic tokenizer for {family!r}")


def _fill(tokens: list[str], types: list[int], n_vocab: int, space: str, reserve: int = 0) -> None:
    if len(tokens) + reserve > n_vocab:
        raise ValueError(f"a vocabulary of {n_vocab} cannot hold the {len(tokens) + reserve} tokens the templates need")
    i = 0
    while len(tokens) + reserve < n_vocab:
        tokens.append(f"{space}w{i}")
        types.append(NORMAL)
        i += 1


def _gemma4_vocab(n_vocab: int) -> Vocab:
    # The first five ids are Gemma's own (pad, eos, bos, unk, mask).
    tokens = ["<pad>", "<eos>", "<bos>", "<unk>", "<mask>"]
    types = [CONTROL, CONTROL, CONTROL, UNKNOWN, CONTROL]
    tokens += _GEMMA4_CONTROL
    types += [CONTROL] * len(_GEMMA4_CONTROL)
    tokens += _GEMMA4_VISIBLE
    types += [USER_DEFINED] * len(_GEMMA4_VISIBLE)
    tokens += [f"<0x{b:02X}>" for b in range(256)]
    types += [BYTE] * 256
    # Runs of newlines are looked up whole (llama-vocab.cpp, the Gemma 4 newline fix).
    plain = ["\n", "\n\n", "▁", "▁t"] + [chr(c) for c in range(0x21, 0x7F)] + list(GEMMA4_WORDS)
    tokens += plain
    types += [NORMAL] * len(plain)
    _fill(tokens, types, n_vocab, "▁")
    eog = [tokens.index(t) for t in ("<eos>", "<turn|>", "<|tool_response>")]
    # llama.cpp requires a merges list for gemma4; one real merge keeps it honest.
    return Vocab("gemma4", None, tokens, types, ["▁ t"], bos=2, eos=1, pad=0, unk=3, add_bos=True, eog=eog)


def _bytes_to_unicode() -> list[str]:
    """GPT-2's printable stand-ins for the 256 byte values, in byte order."""
    keep = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    out, extra = {}, 0
    for b in range(256):
        if b in keep:
            out[b] = chr(b)
        else:
            out[b] = chr(256 + extra)
            extra += 1
    return [out[b] for b in range(256)]


def _qwen35_vocab(n_vocab: int) -> Vocab:
    tokens = _bytes_to_unicode()
    types = [NORMAL] * 256
    # "\n\n" is one token in Qwen's vocabulary: the template's thinking-off prompt ends with it.
    plain = ["ĊĊ", *QWEN35_WORDS]
    tokens += plain
    types += [NORMAL] * len(plain)
    specials = list(_QWEN35_CONTROL) + list(_QWEN35_ADDED)
    # Qwen keeps its special tokens after the BPE vocabulary.
    _fill(tokens, types, n_vocab, "Ġ", reserve=len(specials))
    tokens += specials
    types += [CONTROL] * len(_QWEN35_CONTROL) + [USER_DEFINED] * len(_QWEN35_ADDED)
    eot = tokens.index("<|endoftext|>")
    eos = tokens.index("<|im_end|>")
    return Vocab("gpt2", "qwen35", tokens, types, ["Ċ Ċ"], bos=eot, eos=eos, pad=eot, unk=None, add_bos=False,
                 eog=[eos, eot])


def _llama3_vocab(n_vocab: int) -> Vocab:
    tokens = _bytes_to_unicode()
    types = [NORMAL] * 256
    # "\n\n" is one token in Llama 3's vocabulary: every header in the template ends with it.
    plain = ["ĊĊ", *QWEN35_WORDS]
    tokens += plain
    types += [NORMAL] * len(plain)
    # The special tokens follow the BPE vocabulary (128,000 of them in the real one).
    _fill(tokens, types, n_vocab, "Ġ", reserve=len(_LLAMA3_SPECIAL))
    tokens += _LLAMA3_SPECIAL
    types += [CONTROL] * len(_LLAMA3_SPECIAL)
    bos = tokens.index("<|begin_of_text|>")
    eot = tokens.index("<|eot_id|>")
    # llama.cpp ends generation on these three (llama-vocab.cpp, by text), as the instruct
    # config's eos_token_id [128001, 128008, 128009] lists them.
    eog = [tokens.index(t) for t in ("<|end_of_text|>", "<|eom_id|>", "<|eot_id|>")]
    return Vocab("gpt2", "llama-bpe", tokens, types, ["Ċ Ċ"], bos=bos, eos=eot, pad=None, unk=None, add_bos=True,
                 eog=eog)
