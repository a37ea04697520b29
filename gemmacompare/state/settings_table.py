"""Every setting of a model's run, declared once.

A setting is a field of one of the groups below (what loads the model, how
tokens are picked, how the prompt is put, how a server is reached), declared
with `setting(...)`: its default, its valid range or choices, the llama.cpp
parameter or sampler it feeds, its command-line flag and its ⚙ label. The
window's ⚙ dialog and settings file, `compare`'s and `bench`'s flags, the
benchmark's stored configuration and run files all read this table; adding a
setting means adding its field here and applying it in the worker
(engine/local/llama_context.py for a context parameter).

`validate(name, value)` is the one check of a value from anywhere (a flag, a
settings file, a stranger's run file): the value, or SettingError with one
sentence.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace
from typing import Any, Mapping

from gemmacompare.state import defaults

# llama.cpp's choices, as its tools spell them. "auto" (llama.cpp's default)
# turns flash attention on where the backend supports it.
FLASH_ATTN_CHOICES = ("auto", "on", "off")
# KV cache element types llama-bench accepts; f16 is llama.cpp's default.
KV_CACHE_TYPES = ("f16", "bf16", "q8_0", "q5_1", "q5_0", "q4_1", "q4_0", "iq4_nl", "f32")

# The conversation cache's policies (GenerateCommand.cache): keep what the worker's cache holds
# of the conversation, or read every prompt whole.
CACHE_COLD = "cold"
CACHE_KEEP = "keep"
CACHE_POLICIES = (CACHE_KEEP, CACHE_COLD)

# Speculative decoding's kinds; "draft" needs a draft model. llama.cpp's defaults for the
# draft length (common/common.h): n_max 3 for a draft model, size_m 48 for ngram-simple.
SPECULATION_KINDS = ("off", "draft", "ngram")
DRAFT_MAX_DEFAULT = {"draft": 3, "ngram": 48}
MAX_DRAFT = 256  # one verification batch; more is never worth checking at once

MAX_TEXT_CHARS = 1 << 20  # a system prompt; more cannot fit any model's context anyway
MAX_STOP_STRINGS = 64
MAX_STOP_CHARS = 1024


class _Unset:
    """No window default of its own: the window starts where the headless doors do."""

    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()


class SettingError(ValueError):
    """A value a setting cannot take; the message is one sentence for a human."""


@dataclass(frozen=True)
class Spec:
    """What the table knows of one setting besides its field's name, type and default."""

    what: str  # how a sentence names it: "top-p", "the context size"
    llama: str = ""  # the llama.cpp parameter or sampler it feeds
    lo: float | None = None
    hi: float | None = None
    choices: tuple[str, ...] = ()
    flag: str = ""  # its command-line flag, where it has one
    aliases: tuple[str, ...] = ()  # short spellings of the flag, as llama.cpp's tools have them
    label: str = ""  # its label in the ⚙ dialog (a checkbox's text), where the window offers it
    help: str = ""
    flat: str = ""  # its key in the window's settings file and the arena's records; default: its name
    special: str = ""  # the ⚙ dialog's word for the lowest value ("auto", "all")
    step: int = 1
    multiline: bool = False
    window_default: Any = UNSET  # where the window starts elsewhere than the headless doors


def setting(default: Any, what: str, **spec: Any) -> Any:
    """A settings group's field, with its declaration in the field's metadata."""
    return field(default=default, metadata={"setting": Spec(what, **spec)})


@dataclass(frozen=True)
class SamplingSettings:
    """How tokens are picked (llama.cpp's sampler chain)."""

    temperature: float = setting(defaults.TEMPERATURE, "the temperature", llama="sampler temp", lo=0.0, hi=5.0,
                                 flag="--temp", label="Temperature",
                                 help="0 = greedy: the same answer every time (best for comparing speed)")
    max_tokens: int = setting(defaults.MAX_TOKENS, "max tokens", llama="n_predict", lo=1, hi=1 << 20,
                              flag="--max-tokens", aliases=("-n",), label="Max tokens",
                              help=f"tokens to generate at most (default {defaults.MAX_TOKENS}, as in the "
                                   "window, compare and bench)")
    seed: int = setting(defaults.SEED, "the seed", llama="sampler dist seed", lo=0, hi=2**32 - 1, flag="--seed",
                        label="Seed", help="seed of the random sampler (no effect when greedy)")
    top_p: float = setting(0.95, "top-p", llama="sampler top_p", lo=0.0, hi=1.0, flag="--top-p")
    top_k: int = setting(40, "top-k", llama="sampler top_k", lo=0, hi=1 << 20, flag="--top-k",
                         help="0 = off")
    min_p: float = setting(0.05, "min-p", llama="sampler min_p", lo=0.0, hi=1.0, flag="--min-p")
    repeat_penalty: float = setting(1.0, "the repeat penalty", llama="sampler penalties (penalty_repeat)",
                                    lo=0.0, hi=100.0, flag="--repeat-penalty", help="1 = off")
    stop: tuple[str, ...] = setting((), "a stop string", llama="stop strings (checked on the text)", flag="--stop",
                                    help="stop string (repeatable)")
    # llama.cpp's --ignore-eos: end-of-generation tokens are never picked, so a
    # speed check runs exactly max_tokens tokens.
    ignore_eos: bool = setting(False, "ignore EOS", llama="logit bias -inf on end-of-generation tokens",
                               flag="--ignore-eos",
                               help="never end at an end-of-generation token: exactly --max-tokens tokens "
                                    "(as llama.cpp's tools; answers are then cut, not finished)")


@dataclass(frozen=True)
class LoadSettings:
    """What the user set for loading; everything else is llama.cpp's tools' default."""

    n_ctx: int = setting(defaults.N_CTX, "the context size", llama="llama_context_params.n_ctx", lo=128, hi=1 << 22,
                         flag="--ctx", label="Context size", step=1024,
                         help="context size; one value per model, comma-separated, as llama-bench takes them")
    n_gpu_layers: int = setting(-1, "GPU layers", llama="llama_model_params.n_gpu_layers", lo=-1, hi=10_000,
                                flag="--gpu-layers", label="GPU layers", special="all",
                                help="layers to offload to a GPU (default -1 = all; none where no GPU backend "
                                     "is built in)")
    n_batch: int = setting(0, "the batch size", llama="llama_context_params.n_batch", lo=0, hi=1 << 20,
                           help="0 = llama.cpp's default")
    flash_attn: str = setting("auto", "flash attention", llama="llama_context_params.flash_attn_type",
                              choices=FLASH_ATTN_CHOICES, flag="--flash-attn", aliases=("-fa",),
                              label="Flash attention",
                              help="flash attention (default: auto, llama.cpp's: on where the backend supports it)")
    type_k: str = setting("f16", "the K cache type", llama="llama_context_params.type_k", choices=KV_CACHE_TYPES,
                          flag="--cache-type-k", aliases=("-ctk",), label="K cache type",
                          help="KV cache type for keys; f16 is llama.cpp's default")
    type_v: str = setting("f16", "the V cache type", llama="llama_context_params.type_v", choices=KV_CACHE_TYPES,
                          flag="--cache-type-v", aliases=("-ctv",), label="V cache type",
                          help="KV cache type for values; f16 is llama.cpp's default (quantized needs flash "
                               "attention)")
    # Off, as llama.cpp's tools have it (common_params.swa_full, llama-bench's cparams): the
    # sliding-window layers keep a window-sized cache. The C API's default (on) gives them a
    # full-size one, which is not what llama-server or llama-bench measure.
    swa_full: bool = setting(False, "the full-size sliding-window cache", llama="llama_context_params.swa_full",
                             flag="--swa-full", label="Full-size sliding-window cache (swa_full)",
                             help="give sliding-window attention layers (Gemma) a full-size KV cache instead of "
                                  "a window-sized one (llama.cpp's tools' default: off)")

    # The conversation's cache (issue 31): the context checkpoints a recurrent state or a
    # window-sized sliding-window cache needs to go back to a shorter prefix, bounded as
    # llama-server bounds them (--ctx-checkpoints, --checkpoint-min-step) and in memory.
    ctx_checkpoints: int = setting(32, "the context checkpoints", llama="llama-server's --ctx-checkpoints", lo=0,
                                   hi=1024, flag="--ctx-checkpoints", label="Context checkpoints",
                                   help="checkpoints kept of a recurrent or sliding-window state, so a kept "
                                        "conversation cache can go back to an earlier turn (llama-server's "
                                        "default: 32; 0 = none)")
    checkpoint_min_step: int = setting(8192, "the checkpoint spacing", llama="llama-server's --checkpoint-min-step",
                                       lo=0, hi=1 << 22, flag="--checkpoint-min-step",
                                       help="tokens between context checkpoints kept when the list is full "
                                            "(llama-server's default: 8192)")
    checkpoint_mib: int = setting(8192, "the checkpoint memory", llama="bytes of checkpoints (ours)", lo=0,
                                  hi=1 << 20, flag="--checkpoint-mib",
                                  help="MiB the context checkpoints may hold at most (ours; llama-server bounds "
                                       "only their count; 8192 as its --cache-ram)")

    # Speculative decoding (engine/local/speculative.py): a draft proposes tokens, the model
    # checks them in one batch. llama.cpp's tools call these --spec-type, --spec-draft-model,
    # --spec-draft-n-max/-n-min and --spec-ngram-simple-size-n.
    speculation: str = setting("off", "speculation", llama="--spec-type (draft / ngram-simple)",
                               choices=SPECULATION_KINDS, flag="--spec", label="Speculative decoding",
                               help="speculative decoding: off, draft (a small model with the same vocabulary, "
                                    "--draft) or ngram (lookup in the prompt and reply so far); greedy only")
    draft_model: str = setting("", "the draft model", llama="--spec-draft-model", flag="--draft",
                               label="Draft model (file)",
                               help="a small GGUF with the same vocabulary that drafts tokens for this model "
                                    "(turns --spec draft on)")
    draft_max: int = setting(0, "the draft length", llama="--spec-draft-n-max / --spec-ngram-simple-size-m",
                             lo=0, hi=MAX_DRAFT, flag="--draft-max", label="Draft tokens at most",
                             special="llama.cpp's",
                             help=f"tokens drafted at most per step (0 = llama.cpp's default: "
                                  f"{DRAFT_MAX_DEFAULT['draft']} for a draft model, {DRAFT_MAX_DEFAULT['ngram']} "
                                  "for n-gram lookup)")
    draft_min: int = setting(0, "the least draft length", llama="--spec-draft-n-min", lo=0, hi=MAX_DRAFT,
                             flag="--draft-min", label="Draft tokens at least",
                             help="a shorter draft is not checked; the model decodes one token instead "
                                  "(llama.cpp's default: 0)")
    ngram_n: int = setting(12, "the n-gram length", llama="--spec-ngram-simple-size-n", lo=1, hi=64,
                           flag="--spec-ngram-n",
                           help="tokens an n-gram lookup matches before it drafts what followed them "
                                "(llama.cpp's default: 12)")

    def draft_length(self) -> int:
        """Tokens drafted at most per step, llama.cpp's default for the kind where unset."""
        return self.draft_max or DRAFT_MAX_DEFAULT.get(self.speculation, 0)

    def problem(self) -> str | None:
        """One sentence if a setting is not one llama.cpp takes, else None."""
        problem = problem_of(self)
        if problem is None and self.speculation == "draft" and not self.draft_model:
            return "Speculation with a draft model needs the draft model's file (--draft FILE)."
        if problem is None and self.speculation != "off" and self.draft_min > self.draft_length():
            return (f"The least draft length ({self.draft_min}) is more than the draft length "
                    f"({self.draft_length()}); lower --draft-min or raise --draft-max.")
        return problem


@dataclass(frozen=True)
class PromptOptions:
    """How the prompt is put to the model, and with how many threads."""

    system_prompt: str = setting("", "the system prompt", llama="the chat template's system message", flag="--system",
                                 label="System prompt", multiline=True, help="system prompt")
    raw: bool = setting(False, "raw completion", llama="no chat template: the text is the prompt", flag="--raw",
                        label="Raw completion (no chat template)", flat="raw_mode",
                        help="raw completion: no chat template")
    thinking: bool | None = setting(None, "thinking", llama="the chat template's enable_thinking", flag="--think",
                                    label="Let the model think first", window_default=True,
                                    help="thinking on (--think) or off (--no-think) where the template has a switch; "
                                         "default: the template's")
    # keep: a conversation's next turn reuses what the worker's cache holds of it, as every
    # chat app does (the window's default); cold: every prompt is read whole (compare, bench).
    cache: str = setting(CACHE_COLD, "the conversation cache", llama="llama-server's cache_prompt",
                         choices=CACHE_POLICIES, flag="--cache", label="Conversation cache",
                         window_default=CACHE_KEEP,
                         help="keep: reuse the conversation's cache between turns, prefill only what is new; "
                              "cold: every prompt cold (measure each prompt whole)")
    # The one thread setting: 0 lets the mode decide (all threads in fair, a share in race);
    # the session computes the split from it, once per round, and the result records it.
    n_threads: int = setting(0, "the thread count", llama="llama_set_n_threads (per request)", lo=0, hi=1024,
                             flag="--threads", label="CPU threads", special="auto (by mode)",
                             help="one value: the CPU threads in all (0 = all cores; race splits them); "
                                  "a comma list: each model's own threads (e.g. 2,4)")


@dataclass(frozen=True)
class ServerSettings:
    """How a model on a server is reached (ignored for a local file)."""

    connect_timeout_s: float = setting(defaults.SERVER_CONNECT_TIMEOUT_S, "the connect timeout", lo=0.1, hi=86_400.0,
                                       flag="--connect-timeout", flat="server_connect_timeout_s",
                                       help="seconds to connect to a server")
    first_byte_timeout_s: float = setting(defaults.SERVER_FIRST_BYTE_TIMEOUT_S, "the first-byte timeout", lo=0.1,
                                          hi=86_400.0, flag="--first-byte-timeout",
                                          flat="server_first_byte_timeout_s",
                                          help="seconds until a server starts answering")
    # Not a byte (not even a ping) for this long mid-stream: the stream is dead.
    idle_timeout_s: float = setting(defaults.SERVER_IDLE_TIMEOUT_S, "the idle timeout", lo=0.1, hi=86_400.0,
                                    flag="--idle-timeout", flat="server_idle_timeout_s",
                                    help="seconds of silence mid-stream before giving up")
    # Not settings (no declaration): which key goes where is decided per run, never saved.
    api_key_env: str | None = None  # None: GEMMACOMPARE_API_KEY, then a stored key
    # Base URLs of every server in the run: a shared key (GEMMACOMPARE_API_KEY) goes to a
    # server only when all of them are that server (state/secrets.py). Empty: only this one.
    servers_in_run: tuple[str, ...] = ()


@dataclass(frozen=True)
class RunSettings:
    """One model's settings, the same type in the window, `compare`, `bench` and run files."""

    load: LoadSettings = field(default_factory=LoadSettings)
    sampling: SamplingSettings = field(default_factory=SamplingSettings)
    server: ServerSettings = field(default_factory=ServerSettings)
    prompt: PromptOptions = field(default_factory=PromptOptions)


# The groups in the order the ⚙ dialog shows them.
GROUPS: dict[str, type] = {"sampling": SamplingSettings, "load": LoadSettings, "prompt": PromptOptions,
                           "server": ServerSettings}


@dataclass(frozen=True)
class Setting:
    """One row of the table: a declared field, with where it lives."""

    name: str  # the field's name in its group
    group: str  # a RunSettings attribute: load, sampling, prompt, server
    kind: str  # bool | int | float | str | strings
    nullable: bool
    default: Any
    spec: Spec

    @property
    def flat(self) -> str:
        return self.spec.flat or self.name

    @property
    def window_default(self) -> Any:
        return self.default if self.spec.window_default is UNSET else self.spec.window_default


def _kind(annotation: str) -> tuple[str, bool]:
    nullable = annotation.endswith("| None")
    base = annotation.replace("| None", "").strip()
    return ("strings" if base.startswith("tuple[str") else base), nullable


def _table() -> tuple[Setting, ...]:
    rows = []
    for group, cls in GROUPS.items():
        for f in fields(cls):
            spec = f.metadata.get("setting")
            if spec is None:
                continue
            kind, nullable = _kind(str(f.type))
            rows.append(Setting(f.name, group, kind, nullable, f.default, spec))
    return tuple(rows)


SETTINGS: tuple[Setting, ...] = _table()
_BY_NAME = {s.name: s for s in SETTINGS}
_BY_FLAT = {s.flat: s for s in SETTINGS}
assert len(_BY_NAME) == len(_BY_FLAT) == len(SETTINGS), "setting names must be unique across groups"


def get(name: str) -> Setting:
    """The setting by its field name or its settings-file name; KeyError if there is none."""
    return _BY_NAME.get(name) or _BY_FLAT[name]


def is_setting(name: object) -> bool:
    return isinstance(name, str) and (name in _BY_NAME or name in _BY_FLAT)


def _fmt(x: float) -> str:
    return str(int(x)) if math.isfinite(x) and x == int(x) and abs(x) < 1e15 else f"{x:g}"


def validate(name: str, value: Any) -> Any:
    """`value` as the setting holds it (an int made float where it takes floats, a list
    of stop strings made a tuple), or SettingError with one sentence."""
    s = get(name)
    what = s.spec.what
    if value is None:
        if s.nullable:
            return None
        raise SettingError(f"{what.capitalize()} needs a value.")
    if s.kind == "bool":
        if not isinstance(value, bool):
            raise SettingError(f"{what.capitalize()} is on or off (true or false), not {_shown(value)}.")
        return value
    if s.kind == "strings":
        if not isinstance(value, (list, tuple)) or not all(isinstance(x, str) for x in value):
            raise SettingError(f"{what.capitalize()} list must be a list of texts.")
        if len(value) > MAX_STOP_STRINGS or any(len(x) > MAX_STOP_CHARS for x in value):
            raise SettingError(f"At most {MAX_STOP_STRINGS} stop strings of {MAX_STOP_CHARS} characters each.")
        return tuple(value)
    if s.kind == "str":
        if not isinstance(value, str):
            raise SettingError(f"{what.capitalize()} must be a text, not {_shown(value)}.")
        if s.spec.choices and value not in s.spec.choices:
            raise SettingError(f"{what.capitalize()} must be one of {', '.join(s.spec.choices)}, not {_shown(value)}.")
        if len(value) > MAX_TEXT_CHARS:
            raise SettingError(f"{what.capitalize()} is longer than {MAX_TEXT_CHARS:,} characters.")
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SettingError(f"{what.capitalize()} must be a number, not {_shown(value)}.")
    if s.kind == "int":
        if not isinstance(value, int):
            raise SettingError(f"{what.capitalize()} must be a whole number, not {_shown(value)}.")
    else:
        value = float(value)
        if not math.isfinite(value):
            raise SettingError(f"{what.capitalize()} must be a finite number, not {value}.")
    lo, hi = s.spec.lo, s.spec.hi
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise SettingError(f"{what.capitalize()} must be between {_fmt(lo if lo is not None else -math.inf)} and "
                           f"{_fmt(hi if hi is not None else math.inf)}, not {_fmt(value)}.")
    return value


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def problem_of(group: Any) -> str | None:
    """One sentence for the first of a settings group's values (LoadSettings, SamplingSettings, …)
    that its declaration refuses, else None."""
    for f in fields(group):
        try:
            validate(f.name, getattr(group, f.name))
        except SettingError as exc:
            return str(exc)
    return None


def group_from_dict(group: str, values: Any) -> Any:
    """A settings group from a dict of field names (a run file's, a stored config's):
    every known field validated, unknown ones ignored (a newer file's)."""
    cls = GROUPS[group]
    if values is None:
        return cls()
    if not isinstance(values, Mapping):
        raise SettingError(f"The {group} settings are not an object.")
    known = {s.name for s in SETTINGS if s.group == group}
    return cls(**{k: validate(k, v) for k, v in values.items() if k in known})


def with_values(base: RunSettings, values: Mapping[str, Any]) -> RunSettings:
    """`base` with the settings in `values` (by field or file name) changed, each validated;
    an unknown name is a KeyError (a caller's mistake, not a user's)."""
    by_group: dict[str, dict[str, Any]] = {}
    for name, value in values.items():
        s = get(name)
        by_group.setdefault(s.group, {})[s.name] = validate(s.name, value)
    return replace(base, **{g: replace(getattr(base, g), **kw) for g, kw in by_group.items()})


def value_of(settings: RunSettings, name: str) -> Any:
    s = get(name)
    return getattr(getattr(settings, s.group), s.name)


def window_defaults() -> RunSettings:
    """The window's settings for a new pane: the table's defaults, the window's own where it has them."""
    return with_values(RunSettings(), {s.name: s.window_default for s in SETTINGS
                                       if s.spec.window_default is not UNSET})


def to_flat(settings: RunSettings) -> dict[str, Any]:
    """Every setting by its file name (the window's settings file, the arena's records)."""
    return {s.flat: list(v) if isinstance(v := value_of(settings, s.name), tuple) else v for s in SETTINGS}


def from_flat(values: Any, base: RunSettings | None = None) -> RunSettings:
    """Settings from a flat dict (the window's settings file); unknown keys are ignored."""
    if not isinstance(values, Mapping):
        raise SettingError("A model's settings are not an object.")
    known = {k: v for k, v in values.items() if k in _BY_FLAT}
    return with_values(base or window_defaults(), {_BY_FLAT[k].name: v for k, v in known.items()})


__all__ = ["CACHE_COLD", "CACHE_KEEP", "CACHE_POLICIES", "DRAFT_MAX_DEFAULT", "FLASH_ATTN_CHOICES",
           "SPECULATION_KINDS", "GROUPS", "KV_CACHE_TYPES", "SETTINGS", "LoadSettings", "PromptOptions",
           "RunSettings", "SamplingSettings", "ServerSettings", "Setting", "SettingError", "Spec", "from_flat",
           "get", "group_from_dict", "is_setting", "problem_of", "setting", "to_flat", "validate", "value_of",
           "window_defaults",
           "with_values"]
