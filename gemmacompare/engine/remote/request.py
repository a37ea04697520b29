"""The body of a streamed chat or completion request, for the servers we meet."""

from __future__ import annotations

from typing import Any

from gemmacompare.engine import protocol as p
from gemmacompare.engine.remote.client import ServerModel
from gemmacompare.engine.remote.server_ref import ServerRef


def request_body(cmd: p.GenerateCommand, model: str, ollama: bool) -> dict[str, Any]:
    s = cmd.sampling
    body: dict[str, Any] = {
        "model": model,
        "stream": True,
        "stream_options": {"include_usage": True},
        "max_tokens": s.max_tokens,
        "temperature": s.temperature,
        "top_p": s.top_p,
        "seed": s.seed,
        # Not in OpenAI's spec, but llama-server, llama_cpp.server, vLLM and
        # LM Studio take them; their own defaults differ from llama.cpp's
        # (llama_cpp.server: repeat_penalty 1.1), which would change the answer.
        "top_k": s.top_k,
        "min_p": s.min_p,
        "repeat_penalty": s.repeat_penalty,
    }
    if s.stop:
        body["stop"] = list(s.stop)
    if s.ignore_eos:
        # llama-server's own field; other servers ignore an unknown key and may stop early.
        body["ignore_eos"] = True
    if cmd.raw_prompt is not None:
        body["prompt"] = cmd.raw_prompt
    else:
        body["messages"] = [{"role": m.role, "content": m.content} for m in cmd.messages]
    if cmd.enable_thinking is not None and cmd.raw_prompt is None:
        if ollama:
            if not cmd.enable_thinking:
                body["reasoning_effort"] = "none"
        else:
            body["chat_template_kwargs"] = {"enable_thinking": cmd.enable_thinking}
    return body


def is_ollama(ref: ServerRef, model: ServerModel | None) -> bool:
    return ref.base_url.rstrip("/").endswith(":11434/v1") or (model is not None and model.owned_by == "library")


