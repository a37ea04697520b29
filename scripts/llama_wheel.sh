#!/usr/bin/env bash
# Builds (once) the llama-cpp-python wheel that both the development environment
# and the bundle install, so the tests run on exactly what users get. Prints the
# wheel's path on stdout as its last line; progress goes to stderr.
#
#   scripts/llama_wheel.sh [--backend auto|cpu|vulkan|cuda|metal|rocm]
#
# The build is portable: GGML_NATIVE=OFF, each backend a library of its own
# (GGML_BACKEND_DL) and one CPU library per instruction-set level
# (GGML_CPU_ALL_VARIANTS); llama.cpp picks the best one at run time. With the
# Vulkan module beside them, the same files run on a machine with no Vulkan
# driver (CPU) and on one with any GPU (Vulkan).
#
# "auto" (the default) builds Vulkan where its build tools can be had
# (scripts/vulkan_build_deps.sh: Debian/Ubuntu as root, or already installed),
# else CPU only, and says which. The wheel is cached in
# ~/.cache/gemmacompare/wheels/portable-VERSION-BACKEND/ with the CMake options
# it was built with; a cache whose options differ is rebuilt. pip's own cache
# cannot hold it: it does not tell builds with different CMAKE_ARGS apart.
#
# LLAMA_CPP_PYTHON_VERSION picks the version (default: the one this project is
# tested with, below). EXTRA_CMAKE_ARGS adds options.
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION=${LLAMA_CPP_PYTHON_VERSION:-0.3.36}
BACKEND=auto
while [ $# -gt 0 ]; do
    case "$1" in
        --backend) BACKEND=${2:-}; shift 2 ;;
        --backend=*) BACKEND=${1#*=}; shift ;;
        -h|--help) sed -n "2,22p" "$0"; exit 0 ;;
        *) echo "llama_wheel: unknown argument $1 (try --help)" >&2; exit 2 ;;
    esac
done
say() { echo "llama_wheel: $*" >&2; }

VULKAN_ARGS=""
if [ "$BACKEND" = auto ] || [ "$BACKEND" = vulkan ]; then
    if VULKAN_INCLUDE=$(./scripts/vulkan_build_deps.sh); then
        BACKEND=vulkan
        # Debian 12's Vulkan headers (1.3.239) are older than this llama.cpp
        # needs; vulkan_build_deps.sh gives newer ones to compile against,
        # while the program links Debian's own loader.
        VULKAN_ARGS="-DGGML_VULKAN=ON${VULKAN_INCLUDE:+ -DVulkan_INCLUDE_DIR=$VULKAN_INCLUDE}"
    elif [ "$BACKEND" = vulkan ]; then
        say "the Vulkan build tools are missing (see the lines above); cannot build --backend vulkan"
        exit 1
    else
        say "building without Vulkan (CPU only): its build tools are missing (see the lines above)"
        BACKEND=cpu
    fi
fi

# Checked against this llama.cpp's ggml/CMakeLists.txt and ggml/src/CMakeLists.txt:
# GGML_CPU_ALL_VARIANTS requires GGML_BACKEND_DL, which requires shared libraries
# (llama-cpp-python builds those). GGML_BACKEND_DIR makes the backend libraries
# install beside libggml in llama_cpp/lib (typed STRING: as a PATH, CMake would
# make it absolute in the build's temp folder). The multimodal library is unused.
PORTABLE="-DGGML_NATIVE=OFF -DGGML_BACKEND_DL=ON -DGGML_CPU_ALL_VARIANTS=ON -DGGML_BACKEND_DIR:STRING=llama_cpp/lib -DLLAVA_BUILD=OFF"
case "$BACKEND" in
    cpu)    GPU_ARGS="" ;;
    vulkan) GPU_ARGS="$VULKAN_ARGS" ;;
    cuda)   GPU_ARGS="-DGGML_CUDA=ON" ;;          # + -DCMAKE_CUDA_ARCHITECTURES="75;86;89" to choose GPUs
    metal)  GPU_ARGS="-DGGML_METAL=ON" ;;         # macOS; the default there
    rocm)   GPU_ARGS="-DGGML_HIP=ON" ;;           # + -DGPU_TARGETS=gfx1030 etc.; needs HIPCXX set
    *) say "--backend must be auto, cpu, vulkan, cuda, metal or rocm (got '$BACKEND')"; exit 2 ;;
esac
ARGS="$PORTABLE${GPU_ARGS:+ $GPU_ARGS}${EXTRA_CMAKE_ARGS:+ $EXTRA_CMAKE_ARGS}"

DIR=${GEMMACOMPARE_WHEEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/gemmacompare/wheels}/portable-$VERSION-$BACKEND
mkdir -p "$DIR"
if [ -f "$DIR/CMAKE_ARGS" ] && [ "$(cat "$DIR/CMAKE_ARGS")" = "$ARGS" ] \
        && ls "$DIR"/llama_cpp_python-"$VERSION"-*.whl >/dev/null 2>&1; then
    say "llama-cpp-python $VERSION ($BACKEND, portable) from the cache $DIR"
else
    say "compiling llama-cpp-python $VERSION ($BACKEND, portable): CMAKE_ARGS=$ARGS"
    say "this takes 15-30 minutes on 2 cores, once; the wheel is then cached"
    rm -f "$DIR"/*.whl "$DIR/CMAKE_ARGS" "$DIR/BUILD_INFO"
    PY=${PYTHON:-python3}
    [ -x build/wheel-venv/bin/python ] || "$PY" -m venv build/wheel-venv
    build/wheel-venv/bin/python -m pip install -q --upgrade pip >&2
    t0=$(date +%s)
    # --no-cache-dir: this build must neither come from nor go into pip's cache,
    # where it would stand in for a default build (same name, same version).
    CMAKE_ARGS="$ARGS" CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc 2>/dev/null || echo 2)} \
        nice -n 10 build/wheel-venv/bin/python -m pip wheel -q --no-cache-dir --no-deps --no-binary llama-cpp-python \
        -w "$DIR" "llama-cpp-python==$VERSION" >&2
    secs=$(( $(date +%s) - t0 ))
    echo "$ARGS" > "$DIR/CMAKE_ARGS"
    echo "llama-cpp-python $VERSION, $BACKEND, portable; compiled in $secs s on $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ)" > "$DIR/BUILD_INFO"
    say "compiled in $secs s"
fi
[ -f "$DIR/BUILD_INFO" ] && say "built: $(cat "$DIR/BUILD_INFO")"
WHL=$(ls "$DIR"/llama_cpp_python-"$VERSION"-*.whl | head -1)
# The CPU variant for AMX (sapphirerapids: Sapphire Rapids and newer Xeons) dies of SIGILL at
# its first matrix product in this llama.cpp (the AMX kernel's `tilezero` in a worker thread,
# seen on a Xeon with amx_tile; upstream ggml-org/llama.cpp#26954, open). Without it llama.cpp
# picks the next best variant there (zen4: AVX-512 with VNNI and BF16), no AMX; other CPUs
# never load it. Taken out of the wheel, so the app, the bundle and llama.cpp's tools built on
# these libraries (scripts/build_llama_tools.sh) all run the same variant. Applied to a cached
# wheel too; a wheel without it is left as it is.
"${PYTHON:-python3}" - "$WHL" <<'PY' >&2
import os, sys, zipfile
whl, drop = sys.argv[1], "llama_cpp/lib/libggml-cpu-sapphirerapids.so"
with zipfile.ZipFile(whl) as z:
    if drop not in z.namelist():
        sys.exit(0)
    tmp = whl + ".tmp"
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as out:
        for info in z.infolist():
            if info.filename == drop:
                continue
            data = z.read(info)
            if info.filename.endswith(".dist-info/RECORD"):
                data = b"".join(line for line in data.splitlines(keepends=True) if not line.startswith(drop.encode() + b","))
            out.writestr(info, data)
os.replace(tmp, whl)
print(f"llama_wheel: took {drop} out of the wheel (its AMX kernels crash in this llama.cpp)")
PY
echo "$WHL"
