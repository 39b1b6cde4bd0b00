#!/usr/bin/env bash
# Memory and speed on a model of Llama 3 8B's shape (random weights: the numbers it edits are
# meaningless; what it measures is whether the runs fit and how long they take):
#   1. writes the model as a Q8_0 GGUF and as BF16 safetensors if they are not there yet
#      (8.5 GB and 16 GB; scripts/make_bench_model.py, scripts/make_bench_folder.py);
#   2. a LoRA run (layers 12-19, rank 8, one epoch) and a MEMIT edit of layers 4-6 (key
#      statistics on 400 tokens, so a ridge of 1% of their mean diagonal: 400 keys of width 14336
#      leave the second moment singular) on the built-in country data, cut to 2 canonical
#      examples and a short evaluation so that a run takes minutes, each under /usr/bin/time -v
#      beside its plan;
#   3. `canonedit bench --batch 1 --seq 128 --train norms` on both files, and with BENCH_PEER=1
#      the same step in PyTorch on the BF16 folder (scripts/bench_peer_8b.py).
# Usage: bash scripts/bench-8b.sh [WORK_FOLDER [PARTS]]   (default /tmp/bench8b, PARTS "lora memit
# bench"; needs ~30 GB of disk)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-/tmp/bench8b}
PARTS=${2:-lora memit bench}
BIN=.build/release/canonedit
PY=${PY:-.venv-peer/bin/python}
GGUF=${GGUF:-$OUT/model.gguf}
BF16=${BF16:-$OUT/bf16}
mkdir -p "$OUT/data"
[ -x "$BIN" ] || swift build -c release
[ -f "$GGUF" ] || "$PY" scripts/make_bench_model.py "$GGUF"
[ -f "$BF16/config.json" ] || "$PY" scripts/make_bench_folder.py "$BF16"

D=data/builtin/country_capital
head -2 $D/country_capital_train.jsonl > "$OUT/data/train.jsonl"
head -4 $D/country_capital_eval.jsonl > "$OUT/data/eval.jsonl"
head -2 $D/country_capital_hard_neg.jsonl > "$OUT/data/hard_neg.jsonl"
head -4 data/builtin/general.jsonl > "$OUT/data/general.jsonl"
head -4 data/builtin/regularization.jsonl > "$OUT/data/kl.jsonl"

config() {  # NAME METHOD LR EXTRA...
    cat <<YAML
model: $GGUF
seed: 0
threshold: 1.6094379124341003
logfile: $OUT/$1.log.jsonl
resultsfile: $OUT/$1.results.json
training:
  dataset_path: $OUT/data/train.jsonl
  finetune_type: $2
  loss_type: good
  suffix_pair: false
  learning_rate: $3
  num_epochs: 1
  batch_size: 1
  grad_acc_steps: 1
  regularization_type: KL
  regularization_data_path: $OUT/data/kl.jsonl
  regularization_weight: 1.0
$4
validation:
  intervention_eval_path: $OUT/data/eval.jsonl
  degredation_general_path: $OUT/data/general.jsonl
  eval_normalization: example
  hard_negative:
    hard_negative_path: $OUT/data/hard_neg.jsonl
    eval_type: suffix
YAML
}
config lora lora 0.0005 "  lora:
    lora_rank: 8
    lora_alpha: 8
    lora_dropout: 0.0
    target_modules: .*\\.(12|13|14|15|16|17|18|19)\\.mlp\\.(up_proj|down_proj)" > "$OUT/lora.yaml"
config memit memit 0 "  method:
    layers: 4-6
    subject: prefix
    v_num_grad_steps: 5
    context_templates: 2
    context_length: 5
    mom2_corpus: $OUT/data/kl.jsonl
    mom2_tokens: 400
    mom2_ridge: 0.01" > "$OUT/memit.yaml"

peak_gib() { awk '/Maximum resident/ {printf "%.2f", $6 / 1048576}' "$1"; }
for run in lora memit; do
    [[ " $PARTS " == *" $run "* ]] || continue
    rm -f "$OUT/$run.log.jsonl" "$OUT/$run.results.json" "$OUT"/$run.*.ckpt*
    plan=$("$BIN" run "$OUT/$run.yaml" --plan | head -1)
    echo "== $run: $plan"
    /usr/bin/time -v "$BIN" run "$OUT/$run.yaml" --overwrite > "$OUT/$run.out" 2>&1 || { tail -20 "$OUT/$run.out"; exit 1; }
    grep -E "^(lora|memit) on|Elapsed" "$OUT/$run.out" | sed 's/^\s*//'
    echo "   measured peak $(peak_gib "$OUT/$run.out") GiB"
done
for model in "$GGUF" "$BF16"; do
    [[ " $PARTS " == *" bench "* ]] || continue
    echo "== bench 1x128 (--train norms) on $model"
    /usr/bin/time -v "$BIN" bench --model "$model" --batch 1 --seq 128 --train norms --reps 1 > "$OUT/bench.out" 2>&1
    grep -E '"forward_ms"|"forward_backward_ms"|peak_rss|fraction' "$OUT/bench.out" | tr -d ' ,'
done
if [ "${BENCH_PEER:-0}" = 1 ]; then
    echo "== PyTorch, the same step on $BF16"
    /usr/bin/time -v "$PY" scripts/bench_peer_8b.py "$BF16" 1 128 > "$OUT/peer.out" 2>&1 || true
    grep -E '^\{|Maximum resident|Killed|Error' "$OUT/peer.out" | tail -3
fi
