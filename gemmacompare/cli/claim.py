"""`gemmacompare claim "A=45ms B=110ms" A.gguf B.gguf`: does a posted speed ratio hold here?

The claim's figures are per model, in the order the models are named, as ms
per token (`45ms`) or tokens per second (`22t/s`). The measuring and the
verdict are engine/claim.py's, shared with the window's *Check a claim…*.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gemmacompare.cli.args import flag_values
from gemmacompare.cli.compare import labels_for
from gemmacompare.cli.exit_codes import EXIT_MODEL_FAILED, EXIT_OK, EXIT_USAGE
from gemmacompare.engine.api import ClaimCheck, ClaimFailed, claim_run_dict, parse_claim, write_run_file
from gemmacompare.state.untrusted import terminal_safe


def cmd_claim(args: argparse.Namespace) -> int:
    claim = parse_claim(args.claim)
    if isinstance(claim, str):
        print(f"error: {claim}", file=sys.stderr)
        return EXIT_USAGE
    if len(claim) != len(args.models):
        print(f"error: the claim names {len(claim)} models but {len(args.models)} model files were given; "
              "give one per claimed figure, in the same order.", file=sys.stderr)
        return EXIT_USAGE
    from gemmacompare.cli.servers import is_server_ref, remote_settings, resolve_with_servers

    try:
        paths = [str(x) for x in resolve_with_servers(list(args.models), remote_settings(args))]
    except LookupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_MODEL_FAILED
    if any(is_server_ref(x) for x in paths):
        print("error: a claim is checked on local model files; a server's speed is not this machine's.",
              file=sys.stderr)
        return EXIT_USAGE
    check = ClaimCheck(claim, paths, args.runs, args.max_tokens, args.prompt, args.ctx, args.threads,
                       labels_for(len(paths)), settings=flag_values(args))

    def progress(message: str, done: int, total: int) -> None:
        print(f"# {message}", file=sys.stderr)

    try:
        result = check.run(progress)
    except ClaimFailed as exc:
        print(f"error: {terminal_safe(exc.message, 400)}", file=sys.stderr)
        return EXIT_MODEL_FAILED
    print(result.sentence)
    if args.save_run and result.last is not None:
        write_run_file(Path(args.save_run), claim_run_dict(check, result, args.claim,
                                                           refs=[str(x) for x in args.models]))
        print(f"# wrote {args.save_run} (its last run; replay it with: gemmacompare replay {args.save_run})",
              file=sys.stderr)
    return EXIT_OK  # a claim that does not hold is an answer, not a failure


__all__ = ["cmd_claim"]
