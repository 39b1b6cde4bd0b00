"""Makes the PEFT fixture: a LoRA adapter that `peft` itself writes for the zoo's tiny Llama, and
the logits of the adapted model for a few token ids. Run once with the CPU torch wheel,
transformers and peft (the .venv-peer that scripts/bench-peer.sh makes has them):

    .venv-peer/bin/python Tests/TestSupport/Fixtures/peft/make_fixture.py

Tests read only the files this writes (adapter/, logits.json); they never load torch.
"""
import json
import os

import torch
from peft import LoraConfig, get_peft_model
from transformers import AutoModelForCausalLM

here = os.path.dirname(os.path.abspath(__file__))
base = os.path.join(here, "..", "zoo", "llama")
torch.manual_seed(7)
model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
config = LoraConfig(r=2, lora_alpha=3, target_modules=["q_proj", "down_proj"], lora_dropout=0.0, bias="none",
                    task_type="CAUSAL_LM")
peft_model = get_peft_model(model, config)
with torch.no_grad():  # lora_B starts at zero; give it values so the adapter does something
    for name, p in peft_model.named_parameters():
        if "lora_B" in name:
            p.copy_(torch.randn_like(p) * 0.3)
peft_model.save_pretrained(os.path.join(here, "adapter"))
os.remove(os.path.join(here, "adapter", "README.md"))  # peft's model card template: not ours
ids = [72, 101, 108, 108, 111, 32, 87]
with torch.no_grad():
    logits = peft_model(torch.tensor([ids])).logits[0, -1].tolist()
json.dump({"ids": ids, "last_logits": logits}, open(os.path.join(here, "logits.json"), "w"))
print("wrote", os.listdir(os.path.join(here, "adapter")))
