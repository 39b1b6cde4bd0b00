#!/usr/bin/env bash
# canonedit bench and the same computation in PyTorch, alternately, on this machine.
#   bash scripts/bench-peer.sh [ROUNDS] [BATCH] [SEQ] [THREADS]      (defaults 3 16 64 2)
# Makes .venv-peer (the CPU torch wheel from /opt/wheels when present, else PyPI, plus accelerate,
# transformers and gguf), builds the release binary, then per round runs canonedit, then PyTorch,
# each in a fresh process, and prints each round's figures and ratios and the medians. Run it
# with nothing else busy: both engines use every thread they are given.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-3} B=${2:-16} T=${3:-64} THREADS=${4:-2}
MODEL=models/SmolLM2-135M-Instruct.Q4_1.gguf
[ -f "$MODEL" ] || bash scripts/setup.sh --no-build
if [ ! -x .venv-peer/bin/python ] || ! .venv-peer/bin/python -c "import torch, transformers, gguf, accelerate" 2>/dev/null; then
    python3 -m venv .venv-peer
    WHEEL=$(ls /opt/wheels/torch-*cpu*.whl 2>/dev/null | head -n 1 || true)
    .venv-peer/bin/pip install -q --disable-pip-version-check ${WHEEL:-torch} transformers gguf accelerate
fi
swift build -c release 2>&1 | tail -n 1 >&2
OUT=$(mktemp -d)
for r in $(seq 1 "$ROUNDS"); do
    OPENBLAS_NUM_THREADS=$THREADS .build/release/canonedit bench --batch "$B" --seq "$T" --threads "$THREADS" \
        2>/dev/null > "$OUT/canonedit.$r.json"
    .venv-peer/bin/python scripts/bench_peer.py "$MODEL" "$B" "$T" 3 "$THREADS" 2>/dev/null > "$OUT/torch.$r.json"
done
python3 - "$OUT" "$ROUNDS" "$B" "$T" "$THREADS" <<'PY'
import json, os, statistics, sys
out, rounds, B, T, threads = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
rows = []
for r in range(1, rounds + 1):
    c = json.load(open(f"{out}/canonedit.{r}.json")); p = json.load(open(f"{out}/torch.{r}.json"))
    rows.append((c, p))
    print(f"round {r}: forward {c['forward_tokens_per_s']:.0f} vs {p['forward_tokens_per_s']:.0f} tok/s "
          f"({c['forward_tokens_per_s'] / p['forward_tokens_per_s']:.2f}x), forward+backward "
          f"{c['forward_backward_tokens_per_s']:.0f} vs {p['forward_backward_tokens_per_s']:.0f} tok/s "
          f"({c['forward_backward_tokens_per_s'] / p['forward_backward_tokens_per_s']:.2f}x), peak memory "
          f"{c['peak_rss_mib']:.0f} vs {p['peak_rss_mib']:.0f} MiB ({c['peak_rss_mib'] / p['peak_rss_mib']:.2f}x)")
def med(k, who): return statistics.median(x[who][k] for x in rows)
def ratios(k): return [x[0][k] / x[1][k] for x in rows]
print(f"median of {rounds} rounds, batch {B} x {T}, {threads} threads, {os.cpu_count()} cores, "
      f"torch {rows[0][1]['torch']}, canonedit on OpenBLAS's {rows[0][0].get('blas_core', '?')} kernels:")
for k, name in [("forward_tokens_per_s", "forward tok/s"), ("forward_backward_tokens_per_s", "forward+backward tok/s"),
                ("peak_rss_mib", "peak MiB")]:
    rs = ratios(k)
    print(f"  {name}: canonedit {med(k, 0):.0f}, PyTorch {med(k, 1):.0f}, ratio median {statistics.median(rs):.2f}x "
          f"(range {min(rs):.2f}-{max(rs):.2f})")
if "gemm_gflops" in rows[0][0]:
    fr = lambda k: ", ".join(f"{100 * x[0][k]:.0f}%" for x in rows)
    print(f"  canonedit's matrix products: forward {med('forward_gflops', 0):.1f} GFLOP/s "
          f"({100 * med('forward_fraction_of_gemm', 0):.0f}% of this machine's sgemm; "
          f"rounds {fr('forward_fraction_of_gemm')}), forward+backward "
          f"{med('forward_backward_gflops', 0):.1f} GFLOP/s ({100 * med('forward_backward_fraction_of_gemm', 0):.0f}%; "
          f"rounds {fr('forward_backward_fraction_of_gemm')}); sgemm {med('gemm_gflops', 0):.1f} GFLOP/s, "
          f"sampled (1024^3, best of 3) before each timed pass, each pass compared with its own sample")
PY
