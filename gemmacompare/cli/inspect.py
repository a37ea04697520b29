"""`gemmacompare inspect`: a GGUF file's facts, without loading it."""

from __future__ import annotations

import json
import sys

from gemmacompare.cli.exit_codes import EXIT_OK
from gemmacompare.models.gguf_file import ModelFileError, read_model_facts


def cmd_inspect(args) -> int:
    status = EXIT_OK
    out = []
    for f in args.files:
        try:
            facts = read_model_facts(f)
        except ModelFileError as exc:
            print(f"error: {exc.message}", file=sys.stderr)
            status = exc.problem.value
            continue
        if args.json:
            d = dict(facts.__dict__)
            d["has_chat_template"] = facts.has_chat_template
            out.append(d)
        else:
            print("\n".join(facts.summary_lines()))
            print()
    if args.json:
        print(json.dumps(out, indent=2))
    return status
