#!/usr/bin/env bash
# Makes llama.cpp's Vulkan backend buildable here, or says why not (exit 1).
# Prints the folder of Vulkan headers to compile against (empty when the
# system's own are new enough).
#
# On Debian/Ubuntu as root it installs what the build needs (the loader and its
# development files, glslc, glslang, SPIR-V headers) and Mesa's lavapipe, a
# Vulkan device that runs on the CPU, which the tests use.
#
# Why newer headers, and why this way: ggml-vulkan.cpp of the pinned llama.cpp
# uses vk::LayerSettingEXT (Vulkan 1.3.26x and later); Debian 12's libvulkan-dev
# is 1.3.239 and fails to compile it. Debian 13's libvulkan-dev (1.4.309) has
# headers that do, against Debian 12's loader (the program only calls entry
# points the loader resolves at run time). Only the headers are taken: the .deb
# is fetched with a private apt source list (the system's own sources and
# package state are not touched), unpacked into ~/.cache/gemmacompare, and reused.
# A newer distribution with new enough headers needs none of this.
set -euo pipefail

say() { echo "vulkan_build_deps: $*" >&2; }
DEBS="libvulkan-dev glslc glslang-tools spirv-headers mesa-vulkan-drivers"

if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    missing=""
    for pkg in $DEBS; do
        dpkg -s "$pkg" >/dev/null 2>&1 || missing="$missing $pkg"
    done
    if [ -n "$missing" ]; then
        say "installing:$missing"
        apt-get update -qq >&2 || true
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null 2>&1 \
            || { say "apt-get could not install$missing"; exit 1; }
    fi
fi
for tool in glslc; do
    command -v "$tool" >/dev/null || { say "$tool is missing (Debian: apt-get install glslc)"; exit 1; }
done
[ -f /usr/include/vulkan/vulkan.hpp ] || { say "the Vulkan headers are missing (Debian: apt-get install libvulkan-dev)"; exit 1; }
[ -d /usr/share/spirv-headers ] || [ -f /usr/include/spirv/unified1/spirv.hpp ] \
    || { say "the SPIR-V headers are missing (Debian: apt-get install spirv-headers)"; exit 1; }

# New enough? LayerSettingEXT arrived with header version 1.3.261.
have=$(sed -n 's/^#define VK_HEADER_VERSION \([0-9]*\).*/\1/p' /usr/include/vulkan/vulkan_core.h)
if grep -q "VK_VERSION_1_4\b" /usr/include/vulkan/vulkan_core.h || [ "${have:-0}" -ge 261 ]; then
    echo ""
    exit 0
fi

DEST=${XDG_CACHE_HOME:-$HOME/.cache}/gemmacompare/vulkan-headers/debian-trixie
if [ ! -f "$DEST/usr/include/vulkan/vulkan.hpp" ]; then
    command -v apt-get >/dev/null || { say "the system's Vulkan headers (1.3.$have) are too old and apt-get is not here to fetch newer ones"; exit 1; }
    say "the system's Vulkan headers (1.3.$have) are too old; fetching Debian 13's libvulkan-dev headers"
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    mkdir -p "$tmp/lists/partial" "$tmp/cache/archives/partial"
    echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main" \
        > "$tmp/trixie.list"
    apt_opts=(-o "Dir::Etc::SourceList=$tmp/trixie.list" -o Dir::Etc::SourceParts=/dev/null
              -o "Dir::State::Lists=$tmp/lists" -o "Dir::Cache=$tmp/cache" -o APT::Sandbox::User=root)
    apt-get "${apt_opts[@]}" update -qq >&2 || { say "could not reach Debian's trixie index"; exit 1; }
    (cd "$tmp" && apt-get "${apt_opts[@]}" download libvulkan-dev >&2) \
        || { say "could not download libvulkan-dev from Debian trixie"; exit 1; }
    rm -rf "$DEST" && mkdir -p "$DEST"
    dpkg -x "$tmp"/libvulkan-dev_*.deb "$DEST"
    basename "$tmp"/libvulkan-dev_*.deb > "$DEST/FROM"
    say "headers from $(cat "$DEST/FROM") in $DEST"
fi
echo "$DEST/usr/include"
