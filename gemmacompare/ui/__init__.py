"""Widgets only: consumes engine events, never calls llama.cpp."""

import os

# Qt's raster engine hands every large fill (a chart, a screenful of text) to
# a pool of helper threads and waits for them. In a race both cores already
# run a model, so the helpers only preempt the models and add hand-offs:
# measured with both cores busy, a chart redraw cost 33% more CPU with them
# (4.0 vs 2.7 ms). Painting stays on the GUI thread unless the user says otherwise.
os.environ.setdefault("QT_NO_GUI_THREADPOOL", "1")
