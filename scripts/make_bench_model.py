"""Writes a random-weight model with Llama 3 8B's shape as a Q8_0 GGUF, for measuring memory
and speed (not quality): 32 blocks, d 4096, 32 query and 8 key/value heads of 128, MLP 14336,
vocabulary 128,256, untied head. Tensors are streamed to the file one at a time, so writing it
needs little memory. Usage (the .venv-peer of scripts/bench-peer.sh has gguf and numpy):
    python scripts/make_bench_model.py OUT.gguf [LAYERS] [WIDTH] [MLP] [VOCAB]
"""
import sys

import numpy as np
import gguf
from gguf import GGMLQuantizationType as Q

out = sys.argv[1]
L, C, F, V = (int(x) for x in (sys.argv[2:6] + ["32", "4096", "14336", "128256"][len(sys.argv) - 2:]))
H, G, D = C // 128, max(C // 512, 1), 128
rng = np.random.default_rng(0)

w = gguf.GGUFWriter(out, arch="llama")
w.add_name(f"random llama {L}x{C}")
w.add_context_length(8192)
w.add_embedding_length(C)
w.add_block_count(L)
w.add_feed_forward_length(F)
w.add_head_count(H)
w.add_head_count_kv(G)
w.add_rope_dimension_count(D)
w.add_rope_freq_base(500000.0)
w.add_layer_norm_rms_eps(1e-5)
w.add_vocab_size(V)
w.add_tokenizer_model("gpt2")
w.add_tokenizer_pre("default")
alphabet = [chr(c) for c in range(ord("!"), ord("~") + 1)] + [chr(c) for c in range(0xA1, 0xAD)] + \
    [chr(c) for c in range(0xAE, 0x100)]
alphabet += [chr(256 + n) for n in range(256 - len(alphabet))]
w.add_token_list(alphabet + [f"<t{i}>" for i in range(V - 256)])
w.add_token_types([1] * V)

tensors = [("token_embd.weight", (V, C)), ("output.weight", (V, C)), ("output_norm.weight", (C,))]
for l in range(L):
    p = f"blk.{l}."
    tensors += [(p + "attn_norm.weight", (C,)), (p + "attn_q.weight", (H * D, C)), (p + "attn_k.weight", (G * D, C)),
                (p + "attn_v.weight", (G * D, C)), (p + "attn_output.weight", (C, H * D)),
                (p + "ffn_norm.weight", (C,)), (p + "ffn_gate.weight", (F, C)), (p + "ffn_up.weight", (F, C)),
                (p + "ffn_down.weight", (C, F))]


def q8_rows(rows, cols):
    """Random Q8_0 rows: per 32 values an f16 scale near 0.02/64 and 32 random int8."""
    blocks = np.empty((rows, cols // 32, 34), dtype=np.uint8)
    blocks[:, :, 2:] = rng.integers(0, 256, size=(rows, cols // 32, 32), dtype=np.uint8)
    blocks[:, :, :2] = np.full((rows, cols // 32), 0.02 / 64, dtype=np.float16).view(np.uint8).reshape(rows, -1, 2)
    return blocks.reshape(rows, cols // 32 * 34)


for name, shape in tensors:
    if len(shape) == 1:
        w.add_tensor_info(name, shape, np.dtype(np.float32), shape[0] * 4)
    else:
        w.add_tensor_info(name, (shape[0], shape[1] // 32 * 34), np.dtype(np.uint8), shape[0] * shape[1] // 32 * 34,
                          raw_dtype=Q.Q8_0)
w.write_header_to_file()
w.write_kv_data_to_file()
w.write_ti_data_to_file()
for name, shape in tensors:
    if len(shape) == 1:
        w.write_tensor_data(np.ones(shape, dtype=np.float32))
    else:
        chunk = 4096
        parts = [q8_rows(min(chunk, shape[0] - r), shape[1]) for r in range(0, shape[0], chunk)]
        w.write_tensor_data(np.concatenate(parts) if len(parts) > 1 else parts[0])
    print(name, shape, file=sys.stderr)
w.close()
