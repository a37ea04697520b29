"""Widgets only: consumes engine events, never calls llama.cpp."""
