#!/usr/bin/env bash
# Screenshots of a saved run file's replay and of its rerun, on a real X server (Xvfb + openbox),
# the window driven with xdotool as a user would: docs/run-replay.png and docs/run-rerun.png.
#
#   scripts/screenshots_run_files.sh [PYTHON]    (needs Xvfb, openbox, xdotool, imagemagick's import)
#
# A fresh home and XDG folders: no saved settings, and nothing of the user's in the pictures.
set -euo pipefail
PY=${1:-.venv/bin/python}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d /tmp/gemmacompare-run-shots.XXXXXX)
export HOME=$WORK/home GEMMACOMPARE_HOME=$WORK/app XDG_CONFIG_HOME=$WORK/xdg/config XDG_DATA_HOME=$WORK/xdg/data \
       XDG_CACHE_HOME=$WORK/xdg/cache PYTHONPATH=$ROOT DISPLAY=${SHOT_DISPLAY:-:7}
export GEMMACOMPARE_CACHE_DIR=${GEMMACOMPARE_CACHE_DIR:-$WORK/cache}
mkdir -p "$HOME" "$GEMMACOMPARE_HOME"
started=()
cleanup() { for pid in "${started[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT
if ! xdpyinfo >/dev/null 2>&1; then
    Xvfb "$DISPLAY" -screen 0 1280x800x24 & started+=($!)
    sleep 2
    openbox & started+=($!)
    sleep 1
fi
cd "$ROOT"
RUN=$WORK/colours.gcrun
"$PY" -m gemmacompare compare smollm2 gemma3 -p "Name three colours." -n 200 --mode fair --save-run "$RUN" >/dev/null

"$PY" -m gemmacompare & started+=($!)
win=""
for _ in $(seq 120); do win=$(xdotool search --name '^gemmacompare$' 2>/dev/null | head -1) && [ -n "$win" ] && break; sleep 1; done
sleep 15  # the demo models load
xdotool windowactivate --sync "$win" key ctrl+shift+r
sleep 3
xdotool type --delay 20 "$RUN"
xdotool key Return
for _ in $(seq 60); do viewer=$(xdotool search --name 'colours.gcrun — replay' 2>/dev/null | head -1) && [ -n "$viewer" ] && break; sleep 1; done
xdotool windowactivate --sync "$viewer"
xdotool windowsize "$viewer" 1240 730 windowmove "$viewer" 20 40
sleep 25  # the replay plays at the recorded speed
import -window root docs/run-replay.png
xdotool key ctrl+r
sleep 3
rerun=$(xdotool search --name 'colours.gcrun — rerun' | head -1)
xdotool windowactivate --sync "$rerun"
xdotool windowsize "$rerun" 1120 600 windowmove "$rerun" 80 120
xdotool key Return  # Rerun here (the default button), three repetitions
sleep "${RERUN_WAIT_S:-120}"
import -window root docs/run-rerun.png
echo "wrote docs/run-replay.png docs/run-rerun.png"
