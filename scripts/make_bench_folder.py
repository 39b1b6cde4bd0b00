"""Writes a random-weight model with Llama 3 8B's shape as a Hugging Face folder of BF16
safetensors shards (config.json, tokenizer.json, model-0000N-of-0000M.safetensors and the index),
for measuring memory and speed, not quality: the BF16 twin of make_bench_model.py's GGUF. Each
tensor is made and written in row chunks, so writing needs little memory. The tokenizer is
byte-level with no merges (one token per byte). Usage (the .venv-peer of scripts/bench-peer.sh
has numpy and tokenizers):
    python scripts/make_bench_folder.py OUT_FOLDER [LAYERS] [WIDTH] [MLP] [VOCAB]
"""
import json
import os
import struct
import sys

import numpy as np
from tokenizers import Tokenizer, decoders, models, pre_tokenizers

out = sys.argv[1]
L, C, F, V = (int(x) for x in (sys.argv[2:6] + ["32", "4096", "14336", "128256"][len(sys.argv) - 2:]))
H, G, D = C // 128, max(C // 512, 1), 128
rng = np.random.default_rng(0)
os.makedirs(out, exist_ok=True)

json.dump({
    "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": C, "intermediate_size": F,
    "num_hidden_layers": L, "num_attention_heads": H, "num_key_value_heads": G, "head_dim": D,
    "rms_norm_eps": 1e-5, "rope_theta": 500000.0, "max_position_embeddings": 8192, "vocab_size": V,
    "tie_word_embeddings": False, "hidden_act": "silu", "torch_dtype": "bfloat16", "bos_token_id": None,
    "eos_token_id": None,
}, open(os.path.join(out, "config.json"), "w"), indent=1)

byte_chars = pre_tokenizers.ByteLevel.alphabet()
vocab = {c: i for i, c in enumerate(sorted(byte_chars))}
vocab.update({f"<t{i}>": 256 + i for i in range(V - 256)})
tok = Tokenizer(models.BPE(vocab=vocab, merges=[]))
tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
tok.decoder = decoders.ByteLevel()
tok.save(os.path.join(out, "tokenizer.json"))

layer = [("input_layernorm.weight", (C,)), ("self_attn.q_proj.weight", (H * D, C)),
         ("self_attn.k_proj.weight", (G * D, C)), ("self_attn.v_proj.weight", (G * D, C)),
         ("self_attn.o_proj.weight", (C, H * D)), ("post_attention_layernorm.weight", (C,)),
         ("mlp.gate_proj.weight", (F, C)), ("mlp.up_proj.weight", (F, C)), ("mlp.down_proj.weight", (C, F))]
shards = [[("model.embed_tokens.weight", (V, C))]]
shards += [[(f"model.layers.{l}.{n}", s) for n, s in layer] for l in range(L)]
shards += [[("model.norm.weight", (C,)), ("lm_head.weight", (V, C))]]


def bf16_rows(rows, cols):
    """Random values of about the GGUF twin's size (±0.04), as BF16 bits."""
    x = rng.uniform(-0.04, 0.04, size=(rows, cols)).astype(np.float32)
    return (x.view(np.uint32) >> 16).astype(np.uint16)


weight_map = {}
for k, tensors in enumerate(shards):
    name = f"model-{k + 1:05d}-of-{len(shards):05d}.safetensors"
    header, offset = {}, 0
    for t, shape in tensors:
        n = int(np.prod(shape)) * 2
        header[t] = {"dtype": "BF16", "shape": list(shape), "data_offsets": [offset, offset + n]}
        offset += n
        weight_map[t] = name
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(os.path.join(out, name), "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text)
        for t, shape in tensors:
            if len(shape) == 1:
                f.write(np.full(shape, 0x3F80, dtype=np.uint16).tobytes())  # 1.0
                continue
            for r in range(0, shape[0], 2048):
                f.write(bf16_rows(min(2048, shape[0] - r), shape[1]).tobytes())
    print(name, file=sys.stderr)
json.dump({"metadata": {}, "weight_map": weight_map}, open(os.path.join(out, "model.safetensors.index.json"), "w"))
