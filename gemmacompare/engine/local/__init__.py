"""Models run here: the worker process (child.py), its parent-side proxy (model_worker.py) and llama.cpp."""
