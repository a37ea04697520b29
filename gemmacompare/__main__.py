"""`python -m gemmacompare` and the `gemmacompare` command."""

import sys


def run() -> None:
    from gemmacompare.cli import main

    sys.exit(main())


if __name__ == "__main__":
    run()
