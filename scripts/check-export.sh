#!/usr/bin/env bash
# Checks canonedit's exports with the real outside tools (not a test: it needs torch,
# transformers and peft, which the tests never load). Exports the built-in LoRA edit of SmolLM2
# merged into a Hugging Face folder, the unedited base, and the edit as a PEFT adapter; then
# loads each with transformers / peft and compares the last-position logits of a prompt with
# `canonedit logits --edit`. Prints the largest difference per export; then loads the merged
# export's tokenizer with AutoTokenizer, compares its ids with canonedit's on hard strings and
# generates with model.generate beside `canonedit generate`.
#   bash scripts/check-export.sh [EDIT]   (default: the built-in LoRA run's edit for 1e-4)
set -euo pipefail
cd "$(dirname "$0")/.."
EDIT=${1:-runs/smollm2-country_capital-lora.edit-0.0001.safetensors}
[ -x .build/release/canonedit ] || swift build -c release 2>&1 | tail -n 1
[ -f "$EDIT" ] || .build/release/canonedit run configs/builtin/smollm2-country_capital-lora.yaml >/dev/null
if [ ! -x .venv-peer/bin/python ] || ! .venv-peer/bin/python -c "import torch, transformers, peft" 2>/dev/null; then
    python3 -m venv .venv-peer
    WHEEL=$(ls /opt/wheels/torch-*cpu*.whl 2>/dev/null | head -n 1 || true)
    .venv-peer/bin/pip install -q --disable-pip-version-check ${WHEEL:-torch} transformers gguf accelerate peft
fi
W=$(mktemp -d)
B=.build/release/canonedit
PROMPT="The parliament of Rwanda meets in the capital,"
$B export --format hf --out "$W/base" 2>/dev/null
$B export --edit "$EDIT" --format hf --out "$W/merged" 2>/dev/null
$B export --edit "$EDIT" --format hf --max-shard-mb 100 --out "$W/sharded" 2>/dev/null
$B export --edit "$EDIT" --format peft --base "$W/base" --out "$W/peft" 2>/dev/null
for t in f32 f16 q8_0; do
    $B export --edit "$EDIT" --format gguf --gguf-type $t --out "$W/gguf-$t" 2>/dev/null
    $B logits --model "$W/gguf-$t/model.gguf" --text "$PROMPT" --out "$W/gguf-$t.f32" >/dev/null 2>&1
done
# The merged Hugging Face export as GGUF again (metadata built from config.json, not copied).
$B export --model "$W/merged" --format gguf --gguf-type f32 --out "$W/hf-gguf" 2>/dev/null
$B logits --model "$W/hf-gguf/model.gguf" --text "$PROMPT" --out "$W/hf-gguf.f32" >/dev/null 2>&1
$B logits --text "$PROMPT" --out "$W/base.f32" > "$W/base.json" 2>/dev/null
$B logits --edit "$EDIT" --text "$PROMPT" --out "$W/edited.f32" > "$W/edited.json" 2>/dev/null
.venv-peer/bin/python - "$W" <<'PY'
import json, sys
import numpy as np, torch
from transformers import AutoModelForCausalLM
from peft import PeftModel
w = sys.argv[1]
ids = torch.tensor([json.load(open(f"{w}/edited.json"))["ids"]])
def last(model):
    with torch.no_grad():
        return model(ids).logits[0, -1].float().numpy()
ref_base = np.fromfile(f"{w}/base.f32", dtype="<f4")
ref_edit = np.fromfile(f"{w}/edited.f32", dtype="<f4")
base = AutoModelForCausalLM.from_pretrained(f"{w}/base", dtype=torch.float32)
merged = AutoModelForCausalLM.from_pretrained(f"{w}/merged", dtype=torch.float32)
# The adapter names its base (the dequantized base export): PEFT finds it from the adapter alone.
from peft import AutoPeftModelForCausalLM
peft = AutoPeftModelForCausalLM.from_pretrained(f"{w}/peft", dtype=torch.float32)
print(f"peft adapter's base_model_name_or_path: {json.load(open(f'{w}/peft/adapter_config.json'))['base_model_name_or_path']}")
rows = [("transformers, base export vs canonedit logits", last(base), ref_base),
        ("transformers, merged export vs canonedit logits --edit", last(merged), ref_edit),
        ("transformers, merged export in 100 MB shards vs canonedit logits --edit",
         last(AutoModelForCausalLM.from_pretrained(f"{w}/sharded", dtype=torch.float32)), ref_edit),
        ("peft on the base export vs canonedit logits --edit", last(peft), ref_edit)]
for name, got, ref in rows:
    print(f"{name}: max |difference| {np.abs(got - ref).max():.2e} over {ref.size} logits; "
          f"top token {int(got.argmax())} vs {int(ref.argmax())}")
import os
shards = sorted(f for f in os.listdir(f"{w}/sharded") if f.startswith("model-"))
print(f"sharded export: {len(shards)} shards ({shards[0]} … {shards[-1]}) and model.safetensors.index.json")
from gguf import GGUFReader
r = GGUFReader(f"{w}/gguf-f16/model.gguf")
arch = bytes(r.fields["general.architecture"].parts[-1]).decode()
print(f"gguf reader: {len(r.tensors)} tensors, {len(r.fields)} metadata fields, architecture {arch}")
for t in ["f32", "f16", "q8_0"]:
    back = np.fromfile(f"{w}/gguf-{t}.f32", dtype="<f4")
    m = AutoModelForCausalLM.from_pretrained(f"{w}/gguf-{t}", gguf_file="model.gguf", dtype=torch.float32)
    print(f"gguf export ({t}): canonedit reading it back {np.abs(back - ref_edit).max():.2e}, transformers "
          f"{np.abs(last(m) - ref_edit).max():.2e} (max |difference| from canonedit logits --edit)")
back = np.fromfile(f"{w}/hf-gguf.f32", dtype="<f4")
m = AutoModelForCausalLM.from_pretrained(f"{w}/hf-gguf", gguf_file="model.gguf", dtype=torch.float32)
print(f"gguf export of the merged Hugging Face export (f32, metadata built from config.json): canonedit reading it "
      f"back {np.abs(back - ref_edit).max():.2e}, transformers {np.abs(last(m) - ref_edit).max():.2e}")
print(f"the edit moves the logits by up to {np.abs(ref_edit - ref_base).max():.2f}")
PY
# The merged export's tokenizer as transformers reads it, and its greedy continuations.
.venv-peer/bin/python scripts/tokenizer_agreement.py "$W/merged" --canonedit "$B" --edit "$EDIT" --generate 2>&1 \
    | grep -v "Loading weights"
rm -rf "$W"
