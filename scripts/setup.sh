#!/usr/bin/env bash
# Installs what building and testing the workbench needs on a fresh Debian/Ubuntu machine.
# Idempotent: it installs only what is missing. Run as root or with sudo available.
set -euo pipefail

need_apt=()
# A C toolchain and pkg-config for -sys crates (flate2, image codecs, ...).
command -v cc >/dev/null 2>&1 || need_apt+=(build-essential)
command -v pkg-config >/dev/null 2>&1 || need_apt+=(pkg-config)
command -v git >/dev/null 2>&1 || need_apt+=(git)
command -v curl >/dev/null 2>&1 || need_apt+=(curl ca-certificates)
# OpenCV for clips and faces (the opencv crate binds it with libclang at build time; the
# binary links it at run time), and the Haar cascades. About 1 GB, a few minutes, once.
for pkg in libopencv-dev clang libclang-dev opencv-data; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need_apt+=("$pkg")
done
# A real browser for the report test (tests/cli_infer.rs), headless.
if [ "${WORKBENCH_NO_BROWSER:-0}" != 1 ]; then
    command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
fi

if ((${#need_apt[@]})); then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "setup: installing ${need_apt[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need_apt[@]}"
fi

if ! command -v cargo >/dev/null 2>&1; then
    if [ -x "$HOME/.cargo/bin/cargo" ]; then
        export PATH="$HOME/.cargo/bin:$PATH"
    else
        echo "setup: installing the Rust toolchain with rustup"
        curl -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal
        export PATH="$HOME/.cargo/bin:$PATH"
    fi
fi
echo "setup: ok ($(cargo --version))"
