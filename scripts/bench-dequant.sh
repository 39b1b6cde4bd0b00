#!/usr/bin/env bash
# Decoding speed of the quantized weight formats on one core, the kernels built as the package
# builds them (-O3, each hot function cloned for x86-64-v3 and baseline).
#   bash scripts/bench-dequant.sh [REV]
# With REV (a commit), that revision's decoders are built beside these and every format is
# compared bit for bit on the same random blocks. BASELINE=1 builds both without the clones,
# for baseline x86-64 only (the code a CPU without AVX2 runs).
set -euo pipefail
cd "$(dirname "$0")/.."
REV=${1:-}
if [ -n "$REV" ] && ! git rev-parse --quiet --verify "$REV^{commit}" > /dev/null; then
    echo "bench-dequant: $REV is not a commit of this repository" >&2
    exit 64
fi
OUT=$(mktemp -d)
FLAGS=(-O3 -fno-math-errno -fPIC -I Sources/Host/Kernels/include)  # Package.swift's kernel flags
[ "${BASELINE:-0}" = 1 ] && FLAGS+=(-DCE_NO_CLONES)
for f in dequant dequant_k; do clang "${FLAGS[@]}" -c Sources/Host/Kernels/$f.c -o "$OUT/$f.o"; done
OBJS=("$OUT/dequant.o" "$OUT/dequant_k.o")
DEFS=()
if [ -n "$REV" ]; then
    for f in dequant dequant_k; do
        # That revision's source with its functions renamed old_…; the type table is left out.
        git show "$REV:Sources/Host/Kernels/$f.c" | python3 -c '
import re, sys
s = sys.stdin.read()
if "// The decoder of ggml type" in s: s = s[:s.index("// The decoder of ggml type")]
sys.stdout.write(re.sub(r"\bce_(dequant|quant)_", r"old_ce_\1_", s))' > "$OUT/old_$f.c"
        git show "$REV:Sources/Host/Kernels/hot.h" > "$OUT/hot.h"  # found first, beside the source
        clang "${FLAGS[@]}" -c "$OUT/old_$f.c" -o "$OUT/old_$f.o"
        OBJS+=("$OUT/old_$f.o")
    done
    DEFS=(-DWITH_OLD)
fi
clang -O2 "${DEFS[@]}" scripts/bench_dequant.c "${OBJS[@]}" -o "$OUT/bench_dequant"
"$OUT/bench_dequant"
rm -rf "$OUT"
