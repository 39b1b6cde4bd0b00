"""Writes the zoo's tiny Qwen 2 as a GGUF file the way llama.cpp's converter lays it out (arch
qwen2: llama.cpp's tensor names, q/k/v biases, rows in Hugging Face's order since Qwen 2 rotates
half-split pairs, the byte-level vocabulary with the qwen2 pre-tokenizer), then has transformers
read that GGUF back and records its logits on the zoo's ids. Run once (.venv-peer):
    .venv-peer/bin/python Tests/TestSupport/Fixtures/zoo/make_gguf_fixtures.py
Tests read qwen2.gguf and qwen2.gguf.logits.json.
"""
import json
import os

import gguf
import numpy as np
import torch
from safetensors.numpy import load_file
from transformers import AutoModelForCausalLM

here = os.path.dirname(os.path.abspath(__file__))
src = os.path.join(here, "qwen2")
cfg = json.load(open(os.path.join(src, "config.json")))
tok = json.load(open(os.path.join(src, "tokenizer.json")))
weights = load_file(os.path.join(src, "model.safetensors"))
names = {"input_layernorm": "attn_norm", "self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k",
         "self_attn.v_proj": "attn_v", "self_attn.o_proj": "attn_output", "post_attention_layernorm": "ffn_norm",
         "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up", "mlp.down_proj": "ffn_down"}


def gguf_name(n):
    fixed = {"model.embed_tokens.weight": "token_embd.weight", "model.norm.weight": "output_norm.weight",
             "lm_head.weight": "output.weight"}
    if n in fixed:
        return fixed[n]
    parts = n.split(".")
    return f"blk.{parts[2]}.{names['.'.join(parts[3:-1])]}.{parts[-1]}"


path = os.path.join(here, "qwen2.gguf")
w = gguf.GGUFWriter(path, arch="qwen2")
w.add_name("tiny qwen2")
w.add_context_length(cfg["max_position_embeddings"])
w.add_embedding_length(cfg["hidden_size"])
w.add_block_count(cfg["num_hidden_layers"])
w.add_feed_forward_length(cfg["intermediate_size"])
w.add_head_count(cfg["num_attention_heads"])
w.add_head_count_kv(cfg["num_key_value_heads"])
w.add_rope_freq_base(cfg.get("rope_parameters", {}).get("rope_theta", cfg.get("rope_theta", 10000.0)))
w.add_layer_norm_rms_eps(cfg["rms_norm_eps"])
w.add_tokenizer_model("gpt2")
w.add_tokenizer_pre("qwen2")
vocab = sorted(tok["model"]["vocab"].items(), key=lambda kv: kv[1]) + [("<|endoftext|>", 256)]
tokens = [t for t, _ in sorted(dict(vocab).items(), key=lambda kv: kv[1])]
w.add_token_list(tokens)
w.add_token_types([3 if t == "<|endoftext|>" else 1 for t in tokens])
w.add_token_merges([])
w.add_eos_token_id(256)
for n, t in weights.items():
    w.add_tensor(gguf_name(n), t.astype(np.float32))
w.write_header_to_file()
w.write_kv_data_to_file()
w.write_tensors_to_file()
w.close()

ids = [[256, 72, 101, 108, 108, 111, 32, 119]]
model = AutoModelForCausalLM.from_pretrained(here, gguf_file="qwen2.gguf", dtype=torch.float32)
with torch.no_grad():
    logits = model(torch.tensor(ids)).logits[0]
json.dump({"ids": ids[0], "class": type(model).__name__, "logits": logits.tolist()},
          open(path + ".logits.json", "w"))
print("qwen2.gguf read back by transformers as", type(model).__name__)
