"""Makes the Gemma 3 270M fixtures from transformers reading the same GGUF canonedit reads
(models/gemma-3-270m-q4_k_m.gguf, installed by scripts/setup.sh): run once with the CPU torch
wheel, transformers and gguf (the .venv-peer that scripts/bench-peer.sh makes has them):

    .venv-peer/bin/python Tests/TestSupport/Fixtures/gemma3/make_fixture.py

It writes
  tokenizer.json   hard strings with the ids transformers' GGUF tokenizer gives (BOS included)
                   and the text it decodes them back to;
  reference.json   three prompts (ids, argmax), a paragraph's ids and per-token NLLs, and the
                   greedy continuation of one prompt;
  prompt{i}_last_logits.npy   every logit at each prompt's last position (float32).
Tests read only these files.
"""
import json
import os

import numpy as np
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

here = os.path.dirname(os.path.abspath(__file__))
models = os.path.join(here, "..", "..", "..", "..", "models")
gguf = "gemma-3-270m-q4_k_m.gguf"
tok = AutoTokenizer.from_pretrained(models, gguf_file=gguf)
model = AutoModelForCausalLM.from_pretrained(models, gguf_file=gguf, dtype=torch.float32).eval()

# Strings written for this fixture: scripts, digits, whitespace runs, tabs and newlines, emoji,
# code, combining marks, leading spaces, special tokens inside text, bytes the vocabulary lacks.
hard = [
    "The capital of Mauritius is Port Louis.",
    "  two leading spaces, then   three inside",
    "tabs\tand\t\ttwo tabs\n\nand a blank line\n\n\n\nthen four",
    "12345678901234567890 and 3.14159, 1,000,000",
    "naïve café résumé — déjà vu «quotes» ‘single’",
    "e\u0301 combining acute, a\u0308 diaeresis",
    "Ελληνικά, русский, 日本語のテキスト, 한국어, العربية, עברית, हिन्दी",
    "emoji 🙂🚀👩‍👩‍👧 and flags 🇫🇷🇯🇵",
    "def f(x):\n    return {'a': [1, 2]}  # code\n",
    "<start_of_turn>user\nHi there<end_of_turn>\n<start_of_turn>model\n",
    "a<bos>b<eos>c <unused3> d",
    "rare \U0001F9EC\U0001FAE8 glyphs and \u2028 separator",
    "URL https://example.org/path?q=1&r=two#frag",
    "trailing spaces   ",
    " ",
    "",
]
cases = []
for text in hard:
    ids = tok(text).input_ids
    cases.append({"text": text, "ids": ids, "decoded": tok.decode(ids)})
json.dump(cases, open(os.path.join(here, "tokenizer.json"), "w"), ensure_ascii=False, indent=1)

prompts = ["The capital of France is", "The nurse said that", "In 1969, the first person to walk on the moon was"]
reference = {"prompts": []}
with torch.no_grad():
    for i, text in enumerate(prompts):
        ids = tok(text, return_tensors="pt").input_ids
        logits = model(ids).logits[0, -1].float().numpy()
        np.save(os.path.join(here, f"prompt{i}_last_logits.npy"), logits.astype(np.float32))
        reference["prompts"].append({"text": text, "ids": ids[0].tolist(), "argmax": int(logits.argmax())})
    paragraph = ("Rivers shape the land they cross. Over thousands of years, water carries sand and stone "
                 "downstream, cutting valleys and building deltas where it meets the sea. Towns grew beside "
                 "rivers because they offered water, food and a road for trade.")
    ids = tok(paragraph, return_tensors="pt").input_ids
    logp = torch.log_softmax(model(ids).logits[0].float(), dim=-1)
    nll = -logp[:-1].gather(1, ids[0, 1:, None])[:, 0]
    reference["paragraph"] = {"text": paragraph, "ids": ids[0].tolist(), "nll": nll.tolist()}
    start = tok(prompts[0], return_tensors="pt").input_ids
    greedy = model.generate(start, max_new_tokens=8, do_sample=False)[0, start.shape[1]:].tolist()
    reference["greedy"] = {"prompt": prompts[0], "ids": greedy, "text": tok.decode(greedy)}
json.dump(reference, open(os.path.join(here, "reference.json"), "w"), ensure_ascii=False, indent=1)
print(json.dumps(reference["greedy"]), "paragraph mean NLL", float(nll.mean()))
