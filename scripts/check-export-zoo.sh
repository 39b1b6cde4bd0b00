#!/usr/bin/env bash
# Checks `export --format hf` and `peft` for every architecture of the test zoo with transformers
# and peft themselves (not a test: it needs torch). For each tiny model, transformers makes a
# changed copy (final norm scaled, one MLP weight moved); `canonedit import --hf` turns the
# difference into an edit; `canonedit export --edit` merges it back into a folder; transformers
# loads that folder and its last-position logits are compared with `canonedit logits --edit` and with the copy;
# AutoTokenizer loads the folder's tokenizer (ids against canonedit's on hard strings) and model.generate
# continues two prompts beside `canonedit generate`. Then PEFT both ways on each model, and the tiny Llama's edit as GGUF (metadata built from its config).
#   bash scripts/check-export-zoo.sh
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .build/release/canonedit ] || swift build -c release 2>&1 | tail -n 1
[ -x .venv-peer/bin/python ] || bash scripts/check-export.sh >/dev/null  # makes the venv
B=${CANONEDIT_BIN:-.build/release/canonedit}
W=$(mktemp -d)
ZOO=Tests/TestSupport/Fixtures/zoo
TEXT="Hello, zoo"
for arch in gpt2 gpt_neox gptj llama gemma3 qwen2 mistral llama31; do
    .venv-peer/bin/python - "$ZOO/$arch" "$W/$arch-tuned" <<'PY'
import shutil, sys, torch
from transformers import AutoModelForCausalLM
src, dst = sys.argv[1:]
m = AutoModelForCausalLM.from_pretrained(src, dtype=torch.float32)
g = torch.Generator().manual_seed(0)
with torch.no_grad():
    params = dict(m.named_parameters())
    norm = [n for n, p in params.items() if p.dim() == 1 and "norm" in n or n.endswith("ln_f.weight")][-1]
    params[norm].mul_(1.5)
    mlp = [n for n, p in params.items() if p.dim() == 2 and ("mlp" in n)][0]
    params[mlp].add_(0.2 * torch.randn(params[mlp].shape, generator=g))
m.save_pretrained(dst)
shutil.copy(f"{src}/tokenizer.json", dst)
PY
    $B import --model "$ZOO/$arch" --hf "$W/$arch-tuned" --out "$W/$arch.edit" 2>/dev/null
    $B export --model "$ZOO/$arch" --edit "$W/$arch.edit" --format hf --out "$W/$arch-export" 2>/dev/null
    $B logits --model "$ZOO/$arch" --edit "$W/$arch.edit" --text "$TEXT" --out "$W/$arch.f32" \
        > "$W/$arch.json" 2>/dev/null
    .venv-peer/bin/python - "$W" "$arch" <<'PY'
import json, sys
import numpy as np, torch
from transformers import AutoModelForCausalLM
w, arch = sys.argv[1:]
ids = torch.tensor([json.load(open(f"{w}/{arch}.json"))["ids"]])
def last(path):
    m = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    with torch.no_grad():
        return type(m).__name__, m(ids).logits[0, -1].numpy()
ref = np.fromfile(f"{w}/{arch}.f32", dtype="<f4")
name, exported = last(f"{w}/{arch}-export")
_, tuned = last(f"{w}/{arch}-tuned")
print(f"{arch}: transformers loads the export as {name}; max |difference| from canonedit logits --edit "
      f"{np.abs(exported - ref).max():.2e}, from the changed copy {np.abs(exported - tuned).max():.2e} "
      f"({ref.size} logits)")
PY
    # The export's tokenizer as AutoTokenizer reads it, and model.generate beside canonedit generate.
    .venv-peer/bin/python scripts/tokenizer_agreement.py "$W/$arch-export" --canonedit "$B" --model "$ZOO/$arch" \
        --edit "$W/$arch.edit" --generate 2>&1 | grep -v "Loading weights" | sed "s/^/$arch: /"
done
# PEFT both ways: peft makes a random LoRA adapter on each tiny model (GPT-2's Conv1D c_attn,
# NeoX's fused query_key_value), canonedit imports it and exports it again, peft loads that.
for arch in gpt2 gpt_neox gptj llama gemma3 qwen2 mistral llama31; do
    .venv-peer/bin/python - "$ZOO/$arch" "$W/$arch-peft-in" <<'PY' 2>/dev/null
import sys, torch
from peft import LoraConfig, get_peft_model
from transformers import AutoModelForCausalLM
src, dst = sys.argv[1:]
targets = {"gpt2": ["c_attn"], "gpt_neox": ["query_key_value"]}.get(
    AutoModelForCausalLM.from_pretrained(src).config.model_type, ["q_proj", "v_proj"])
torch.manual_seed(0)
m = get_peft_model(AutoModelForCausalLM.from_pretrained(src, dtype=torch.float32),
                   LoraConfig(r=4, lora_alpha=8, target_modules=targets, init_lora_weights=False))
m.save_pretrained(dst)
PY
    $B import --model "$ZOO/$arch" --peft "$W/$arch-peft-in" --out "$W/$arch-lora.edit" 2>/dev/null
    $B export --model "$ZOO/$arch" --edit "$W/$arch-lora.edit" --format peft --out "$W/$arch-peft-out" 2>/dev/null
    $B logits --model "$ZOO/$arch" --edit "$W/$arch-lora.edit" --text "$TEXT" --out "$W/$arch-lora.f32" \
        > "$W/$arch-lora.json" 2>/dev/null
    .venv-peer/bin/python - "$ZOO/$arch" "$W" "$arch" <<'PY' 2>/dev/null
import json, sys
import numpy as np, torch
from peft import PeftModel
from transformers import AutoModelForCausalLM
src, w, arch = sys.argv[1:]
ids = torch.tensor([json.load(open(f"{w}/{arch}-lora.json"))["ids"]])
def last(adapter):
    m = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(src, dtype=torch.float32), adapter)
    with torch.no_grad():
        return m(ids).logits[0, -1].numpy()
ref = np.fromfile(f"{w}/{arch}-lora.f32", dtype="<f4")
out, original = last(f"{w}/{arch}-peft-out"), last(f"{w}/{arch}-peft-in")
cfg = json.load(open(f"{w}/{arch}-peft-out/adapter_config.json"))
print(f"{arch} peft: canonedit's export of peft's adapter ({cfg['target_modules'][0]} …, fan_in_fan_out "
      f"{cfg['fan_in_fan_out']}) loads in peft; max |difference| from canonedit logits --edit "
      f"{np.abs(out - ref).max():.2e}, from peft's own adapter {np.abs(out - original).max():.2e}")
with torch.no_grad():
    plain = AutoModelForCausalLM.from_pretrained(src, dtype=torch.float32)(ids).logits[0, -1].numpy()
print(f"{arch} peft: the adapter moves the logits by up to {np.abs(original - plain).max():.2f}")
PY
done
# A Llama from a Hugging Face folder as GGUF: metadata built by canonedit, read by the gguf
# package and by transformers.
$B export --model "$ZOO/llama" --edit "$W/llama.edit" --format gguf --gguf-type f32 --out "$W/llama-gguf" \
    2>/dev/null
.venv-peer/bin/python - "$W" <<'PY'
import json, sys
import numpy as np, torch
from gguf import GGUFReader
from transformers import AutoModelForCausalLM
w = sys.argv[1]
r = GGUFReader(f"{w}/llama-gguf/model.gguf")
pre = bytes(r.fields["tokenizer.ggml.pre"].parts[-1]).decode()
print(f"llama gguf: the gguf reader lists {len(r.tensors)} tensors, {len(r.fields)} metadata fields, "
      f"pre-tokenizer {pre}")
ids = torch.tensor([json.load(open(f"{w}/llama.json"))["ids"]])
m = AutoModelForCausalLM.from_pretrained(f"{w}/llama-gguf", gguf_file="model.gguf", dtype=torch.float32)
with torch.no_grad():
    got = m(ids).logits[0, -1].numpy()
ref = np.fromfile(f"{w}/llama.f32", dtype="<f4")
print(f"llama gguf: transformers loads it; max |difference| from canonedit logits --edit {np.abs(got - ref).max():.2e}")
PY
rm -rf "$W"
