"""Exit statuses of the command line (bad model files use 10-18, see model_file.FileProblem)."""

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_MODEL_FAILED = 3
EXIT_INTERRUPTED = 130
