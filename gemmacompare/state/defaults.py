"""Every door's defaults in one place: the window, `compare`, `bench` and the engine.

Max tokens is 256 everywhere: room for a small model's short reasoned answer
(the built-in suites' answers end within ~150 tokens), while a runaway reply
(a base model echoing, a greedy loop) costs seconds on a CPU, not minutes.
llama.cpp's own tools generate without limit (-1), which a side-by-side
comparison cannot afford.
"""

from __future__ import annotations

import os

# The two ways a round runs. Kept here, with the thread limits below, so the command line's
# parsers read them without importing the engine (its door pulls in the session and httpx).
RACE = "race"  # all models at once, the machine's threads split between the local ones
FAIR = "fair"  # one model after the other, each with all threads, then replayed side by side
MODES = (RACE, FAIR)

# More threads than max_threads() only slow llama.cpp down (1100 threads on 2 cores took 78 s for
# 8 tokens), and a typo such as 1100 for 11 should be caught, not run; run files are held to it too.
THREADS_PER_CPU = 4
THREADS_CEILING = 1024


def max_threads() -> int:
    return min(THREADS_CEILING, THREADS_PER_CPU * (os.cpu_count() or 1))


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

# Speculation A/B (`compare MODEL --draft D --ab`, the window's mode): fair repetitions of the
# model plain and speculating; three are the fewest that give an interval worth reading.
AB_RUNS = 3
