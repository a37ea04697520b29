#!/usr/bin/env bash
# Sets up a fresh machine for gemmacompare: Qt's system libraries and the Vulkan
# build tools with Mesa's lavapipe (Debian/Ubuntu, when run as root), a virtualenv
# in .venv with llama-cpp-python built as the bundle has it, the app with its demo
# models and test tools.
# Safe to run again: it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

QT_DEBS="libegl1 libgl1 libxkbcommon0 libxkbcommon-x11-0 libfontconfig1 libglib2.0-0 libdbus-1-3 \
libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-randr0 libxcb-render-util0 \
libxcb-shape0 libxcb-xinerama0 libxcb-xkb1 fonts-dejavu-core"
if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    missing=""
    for pkg in $QT_DEBS; do
        dpkg -s "$pkg" >/dev/null 2>&1 || missing="$missing $pkg"
    done
    if [ -n "$missing" ]; then
        echo "setup: installing system libraries for Qt:$missing"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
    fi
fi

PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
# llama-cpp-python: the same portable build the bundle ships (one CPU library per
# instruction-set level, and the Vulkan backend where its build tools can be had),
# so the tests run on what users get. It is compiled once (15-30 minutes on 2
# cores) and cached in ~/.cache/gemmacompare/wheels; later runs take seconds.
WHEEL=$(./scripts/llama_wheel.sh)
stamp=.venv/llama-cpp-python.wheel
if [ "$(cat "$stamp" 2>/dev/null)" != "$(sha256sum "$WHEEL" | cut -d' ' -f1)" ]; then
    .venv/bin/python -m pip install -q --force-reinstall --no-deps "$WHEEL"
    sha256sum "$WHEEL" | cut -d' ' -f1 > "$stamp"
fi
.venv/bin/python -m pip install -q -e '.[dev]'
echo "setup: done (.venv ready)"
