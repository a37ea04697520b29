#!/usr/bin/env bash
# Builds llama.cpp's own tools (llama-bench, llama-server) from the very llama.cpp
# source that the installed llama-cpp-python compiled, so speed figures can be checked
# against llama.cpp itself with the same code. Prints the folder holding the binaries.
#
#   scripts/build_llama_tools.sh            # build once, then reuse
#   PYTHON=.venv/bin/python nice -n 10 scripts/build_llama_tools.sh
#
# The binaries land in ${GEMMACOMPARE_TOOLS:-~/.cache/gemmacompare/llama-tools}/<version>/bin;
# a second run with both binaries present only prints that folder.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-.venv/bin/python}
[ -x "$PY" ] || PY=python3
VERSION=$("$PY" -c 'import importlib.metadata as m; print(m.version("llama-cpp-python"))')
LIB=$("$PY" -c 'import llama_cpp, pathlib; print(pathlib.Path(llama_cpp.__file__).resolve().parent / "lib")')
ROOT=${GEMMACOMPARE_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/gemmacompare/llama-tools}
PORTABLE=0
ls "$LIB"/libggml-cpu-*.so >/dev/null 2>&1 && PORTABLE=1
DEST="$ROOT/$VERSION"
[ "$PORTABLE" = 1 ] && DEST="$ROOT/$VERSION-portable"
TARGETS=${LLAMA_TOOLS_TARGETS:-"llama-bench llama-server"}

# A portable tool is a wrapper naming the llama-cpp-python it runs on; one made for another
# checkout's .venv (a CI cache kept across clones) is written again for this one.
wrap() {
    mkdir -p "$DEST/bin" "$DEST/real"
    rm -f "$DEST/real"/libggml-cpu-*.so  # a variant the wheel no longer has must not dangle here
    ln -sf "$LIB"/libggml-cpu-*.so "$DEST/real/"
    ls "$LIB"/libggml-vulkan*.so >/dev/null 2>&1 && ln -sf "$LIB"/libggml-vulkan*.so "$DEST/real/"
    cat > "$DEST/bin/$1" <<WRAP
#!/usr/bin/env bash
# llama.cpp's $1 on llama-cpp-python's own libraries and backends ($LIB)
LD_LIBRARY_PATH="$LIB\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}" exec "$DEST/real/$1" "\$@"
WRAP
    chmod +x "$DEST/bin/$1"
    echo "$VERSION portable, on $LIB" > "$DEST/bin/VERSION"
}

all_built=1
for t in $TARGETS; do
    if [ "$PORTABLE" = 1 ] && [ -x "$DEST/real/$t" ] && ! grep -qF "$LIB" "$DEST/bin/$t" 2>/dev/null; then
        wrap "$t"
    fi
    [ -x "$DEST/bin/$t" ] || all_built=0
done
if [ "$all_built" = 1 ]; then
    echo "$DEST/bin"
    exit 0
fi

mkdir -p "$DEST"
SRC="$DEST/src"
if [ ! -f "$SRC/vendor/llama.cpp/CMakeLists.txt" ]; then
    echo "build_llama_tools: fetching the llama-cpp-python $VERSION source from PyPI" >&2
    TMP=$(mktemp -d)
    trap 'rm -rf "$TMP"' EXIT
    "$PY" -m pip download -q --no-deps --no-binary :all: "llama-cpp-python==$VERSION" -d "$TMP" >&2
    rm -rf "$SRC" && mkdir -p "$SRC"
    tar xzf "$TMP"/llama_cpp_python-*.tar.gz -C "$SRC" --strip-components=1
fi

if [ "$PORTABLE" = 1 ]; then
    # The portable build setup.sh installs (scripts/llama_wheel.sh): the tools run on the
    # very libraries the app loads. Only their own code is compiled here, against the same
    # source and GGML_BACKEND_DL; llama.cpp's libraries (libllama, libggml) and its backends
    # (CPU variants, Vulkan) come from llama-cpp-python's folder at run time, so a tool and
    # the app cannot differ by a build option. Each tool in bin/ is a small wrapper that
    # points the loader at that folder; the backends are linked beside the real binary,
    # where llama.cpp looks for them.
    echo "build_llama_tools: building $TARGETS against $LIB (several minutes on 2 cores)" >&2
    cmake -S "$SRC/vendor/llama.cpp" -B "$DEST/build-portable" -G Ninja \
        -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=ON -DGGML_BACKEND_DL=ON -DGGML_NATIVE=OFF \
        -DGGML_CPU=OFF -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF >&2
    for t in $TARGETS; do
        [ -x "$DEST/bin/$t" ] && continue
        cmake --build "$DEST/build-portable" --target "$t" -j "${JOBS:-$(nproc)}" >&2
        mkdir -p "$DEST/real"
        cp "$DEST/build-portable/bin/$t" "$DEST/real/$t"
        wrap "$t"
    done
    echo "$DEST/bin"
    exit 0
fi

# A llama-cpp-python built with pip's defaults (Release, GGML_NATIVE on the build
# machine, no curl): the tools get the same, linked statically so they do not pick
# up another libllama by accident.
echo "build_llama_tools: building $TARGETS (several minutes on 2 cores)" >&2
cmake -S "$SRC/vendor/llama.cpp" -B "$DEST/build" -G Ninja \
    -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=OFF -DLLAMA_CURL=OFF \
    -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF >&2
mkdir -p "$DEST/bin"
# One target at a time, so the first (llama-bench) is usable before the second is done.
for t in $TARGETS; do
    [ -x "$DEST/bin/$t" ] && continue
    cmake --build "$DEST/build" --target "$t" -j "${JOBS:-$(nproc)}" >&2
    cp "$DEST/build/bin/$t" "$DEST/bin/$t"
done
echo "$VERSION" > "$DEST/bin/VERSION"
echo "$DEST/bin"
