#!/usr/bin/env bash
# Checks `export --format hf` for every architecture of the test zoo with transformers itself
# (not a test: it needs torch). For each tiny model, transformers makes a changed copy (final
# norm scaled, one MLP weight moved); `canonedit import --hf` turns the difference into an edit;
# `canonedit export --edit` merges it back into a folder; transformers loads that folder and
# its last-position logits are compared with `canonedit logits --edit` and with the copy.
#   bash scripts/check-export-zoo.sh
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .build/release/canonedit ] || swift build -c release 2>&1 | tail -n 1
[ -x .venv-peer/bin/python ] || bash scripts/check-export.sh >/dev/null  # makes the venv
B=.build/release/canonedit
W=$(mktemp -d)
ZOO=Tests/TestSupport/Fixtures/zoo
TEXT="Hello, zoo"
for arch in gpt2 gpt_neox gptj llama; do
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
