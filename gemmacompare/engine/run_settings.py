"""One settings type for a model's run, shared by the window, `compare` and `bench`.

`RunSettings` is composed of what loads the model (LoadSettings), how tokens
are picked (SamplingSettings), how a server is reached (ServerSettings) and
how the prompt is put (PromptOptions); every default comes from
`state.defaults`. A round's overrides go through `dataclasses.replace`, and
the one `GenerateCommand` a model gets is built here and nowhere else, so a
new field cannot be dropped by a door that rebuilds it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from gemmacompare.engine import protocol as p
from gemmacompare.state import defaults
from gemmacompare.state.settings import PaneSettings


@dataclass(frozen=True)
class ServerSettings:
    """How a model on a server is reached (ignored for a local file)."""

    connect_timeout_s: float = defaults.SERVER_CONNECT_TIMEOUT_S
    first_byte_timeout_s: float = defaults.SERVER_FIRST_BYTE_TIMEOUT_S
    # Not a byte (not even a ping) for this long mid-stream: the stream is dead.
    idle_timeout_s: float = defaults.SERVER_IDLE_TIMEOUT_S
    api_key_env: str | None = None  # None: GEMMACOMPARE_API_KEY, then a stored key
    # Base URLs of every server in the run: a shared key (GEMMACOMPARE_API_KEY) goes to a
    # server only when all of them are that server (state/secrets.py). Empty: only this one.
    servers_in_run: tuple[str, ...] = ()


@dataclass(frozen=True)
class PromptOptions:
    system_prompt: str = ""
    raw: bool = False  # raw completion: the text goes to the model as it is, no template
    thinking: bool | None = None  # None: the template's default; only sent where the template has a switch
    n_threads: int = 0  # 0: the mode decides (all threads in fair, a share in race)


@dataclass(frozen=True)
class RunSettings:
    load: p.LoadSettings = field(default_factory=p.LoadSettings)
    sampling: p.SamplingSettings = field(default_factory=p.SamplingSettings)
    server: ServerSettings = field(default_factory=ServerSettings)
    prompt: PromptOptions = field(default_factory=PromptOptions)

    def command(self, history: tuple[p.ChatMessage, ...] | list[p.ChatMessage], text: str, *,
                request_id: int = 1, thinking_switch: bool = True, n_threads: int | None = None,
                **sampling_overrides: Any) -> p.GenerateCommand:
        """The request for `text` after `history` (earlier turns, no system prompt)."""
        o = self.prompt
        messages: list[p.ChatMessage] = []
        if o.system_prompt:
            messages.append(p.ChatMessage("system", o.system_prompt))
        messages += [*history, p.ChatMessage("user", text)]
        return p.GenerateCommand(
            request_id=request_id,
            messages=() if o.raw else tuple(messages),
            raw_prompt=text if o.raw else None,
            sampling=replace(self.sampling, **sampling_overrides) if sampling_overrides else self.sampling,
            enable_thinking=o.thinking if thinking_switch else None,
            n_threads=n_threads,
        )


def from_pane(s: PaneSettings) -> RunSettings:
    """The window's saved per-pane settings as a RunSettings."""
    return RunSettings(
        load=p.LoadSettings(n_ctx=s.n_ctx, n_threads=s.n_threads, n_gpu_layers=s.n_gpu_layers,
                            flash_attn=s.flash_attn, type_k=s.type_k, type_v=s.type_v),
        sampling=p.SamplingSettings(max_tokens=s.max_tokens, temperature=s.temperature, seed=s.seed),
        server=ServerSettings(s.server_connect_timeout_s, s.server_first_byte_timeout_s, s.server_idle_timeout_s),
        prompt=PromptOptions(system_prompt=s.system_prompt, raw=s.raw_mode, thinking=s.thinking,
                             n_threads=s.n_threads),
    )
