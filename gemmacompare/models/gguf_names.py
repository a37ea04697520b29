"""What a GGUF file's name says: split shards, partial downloads, non-model files, quantisation.

The rules follow llama.cpp's own conventions (gguf-split names shards
`<prefix>-%05d-of-%05d.gguf`; `-hf` skips names with `mmproj`, `imatrix`,
draft and speculative heads) and the partial-file suffixes the download tools write.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_SPLIT = re.compile(r"^(?P<prefix>.+)-(?P<no>\d{5})-of-(?P<count>\d{5})\.gguf$", re.IGNORECASE)

# Suffixes and prefixes of files still being written: huggingface_hub (.incomplete),
# browsers and wget (.part), LM Studio and others (.downloading), llama.cpp
# (.downloadInProgress), Ollama (-partial, -partial-N), GPT4All (incomplete-<file>).
_PARTIAL_SUFFIXES = (".incomplete", ".part", ".downloading", ".downloadinprogress", ".tmp", ".partial")
_PARTIAL_INFIX = re.compile(r"-partial(-\d+)?$|\.partial-\d+$")

# Names llama.cpp's -hf treats as "not the model" (common/hf-cache.cpp).
_NOT_MODEL = ("mmproj", "imatrix", "mtp-", "eagle3-", "dflash-", "dspark-")

_QUANT = re.compile(
    r"(?:^|[-_.])(?P<q>(?:UD-)?I?Q\d(?:_[A-Z0-9]+)*|F16|BF16|F32|FP16|MXFP4(?:_MOE)?)(?=[-_.]|$)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class SplitName:
    prefix: str
    number: int  # 1-based, as in the file name
    count: int

    def shard_name(self, number: int) -> str:
        return f"{self.prefix}-{number:05d}-of-{self.count:05d}.gguf"

    def all_names(self) -> list[str]:
        return [self.shard_name(n) for n in range(1, self.count + 1)]


def split_name(filename: str) -> SplitName | None:
    m = _SPLIT.match(filename)
    if not m:
        return None
    no, count = int(m["no"]), int(m["count"])
    if not 1 <= no <= count:
        return None
    return SplitName(m["prefix"], no, count)


def is_partial_name(filename: str) -> bool:
    low = filename.lower()
    return (low.endswith(_PARTIAL_SUFFIXES) or low.startswith("incomplete-")
            or bool(_PARTIAL_INFIX.search(low)))


def is_non_model_name(filename: str) -> bool:
    low = filename.lower()
    return any(tag in low for tag in _NOT_MODEL)


def quant_from_name(filename: str) -> str | None:
    """The quantisation a file name announces (`…Q4_K_M.gguf` → `Q4_K_M`), if any."""
    stem = filename[:-5] if filename.lower().endswith(".gguf") else filename
    split = split_name(filename)
    if split:
        stem = split.prefix
    found = _QUANT.findall(stem)
    return found[-1].upper() if found else None
