"""Widgets only: consumes core events, never calls llama.cpp."""
