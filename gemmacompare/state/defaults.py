"""Every door's defaults in one place: the window, `compare`, `bench` and the engine.

Max tokens is 256 everywhere: room for a small model's short reasoned answer
(the built-in suites' answers end within ~150 tokens), while a runaway reply
(a base model echoing, a greedy loop) costs seconds on a CPU, not minutes.
llama.cpp's own tools generate without limit (-1), which a side-by-side
comparison cannot afford.
"""

from __future__ import annotations

MAX_TOKENS = 256
N_CTX = 4096  # the context llama.cpp's tools load with when the model allows it
# `compare` and `bench`: a context that holds any built-in task or demo prompt, at half the
# window's KV cache (the window's chats grow longer).
HEADLESS_N_CTX = 2048
SEED = 42
TEMPERATURE = 0.0  # greedy: the same answer every time, the reproducible default for comparisons

# Models on servers: seconds to connect, until the first byte (a long prompt on a
# busy server takes a while), and of silence mid-stream before giving up.
SERVER_CONNECT_TIMEOUT_S = 5.0
SERVER_FIRST_BYTE_TIMEOUT_S = 120.0
SERVER_IDLE_TIMEOUT_S = 60.0

MIN_MODELS = 1
MAX_MODELS = 4  # the window's panes, `compare` and `bench`: two to four side by side

# Checking a claim (`gemmacompare claim`, the window's Check a claim…): fair runs of a fixed
# length on a prompt that gives a long answer, so every run measures as many tokens.
CLAIM_PROMPT = "Write a long story about a lighthouse keeper and a storm."
CLAIM_RUNS = 5
CLAIM_MAX_TOKENS = 64
CLAIM_CTX = 2048
