"""`gemmacompare compare A B --chat FILE`: conversations played turn by turn, figures per turn.

Each turn sends every model its own history (its replies kept, greedy) plus the
next user message, with the cache kept (`--cold`: every turn prefills the whole
conversation). A model on llama-server keeps its own cache (cache_prompt, on
by default); its `timings.cache_n` is printed as its reused count.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Callable, Sequence

from gemmacompare.bench.conversations import ConversationFileError, ConversationSuite, load_conversations
from gemmacompare.cli.compare import PromptInputError, say
from gemmacompare.cli.exit_codes import EXIT_MODEL_FAILED, EXIT_OK
from gemmacompare.engine.api import (
    CompareSession,
    ConversationResult,
    RunSettings,
    SessionEvent,
    conversation_dict,
    conversation_run_dict,
    play_conversation,
    text_table,
    total_rows,
    turn_rows,
    write_run_file,
)
from gemmacompare.engine.api import protocol as p
from gemmacompare.state.untrusted import terminal_safe


def read_chats(args: argparse.Namespace) -> ConversationSuite:
    """The conversations of --chat; raises PromptInputError with the reader's one sentence."""
    try:
        suite = load_conversations(args.chat)
    except ConversationFileError as exc:
        raise PromptInputError(exc.message) from None
    problem = check_chat_suite(args, suite)
    if problem:
        raise PromptInputError(problem)
    return suite


def cache_policy(args: argparse.Namespace) -> str:
    return p.CACHE_COLD if getattr(args, "cold", False) else p.CACHE_KEEP


def play_chats(session: CompareSession, suite: ConversationSuite, settings: Sequence[RunSettings],
               args: argparse.Namespace, labels: list[str], on_event: Callable[[int, SessionEvent], None],
               threads_total: int | None, paths: Sequence[str] = (), refs: Sequence[str] = ()) -> int:
    """Plays every conversation of the suite on the loaded session; prints each turn's
    figures and the totals; --json writes them all. `on_event`: compare's printer of the
    streamed replies and their errors, the same for a single prompt and a conversation."""
    policy = cache_policy(args)
    # A conversation's replies are kept greedy: a sampled reply would make each run another conversation.
    greedy = [s if s.sampling.temperature == 0 else _greedy(s) for s in settings]
    if any(s is not g for s, g in zip(settings, greedy)):
        print("# --chat answers greedily (temperature 0): the replies are part of the conversation",
              file=sys.stderr)

    results: list[ConversationResult] = []
    for conv in suite.conversations:
        print(f"# conversation {say(conv.id)}: {len(conv.turns)} turns, cache {policy}"
              + (" (the first turn cold)" if policy == p.CACHE_KEEP else ""), file=sys.stderr)

        turn_seen: set[int] = set()

        def announce(i: int, ev: SessionEvent, conv_turns: tuple[str, ...] = conv.turns) -> None:
            if isinstance(ev, p.PromptReady) and ev.request_id not in turn_seen:
                turn_seen.add(ev.request_id)
                text = conv_turns[ev.request_id - 1] if 0 < ev.request_id <= len(conv_turns) else ""
                print(f"# turn {ev.request_id}: {terminal_safe(text, 200)}", file=sys.stderr)
            on_event(i, ev)

        try:
            result = play_conversation(session, greedy, conv, policy, args.mode, threads_total, announce)
        except KeyboardInterrupt:
            session.stop()
            raise
        results.append(result)
        print(file=sys.stderr)
        print(terminal_safe(text_table(turn_rows(result, labels)), 1 << 20, keep_newlines=True))
        print()
        print(terminal_safe(text_table(total_rows(result, labels)), 1 << 20, keep_newlines=True))
        print()
        if result.stopped:
            break
    if getattr(args, "json_out", None):
        doc = {"suite": suite.name, "cache": policy, "mode": args.mode,
               "conversations": [conversation_dict(r, labels) for r in results]}
        Path(args.json_out).write_text(json.dumps(doc, indent=1))
        print(f"# wrote {args.json_out}", file=sys.stderr)
    save_run = getattr(args, "save_run", None)
    if save_run and results:
        write_run_file(save_run, conversation_run_dict(results[0], labels, list(paths), list(greedy),
                                                       redact_prompts=args.redact_prompts, refs=list(refs)))
        print(f"# wrote {save_run} (rerun its turns with: gemmacompare rerun {save_run})", file=sys.stderr)
    failed = any(side.failed for r in results for side in r.models)
    return EXIT_MODEL_FAILED if failed else EXIT_OK


def _greedy(s: RunSettings) -> RunSettings:
    return replace(s, sampling=replace(s.sampling, temperature=0.0))


def check_chat_args(args: argparse.Namespace) -> str | None:
    """A problem with --chat's companions, or None."""
    if getattr(args, "cold", False) and getattr(args, "chat", None) is None:
        return "--cold goes with --chat (it sends every turn of a conversation cold)."
    if getattr(args, "chat", None) is not None and getattr(args, "raw", False):
        return "--chat plays chat turns through the model's template; it cannot be combined with --raw."
    if getattr(args, "chat", None) is not None and getattr(args, "ab", False):
        return "--chat plays conversations; the speculation A/B (--ab) measures one prompt: use -p with --ab."
    return None


def check_chat_suite(args: argparse.Namespace, suite: ConversationSuite) -> str | None:
    if getattr(args, "save_run", None) and len(suite) != 1:
        return (f"--save-run keeps one conversation and {terminal_safe(suite.name, 100)} has {len(suite)}; "
                "put the one to save in a file of its own.")
    return None
    return None


__all__ = ["cache_policy", "check_chat_args", "play_chats", "read_chats"]
