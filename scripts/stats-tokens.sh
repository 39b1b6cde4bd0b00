#!/usr/bin/env bash
# How the edit quality of MEMIT and AlphaEdit changes with the number of tokens their key
# statistics are computed on: the built-in country_capital run of each (oracle subjects, their
# default layers) with the statistics taken from the first N tokens of the authors' general text
# (data/authors/data/val100.jsonl; `canonedit data fetch authors data/authors`), N = 1k, 10k, 100k.
# Writes one config per run to runs/stats-tokens/ (outputs: runs/stats-tokens-<method>-<N>.*),
# runs them one after another (finished ones are kept) and prints the table with `canonedit report`.
#   bash scripts/stats-tokens.sh [TOKENS...]   (default: 1000 10000 100000)
set -euo pipefail
cd "$(dirname "$0")/.."
CORPUS=data/authors/data/val100.jsonl
[ -f "$CORPUS" ] || { echo "stats-tokens: $CORPUS is missing: canonedit data fetch authors data/authors" >&2; exit 1; }
[ -x .build/release/canonedit ] || swift build -c release 2>&1 | tail -n 1
B=.build/release/canonedit
OUT=runs/stats-tokens
mkdir -p "$OUT"
TOKENS=("$@")
RESULTS=()
[ ${#TOKENS[@]} -gt 0 ] || TOKENS=(1000 10000 100000)
for method in memit alphaedit; do
    base=configs/builtin/smollm2-country_capital-$([ $method = memit ] && echo memit-oracle || echo alphaedit).yaml
    for n in "${TOKENS[@]}"; do
        cfg=$OUT/stats-tokens-$method-$n.yaml
        sed -e "s|mom2_corpus: .*|mom2_corpus: $CORPUS|" -e "s|mom2_tokens: .*|mom2_tokens: $n|" "$base" > "$cfg"
        RESULTS+=("runs/stats-tokens-$method-$n.results.json")
        if [ -f "runs/stats-tokens-$method-$n.results.json" ]; then continue; fi
        echo "stats-tokens: $method with statistics on $n tokens" >&2
        # A run that fails (MEMIT's solve on fewer tokens than the MLP is wide) is recorded in its
        # results file, and the report shows why.
        /usr/bin/time -f "stats-tokens: $method $n: %e s, %M KiB" $B run "$cfg" >/dev/null 2>"$OUT/$method-$n.err" \
            || grep -h "run stopped" "$OUT/$method-$n.err" >&2 || true
        tail -n 1 "$OUT/$method-$n.err" >&2
    done
done
$B report "${RESULTS[@]}"
