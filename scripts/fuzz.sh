#!/usr/bin/env bash
# Fuzzes canonedit's parsers with libFuzzer (address sanitizer, coverage from the Swift compiler).
#   bash scripts/fuzz.sh                 every target for 600 s each, two at a time
#   bash scripts/fuzz.sh gguf 120        one target for 120 s
# Targets: gguf safetensors tokenizer jsonl config edit modelconfig spec. Seeds: Fuzz/seeds/<target> (small valid
# files made by this project); new inputs go to Fuzz/corpus/<target> (git-ignored); crashes to
# Fuzz/crashes/<target>. A crash found becomes a regression test in Tests/EngineTests (parsers) or Tests/SettingTests.
set -euo pipefail
cd "$(dirname "$0")/.."
RT=$(dirname "$(find "$(dirname "$(dirname "$(command -v swift)")")" -name 'libclang_rt.fuzzer_no_main-x86_64.a' | head -n 1)")
swift build --scratch-path .build-fuzz --product CanonEditFuzz \
    -Xswiftc -sanitize=address -Xswiftc -sanitize-coverage=edge,inline-8bit-counters,pc-table,trace-cmp \
    -Xlinker --undefined=LLVMFuzzerRunDriver -Xlinker "$RT/libclang_rt.fuzzer_no_main-x86_64.a" -Xlinker -lstdc++ 2>&1 | tail -n 1
BIN=.build-fuzz/debug/CanonEditFuzz
run() {
    local t=$1 secs=$2
    mkdir -p "Fuzz/corpus/$t" "Fuzz/crashes/$t"
    CANONEDIT_FUZZ_TARGET=$t "$BIN" "Fuzz/corpus/$t" "Fuzz/seeds/$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
        -max_len=65536 -artifact_prefix="Fuzz/crashes/$t/" -print_final_stats=1 > "Fuzz/$t.log" 2>&1 && status=ok || status="FAILED (see Fuzz/$t.log)"
    echo "$t: $(grep -E '^stat::number_of_executed_units' "Fuzz/$t.log" | awk '{print $2}') inputs in ${secs}s, $(grep -c '^#.*NEW' "Fuzz/$t.log") new coverage, $status"
}
if [ $# -ge 1 ]; then run "$1" "${2:-600}"; exit; fi
SECS=${FUZZ_SECONDS:-600}
for pair in "gguf safetensors" "tokenizer jsonl" "config edit" "modelconfig spec"; do
    set -- $pair
    run "$1" "$SECS" & run "$2" "$SECS" & wait
done
