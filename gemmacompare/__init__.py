"""gemmacompare: two local LLMs, one prompt, honest numbers."""

__version__ = "0.1.0"
