"""`gemmacompare arena`: the blind arena's stored rounds and leaderboard, for scripts.

    gemmacompare arena --list [--json]          # every stored round, newest last
    gemmacompare arena --leaderboard [--json]   # the same table as the window's Arena tab

Rounds are played in the window (View ▸ Blind arena, F8); this command only reads them.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from gemmacompare.arena.battles import Battle
from gemmacompare.arena.leaderboard import build_leaderboard, leaderboard_json, leaderboard_text
from gemmacompare.arena.store import ArenaStore, ArenaStoreError
from gemmacompare.cli.args import int_at_least
from gemmacompare.cli.exit_codes import EXIT_ERROR, EXIT_OK
from gemmacompare.engine.api import text_table


def add_arena_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    a = sub.add_parser("arena", help="print the blind arena's stored rounds or its leaderboard",
                       description="Read the blind arena history (rounds are played in the window, F8).")
    what = a.add_mutually_exclusive_group()
    what.add_argument("--list", action="store_true", help="every stored round with its vote")
    what.add_argument("--leaderboard", action="store_true", help="ratings with 95%% intervals beside speed (default)")
    a.add_argument("--json", action="store_true", help="print JSON")
    a.add_argument("--bootstrap", type=int_at_least(10), default=1000, help="bootstrap samples (default 1000)")
    return a


def cmd_arena(args: argparse.Namespace) -> int:
    store = ArenaStore()
    try:
        battles = store.battles()
    except ArenaStoreError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return EXIT_ERROR
    if store.notice:
        print(store.notice, file=sys.stderr)
    if args.list:
        print(json.dumps([_battle_dict(b) for b in battles], indent=2) if args.json else _list_text(battles))
        return EXIT_OK
    board = build_leaderboard(battles, bootstrap=args.bootstrap)
    print(leaderboard_json(board) if args.json else leaderboard_text(board), end="" if not args.json else "\n")
    return EXIT_OK


def _vote_text(b: Battle) -> str:
    if b.votes is None:
        return "not voted"
    return b.votes.winner_text() + (f" (not counted: {b.not_counted})" if b.not_counted else "")


def _list_text(battles: list[Battle]) -> str:
    if not battles:
        return "No arena rounds yet: turn on View ▸ Blind arena (F8) in the window and vote."
    rows = [["id", "time", "mode", "Model 1", "Model 2", "vote", "prompt"]]
    for b in battles:
        prompt = " ".join(b.prompt.split())
        rows.append([str(b.id), b.created.replace("T", " ")[:19], b.mode, b.sides[0].contender.name,
                     b.sides[1].contender.name, _vote_text(b), prompt[:40] + ("…" if len(prompt) > 40 else "")])
    return text_table(rows)


def _battle_dict(b: Battle) -> dict[str, Any]:
    return {"id": b.id, "created": b.created, "prompt": b.prompt, "mode": b.mode, "swapped": b.swapped,
            "model_1": b.sides[0].to_dict(), "model_2": b.sides[1].to_dict(),
            "votes": None if b.votes is None else b.votes.by_outcome(), "voted": b.voted,
            "counted": b.counted, "not_counted": b.not_counted}
