"""Text output of results: the one-line verdict and the side-by-side stats table."""
