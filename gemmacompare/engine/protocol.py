"""The typed messages between the app and a model worker process.

Frozen dataclasses, pickled over a multiprocessing pipe. Timestamps are
`time.monotonic()` seconds taken in the worker when a thing happened; on the
platforms we support that clock is system-wide, so the parent can put both
workers on one time axis.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union

from gemmacompare.engine.placement import DeviceBuffer, Placement
from gemmacompare.models.gguf_file import ModelFacts
from gemmacompare.state.settings_table import CACHE_COLD as CACHE_COLD
from gemmacompare.state.settings_table import CACHE_KEEP as CACHE_KEEP
from gemmacompare.state.settings_table import LoadSettings as LoadSettings
from gemmacompare.state.settings_table import SamplingSettings as SamplingSettings

# --- settings ----------------------------------------------------------------
# LoadSettings and SamplingSettings travel to the worker as they are declared in the
# settings table (state/settings_table.py).


@dataclass(frozen=True)
class ChatMessage:
    role: str  # system | user | assistant
    content: str


# --- commands (parent -> worker) ----------------------------------------------

@dataclass(frozen=True)
class LoadCommand:
    path: str
    settings: LoadSettings



@dataclass(frozen=True)
class GenerateCommand:
    request_id: int
    messages: tuple[ChatMessage, ...] = ()
    raw_prompt: str | None = None  # raw completion mode: no template at all
    sampling: SamplingSettings = SamplingSettings()
    enable_thinking: bool | None = None
    # Threads for this request: the user's setting as the door builds it (None: the mode
    # decides), then the session's split, which it sets before the worker sees it.
    n_threads: int | None = None
    # CACHE_KEEP: reuse what the worker's cache holds of this conversation, as llama-server's
    # cache_prompt does; CACHE_COLD: clear it first and prefill the whole prompt.
    cache: str = CACHE_COLD
    # True when later requests will keep this one's cache (a kept conversation's cold first
    # turn): the worker takes context checkpoints even when cold. A prompt measured alone
    # takes none, so its prefill runs unbroken, as llama-bench's.
    keep_after: bool = False


@dataclass(frozen=True)
class DepthCommand:
    """Speed after `depth` tokens of context, as llama-bench's `-d` measures it (engine/local/depth_run.py):
    the filler is prefilled untimed, then `reps` times a generation of `n_gen` tokens and a prefill of
    `n_pp` tokens, each from the same depth. Answered with DepthMemory, DepthMeasured per figure, Finished."""

    request_id: int
    depth: int
    n_gen: int = 64
    n_pp: int = 512
    reps: int = 3
    n_threads: int | None = None  # set by the session's split, as for GenerateCommand
    seed: int = 0  # of the filler tokens

    @property
    def n_ctx(self) -> int:
        """The context this depth needs: the filler and the longer of its two tests."""
        return self.depth + max(self.n_gen, self.n_pp)


@dataclass(frozen=True)
class ShutdownCommand:
    pass


Command = Union[LoadCommand, GenerateCommand, DepthCommand, ShutdownCommand]
Request = Union[GenerateCommand, DepthCommand]  # what a round sends each participant


# --- events (worker -> parent) ------------------------------------------------

@dataclass(frozen=True)
class Loaded:
    pid: int
    load_seconds: float
    facts: ModelFacts
    n_ctx: int
    n_threads: int
    n_gpu_layers: int  # as asked of llama.cpp (-1: all)
    system_info: str
    placement: Placement | None = None  # where llama.cpp says the model went
    # Settings that change speed, recorded with every result (llama-bench's names).
    flash_attn: str = "auto"
    type_k: str = "f16"
    type_v: str = "f16"
    n_batch: int = 0
    # The llama.cpp build that loaded it (llama_runtime.build_facts); None: not a local model.
    llama_build: dict[str, object] | None = None
    swa_full: bool = False


@dataclass(frozen=True)
class PromptReady:
    request_id: int
    template_name: str  # "gguf", a fallback name, or "raw"
    prompt_text: str
    thinking_prefilled: bool


@dataclass(frozen=True)
class PrefillDone:
    request_id: int
    n_prompt: int  # the whole prompt, reused tokens included
    t_start: float
    t_end: float
    # Prompt tokens taken from the worker's cache (kept or restored from a checkpoint), not
    # read in this prefill: its time covers n_prefilled tokens only. 0 from older run files.
    n_reused: int = 0

    @property
    def n_prefilled(self) -> int:
        return self.n_prompt - self.n_reused

    @property
    def ms(self) -> float:
        return (self.t_end - self.t_start) * 1000.0


# A Token.token_id that is not a token id:
SERVER_CHUNK = -2  # a text delta from a server, timed on arrival; a chunk is not a token


@dataclass(frozen=True)
class Token:
    request_id: int
    index: int
    token_id: int
    t: float
    phase: str  # thinking | answer
    thinking: str  # visible thinking text this token added (markers removed)
    answer: str  # visible answer text this token added


# A Token's fields after request_id: index, token_id, t, phase, thinking, answer.
TokenRow = tuple[int, int, float, str, str, str]


@dataclass(frozen=True)
class TokenBatch:
    """Wire form of consecutive tokens: rows of Token fields after request_id.

    The worker sends tokens in small batches (first token at once, then about
    every 50 ms): one pipe wake-up and one unpickle per batch instead of per
    token keeps the parent's cost per token in the microseconds, which matters
    on a 2-core machine where the parent shares cores with both workers.
    ModelWorker.generate unpacks batches, so consumers only see Token events.
    """

    request_id: int
    rows: tuple[TokenRow, ...]

    def tokens(self) -> list[Token]:
        rid = self.request_id
        return [Token(rid, *row) for row in self.rows]


@dataclass(frozen=True)
class LlamaPerf:
    """llama.cpp's own counters (llama_perf_context) for one request."""

    t_load_ms: float
    t_p_eval_ms: float
    t_eval_ms: float
    n_p_eval: int
    n_eval: int


STOP_EOS = "eos"
STOP_MAX_TOKENS = "max_tokens"
STOP_STRING = "stop_string"
STOP_USER = "user_stop"
STOP_CONTEXT_FULL = "context_full"
STOP_ERROR = "error"
STOP_STREAM_CUT = "stream_cut"  # the server's stream ended before its finish; the text so far is kept


@dataclass(frozen=True)
class ServerFigures:
    """What a server reported about one request, beside what the client measured.

    `source` names where the counts came from: "usage" (OpenAI stream_options),
    "timings" (llama-server), "ollama" (eval_count/eval_duration), or "none"
    when the server sent no count at all (then only chunks are known).
    """

    source: str
    n_prompt: int | None = None
    n_generated: int | None = None
    prompt_ms: float | None = None  # server's prompt processing (llama-server, Ollama)
    gen_ms: float | None = None  # server's first -> last token
    # The server's own rates where it states them (llama-server's predicted_per_second counts
    # n - 1 decode steps in predicted_ms: the first token comes free with the prompt batch).
    prompt_tps: float | None = None
    gen_tps: float | None = None
    n_cached: int | None = None  # prompt tokens reused from the server's cache
    n_chunks: int = 0
    send_ms: float | None = None  # the client's own share of TTFT: request started -> fully written
    complete: bool = True  # False: the stream ended early, the final usage never came
    problem: str = ""  # one sentence when the stream ended badly but the text so far is kept


@dataclass(frozen=True)
class Finished:
    request_id: int
    stop_reason: str
    n_prompt: int
    n_generated: int
    t_send: float  # when the worker received the request
    t_end: float
    perf: LlamaPerf | None
    n_threads: int
    template_name: str = ""
    server: ServerFigures | None = None  # set by a remote engine only
    cache: CacheUse | None = None  # set by a local engine; None from servers (their n_cached says it)
    draft: DraftStats | None = None  # set where speculative decoding ran (a local engine, or a server's timings)


@dataclass(frozen=True)
class CacheUse:
    """What one request took from the worker's cache instead of prefilling it."""

    policy: str  # CACHE_COLD | CACHE_KEEP
    n_reused: int = 0  # prompt tokens not prefilled: kept in the cache, or restored from a checkpoint
    n_checkpoint: int = 0  # the checkpoint restored, in tokens (0: none was)
    why_full: str = ""  # one sentence when a kept cache could not be used and the whole prompt was read
    checkpoint_bytes: int = 0  # memory the worker's checkpoints hold after this request
    # Where the prompt left what the cache held, when before its end (a template that renders
    # an answered turn differently): one phrase, "" when the cache's whole content was reused.
    parted: str = ""


@dataclass(frozen=True)
class DraftStats:
    """How speculative decoding went for one request (engine/local/speculative.py).

    A round drafts up to draft_max tokens and the model checks them in one batch: the
    longest agreeing prefix is accepted, and the model's own next token comes with it.
    """

    kind: str  # "draft" | "ngram" | "server" (a server's timings: counts only)
    n_drafted: int = 0  # draft tokens the model checked
    n_accepted: int = 0  # of them, the ones it agreed with
    n_rounds: int = 0  # verification batches that held a draft
    n_plain: int = 0  # steps without a draft (none found, or shorter than draft_min): one token decoded
    # Per draft position (0 = the first drafted token): how often it was checked and accepted.
    drafted_at: tuple[int, ...] = ()
    accepted_at: tuple[int, ...] = ()
    draft_ms: float = 0.0  # drafting: the draft model's decodes (its prompt included) or the lookup
    verify_ms: float = 0.0  # the model's verification batches
    # Indices (as Token.index) of the generated tokens that came from accepted drafts: the window tints them.
    accepted_tokens: tuple[int, ...] = ()

    @property
    def acceptance(self) -> float | None:
        """Accepted / drafted; None when nothing was drafted."""
        return self.n_accepted / self.n_drafted if self.n_drafted else None

    @property
    def mean_accepted(self) -> float | None:
        """Draft tokens accepted per verification round (the model's own token not counted)."""
        return self.n_accepted / self.n_rounds if self.n_rounds else None

    def position_rates(self) -> tuple[float | None, ...]:
        """Acceptance at each draft position, None where that position was never checked."""
        return tuple(a / d if d else None for d, a in zip(self.drafted_at, self.accepted_at))


@dataclass(frozen=True)
class WorkerError:
    request_id: int | None
    message: str  # one sentence for a human: what failed and what to do
    detail: str = ""
    fatal: bool = False  # the worker is gone (crash, kill) and must be restarted


TEST_TG = "tg"  # generation, one token per decode (llama-bench's -n)
TEST_PP = "pp"  # prefill of a chunk (llama-bench's -p)


@dataclass(frozen=True)
class DepthMeasured:
    """One timed test at a depth: `n_tokens` in `seconds` (the worker's clock) and in `perf_ms`
    (llama.cpp's own counter for the same decodes)."""

    request_id: int
    depth: int
    rep: int
    test: str  # TEST_TG | TEST_PP
    n_tokens: int
    seconds: float
    perf_ms: float
    graphs_reused: int = 0  # decodes that reused the previous compute graph (llama.cpp's n_reused)


@dataclass(frozen=True)
class DepthMemory:
    """llama.cpp's own account of a context of `n_ctx` tokens for the loaded model (its KV cache,
    recurrent state, output and compute buffers, from its log), and how long the filler took."""

    request_id: int
    depth: int
    n_ctx: int
    buffers: tuple[DeviceBuffer, ...]
    fill_seconds: float = 0.0
    fill_cached: bool = False  # the filler came from the state saved at this depth, not a prefill
    gpu_memory: tuple[tuple[str, int], ...] = ()  # (device, total bytes) of each GPU llama.cpp sees


Event = Union[Loaded, PromptReady, PrefillDone, Token, Finished, WorkerError, DepthMeasured, DepthMemory]


class WorkerFailed(Exception):
    """A model could not be loaded (or restarted); `error` holds the one sentence."""

    def __init__(self, error: WorkerError) -> None:
        super().__init__(error.message)
        self.error = error


GPU_FROM_NVML = "NVML"
GPU_FROM_LLAMA = "llama.cpp"


@dataclass
class MemorySample:
    t: float
    rss: int
    vram: int | None = None


@dataclass
class MemoryTrace:
    samples: list[MemorySample] = field(default_factory=list)
    gpu_available: bool = False
    # What the vram figures measure: GPU_FROM_NVML (the process's VRAM, read live) or
    # GPU_FROM_LLAMA (llama.cpp's own account of its device buffers, from its load log).
    gpu_source: str = ""

    @property
    def peak_rss(self) -> int:
        return max((s.rss for s in self.samples), default=0)

    @property
    def peak_vram(self) -> int | None:
        vals = [s.vram for s in self.samples if s.vram is not None]
        return max(vals) if vals else None
