"""The engine's one door: what the window (ui/) and the command line (cli/) may use.

ui/ and cli/ import the engine from here only (an import-linter contract in
pyproject.toml holds them to it), as qutebrowser's components see their core
only through its `api` module. What is not named here (workers, llama.cpp,
the HTTP client, the scheduler's insides) can change without touching a door.
A door that needs something new adds it here, with the group it belongs to.
"""

from __future__ import annotations

from gemmacompare.engine import protocol
from gemmacompare.engine.claim import (
    MS_PER_TOKEN,
    TOKENS_PER_S,
    ClaimCheck,
    ClaimedFigure,
    ClaimFailed,
    ClaimResult,
    claim_run_dict,
    claim_text,
    claimed_figure,
    parse_claim,
)
from gemmacompare.engine.conversation import (
    CACHE_POLICIES,
    Conversation,
    ConversationResult,
    TurnFigures,
    play_conversation,
)
from gemmacompare.engine.local.llama_runtime import RuntimeInfo, runtime_info
from gemmacompare.engine.machine import file_hash_prefix
from gemmacompare.engine.memory import MemorySampler
from gemmacompare.engine.metrics import RunRecord, RunStats
from gemmacompare.engine.model_refs import resolve_model, resolve_models
from gemmacompare.engine.modes import FAIR, MODES, RACE, ThreadSplit, default_threads
from gemmacompare.engine.participant import Participant
from gemmacompare.engine.placement import Placement
from gemmacompare.engine.protocol import GPU_FROM_LLAMA
from gemmacompare.engine.remote.client import RemoteError, display_name, list_models
from gemmacompare.engine.remote.server_ref import (
    OLLAMA_PREFIX,
    ServerRef,
    ServerRefError,
    is_server_ref,
    model_label,
    ollama_base_url,
    parse_server_ref,
)
from gemmacompare.engine.replay import ReplayWorker, play_clock
from gemmacompare.engine.report.conversation_table import conversation_dict, total_rows, turn_rows
from gemmacompare.engine.report.speed_summary import busy_sentence, speed_summary
from gemmacompare.engine.report.stats_table import (
    gpu_memory_text,
    markdown_table,
    prompt_cache_text,
    stats_rows,
    text_table,
)
from gemmacompare.engine.rerun import (
    Measured,
    ModelMissing,
    RerunFailed,
    RerunJob,
    RerunPlan,
    RerunRefused,
    check_rerunnable,
    plan_rerun,
    rerun_report,
    save_rerun_files,
)
from gemmacompare.engine.round_state import LOADING_REASON, READY_AFTER_LOADING
from gemmacompare.engine.run_file import (
    RunFile,
    RunFileError,
    RunModel,
    compare_run_dict,
    conversation_run_dict,
    read_run_file,
    split_of,
    write_run_file,
)
from gemmacompare.engine.run_settings import PromptOptions, RunSettings, ServerSettings, command_for
from gemmacompare.engine.session import (
    CompareResult,
    CompareSession,
    RoundState,
    RunMeasured,
    RunStarted,
    SessionBusy,
    SessionEvent,
)
from gemmacompare.engine.speculation_ab import (
    AB_RUNS,
    ABFailed,
    ABResult,
    SpeculationAB,
    draft_lines,
    kind_rows,
    kind_table,
    plain_and_speculating,
)
from gemmacompare.engine.sweep import (
    ContextSweep,
    SweepModel,
    SweepPoint,
    SweepProgress,
    SweepResult,
    SweepSettings,
    curve_sizes,
    estimate_curve,
    parse_depths,
    sweep_run_dict,
    sweep_table,
)

__all__ = [
    # The wire types (requests, events, load settings, stop reasons), used as `protocol as p`.
    "protocol", "GPU_FROM_LLAMA",
    # The compare session, its round state and what it tells its caller.
    "CompareSession", "CompareResult", "RoundState", "SessionEvent", "RunStarted", "RunMeasured", "SessionBusy",
    "LOADING_REASON", "READY_AFTER_LOADING",
    "Participant", "ReplayWorker", "play_clock",
    # Conversations: one turn per round, the cache kept (or cold), figures per turn.
    "Conversation", "ConversationResult", "TurnFigures", "CACHE_POLICIES", "play_conversation",
    "turn_rows", "total_rows", "conversation_dict",
    # Modes and settings.
    "FAIR", "RACE", "MODES", "ThreadSplit", "default_threads",
    "RunSettings", "PromptOptions", "ServerSettings", "command_for",
    # What a run measured, and where llama.cpp put a model.
    "RunRecord", "RunStats", "MemorySampler", "Placement", "RuntimeInfo", "runtime_info",
    # Reports.
    "busy_sentence", "speed_summary", "stats_rows", "text_table", "markdown_table", "gpu_memory_text",
    "prompt_cache_text",
    # Run files, and the jobs that read them: rerun and claim.
    "RunFile", "RunModel", "RunFileError", "read_run_file", "write_run_file", "compare_run_dict", "split_of",
    "conversation_run_dict",
    "file_hash_prefix",
    "RerunJob", "RerunPlan", "Measured", "ModelMissing", "RerunFailed", "RerunRefused", "check_rerunnable",
    "plan_rerun", "rerun_report", "save_rerun_files",
    "ClaimCheck", "ClaimResult", "ClaimedFigure", "ClaimFailed", "MS_PER_TOKEN", "TOKENS_PER_S", "claim_run_dict",
    "claim_text", "claimed_figure", "parse_claim",
    # The context sweep: speed and memory as the context grows.
    "ContextSweep", "SweepModel", "SweepPoint", "SweepProgress", "SweepResult", "SweepSettings", "curve_sizes",
    "estimate_curve", "parse_depths", "sweep_run_dict", "sweep_table",
    # Speculation A/B: one model with and without its draft.
    "SpeculationAB", "ABResult", "ABFailed", "AB_RUNS", "draft_lines", "kind_rows", "kind_table",
    "plain_and_speculating",
    # Models by name, and models on servers.
    "resolve_model", "resolve_models",
    "ServerRef", "ServerRefError", "OLLAMA_PREFIX", "is_server_ref", "parse_server_ref", "ollama_base_url",
    "model_label", "RemoteError", "list_models", "display_name",
]
