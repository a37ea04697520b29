"""`python -m gemmacompare` and the `gemmacompare` command."""

import multiprocessing
import sys


def run() -> None:
    # Model workers are spawned processes; in a PyInstaller bundle the child
    # re-runs this executable, and freeze_support turns it into the worker.
    multiprocessing.freeze_support()
    from gemmacompare.cli.main import main

    sys.exit(main())


if __name__ == "__main__":
    run()
