"""Reference fixtures for canonedit's model zoo: tiny random models of each architecture,
built with PyTorch (CPU) and Hugging Face transformers, saved as Hugging Face folders with
their logits, loss and every parameter's gradient on a fixed batch.

Run once by a developer (tests only read what it writes; CI never needs torch):
    python3 -m venv /tmp/ref && /tmp/ref/bin/pip install torch transformers safetensors
    /tmp/ref/bin/python Tests/TestSupport/Fixtures/zoo/make_fixtures.py [NAME ...]
With names (gpt2 gpt_neox gptj llama backpack gemma3 qwen2 mistral llama31), only those are written.

The Backpack has no class in transformers, so `TinyBackpack` below implements it from the
description in the project's spec (Hewitt et al.'s stanfordnlp/backpack-gpt2: GPT-2
contextualization network with inverse-layer attention scaling, 16-sense weight network, sense
network on token embeddings, logits = (sum of alpha * senses) @ wte.T, no final norm or scaling).
"""
import json, os, sys
import torch
from safetensors.torch import save_file
import transformers as tf

HERE = os.path.dirname(os.path.abspath(__file__))
V = 257                                    # 256 byte symbols + <|endoftext|>
IDS = [[256, 72, 101, 108, 108, 111, 32, 119], [84, 104, 101, 32, 99, 97, 116, 256]]   # (B=2, T=8)


def byte_tokenizer_json():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b); cs.append(256 + n); n += 1
    table = dict(zip(bs, [chr(c) for c in cs]))
    vocab = {table[b]: b for b in range(256)}
    vocab["<|endoftext|>"] = 256
    # Every field the `tokenizers` library requires, so AutoTokenizer loads the folder (and its exports).
    byte_level = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}
    return {"version": "1.0", "truncation": None, "padding": None, "normalizer": None, "post_processor": None,
            "added_tokens": [{"id": 256, "content": "<|endoftext|>", "single_word": False, "lstrip": False,
                              "rstrip": False, "normalized": False, "special": True}],
            "pre_tokenizer": byte_level, "decoder": byte_level,
            "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                      "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                      "vocab": vocab, "merges": []}}


def record(name, model, config_dict=None, state=None):
    """Saves the model folder and reference.safetensors: logits (B,T,V), loss, grad.<param>."""
    out = os.path.join(HERE, name)
    os.makedirs(out, exist_ok=True)
    model.eval()
    ids = torch.tensor(IDS)
    model.zero_grad()
    logits = model(ids).logits if hasattr(model(ids), "logits") else model(ids)
    loss = torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, V), ids[:, 1:].reshape(-1))
    loss.backward()
    if config_dict is None:
        model.save_pretrained(out, safe_serialization=True)
    else:
        json.dump(config_dict, open(os.path.join(out, "config.json"), "w"), indent=1)
        save_file({k: v.detach().contiguous() for k, v in state.items()}, os.path.join(out, "model.safetensors"))
    json.dump(byte_tokenizer_json(), open(os.path.join(out, "tokenizer.json"), "w"))
    ref = {"logits": logits.detach().contiguous(), "loss": loss.detach().reshape(1)}
    for k, p in model.named_parameters():
        if p.grad is not None:
            ref["grad." + k] = p.grad.detach().contiguous()
    save_file(ref, os.path.join(out, "reference.safetensors"), metadata={"ids": json.dumps(IDS)})
    for f in os.listdir(out):          # keep only what the tests read
        if f not in ("config.json", "model.safetensors", "tokenizer.json", "reference.safetensors"):
            os.remove(os.path.join(out, f))
    print(name, "loss", float(loss))


class TinyBackpack(torch.nn.Module):
    """The Backpack forward as the spec describes it, with the checkpoint's tensor names."""

    def __init__(self, gpt2_config, num_senses):
        super().__init__()
        self.k, C = num_senses, gpt2_config.n_embd
        self.gpt2 = tf.GPT2Model(gpt2_config)
        act = lambda: torch.nn.GELU(approximate="tanh")
        self.sense_ln = torch.nn.LayerNorm(C, eps=gpt2_config.layer_norm_epsilon)
        self.block_ln_1 = torch.nn.LayerNorm(C, eps=gpt2_config.layer_norm_epsilon)
        self.block_ln_2 = torch.nn.LayerNorm(C, eps=gpt2_config.layer_norm_epsilon)
        self.block_fc = torch.nn.Linear(C, 4 * C); self.block_proj = torch.nn.Linear(4 * C, C)
        self.final_fc = torch.nn.Linear(C, 4 * C); self.final_proj = torch.nn.Linear(4 * C, self.k * C)
        self.act = act()
        self.d = C // 16 if C >= 16 else 2                 # weight-net width per sense (48 for C=768)
        self.weight_net = torch.nn.Linear(C, 2 * self.k * self.d)

    def forward(self, ids):
        b, s = ids.shape
        C = self.gpt2.config.n_embd
        H = self.gpt2(ids).last_hidden_state                                   # contextualization (b, s, C), after ln_f
        qk = self.weight_net(H).reshape(b, s, 2, self.k, self.d)
        q, kk = qk[:, :, 0], qk[:, :, 1]                                        # (b, s, k, d)
        scores = torch.einsum("bikd,bjkd->bkij", q, kk) / self.d ** 0.5
        mask = torch.triu(torch.ones(s, s, dtype=torch.bool), 1)
        alpha = torch.softmax(scores.masked_fill(mask, -10000.0), dim=-1)       # (b, k, s, s)
        r = self.gpt2.wte(ids)                                                  # sense network input: no positions
        u = self.sense_ln(r)
        r2 = u + r
        r3 = self.block_proj(self.act(self.block_fc(self.block_ln_1(r2)))) + r2
        w = self.block_ln_2(r3)
        senses = self.final_proj(self.act(self.final_fc(w))).reshape(b, s, self.k, C).transpose(1, 2)   # (b, k, s, C)
        o = torch.einsum("bkij,bkjc->bic", alpha, senses)
        return o @ self.gpt2.wte.weight.T

    def checkpoint_state(self):
        """State dict under stanfordnlp/backpack-gpt2's names (Conv1D weights (in, out), Linear (out, in))."""
        st = {}
        for k, v in self.gpt2.state_dict().items():
            if not k.endswith(".attn.bias") and not k.endswith(".attn.masked_bias"):
                st["backpack.gpt2_model." + k] = v
        sn = "backpack.sense_network."
        st[sn + "ln.weight"], st[sn + "ln.bias"] = self.sense_ln.weight, self.sense_ln.bias
        st[sn + "block.ln_1.weight"], st[sn + "block.ln_1.bias"] = self.block_ln_1.weight, self.block_ln_1.bias
        st[sn + "block.ln_2.weight"], st[sn + "block.ln_2.bias"] = self.block_ln_2.weight, self.block_ln_2.bias
        for name, lin in [("block.mlp.c_fc", self.block_fc), ("block.mlp.c_proj", self.block_proj),
                          ("final_mlp.c_fc", self.final_fc), ("final_mlp.c_proj", self.final_proj)]:
            st[sn + name + ".weight"], st[sn + name + ".bias"] = lin.weight.T, lin.bias    # Conv1D layout
        st["backpack.sense_weight_net.c_attn.weight"] = self.weight_net.weight
        st["backpack.sense_weight_net.c_attn.bias"] = self.weight_net.bias
        return st


def perturb(model, scale=0.2):
    """Random values for every tensor, norms included (Gemma's start at zero, which hides them)."""
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, scale)
    return model


def newer_models():
    """Gemma 3 (query/key norms, sandwich norms, GeGLU, √C embedding scale, sliding windows of 4
    with their own rotary base on two of three layers, query_pre_attn_scalar ≠ head_dim), Qwen 2
    (q/k/v biases, untied head) and Mistral (a sliding window of 4 on every layer)."""
    torch.manual_seed(5)
    gemma = tf.Gemma3TextConfig(
        vocab_size=V, hidden_size=32, intermediate_size=48, num_hidden_layers=3, num_attention_heads=4,
        num_key_value_heads=2, head_dim=16, query_pre_attn_scalar=24, sliding_window=4,
        layer_types=["sliding_attention", "sliding_attention", "full_attention"],
        rope_parameters={"sliding_attention": {"rope_type": "default", "rope_theta": 10.0},
                         "full_attention": {"rope_type": "default", "rope_theta": 10000.0}},
        max_position_embeddings=16, final_logit_softcapping=None, attn_logit_softcapping=None,
        bos_token_id=256, eos_token_id=256, pad_token_id=0)
    yield "gemma3", perturb(tf.Gemma3ForCausalLM(gemma))

    torch.manual_seed(6)
    qwen = tf.Qwen2Config(vocab_size=V, hidden_size=32, intermediate_size=48, num_hidden_layers=2,
                          num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=16,
                          tie_word_embeddings=False, bos_token_id=256, eos_token_id=256)
    yield "qwen2", perturb(tf.Qwen2ForCausalLM(qwen))

    torch.manual_seed(7)
    mistral = tf.MistralConfig(vocab_size=V, hidden_size=32, intermediate_size=48, num_hidden_layers=2,
                               num_attention_heads=4, num_key_value_heads=2, head_dim=8, sliding_window=4,
                               max_position_embeddings=16, tie_word_embeddings=False, bos_token_id=256,
                               eos_token_id=256)
    yield "mistral", perturb(tf.MistralForCausalLM(mistral))

    torch.manual_seed(8)  # Llama 3.1's rotary scaling: with head_dim 8 and an original context of 64,
    # one frequency stays, one is blended and two are slowed by the factor
    llama31 = tf.LlamaConfig(vocab_size=V, hidden_size=32, intermediate_size=48, num_hidden_layers=2,
                             num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
                             rope_parameters={"rope_type": "llama3", "rope_theta": 10000.0, "factor": 8.0,
                                              "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                                              "original_max_position_embeddings": 64},
                             tie_word_embeddings=False, bos_token_id=256, eos_token_id=256)
    yield "llama31", perturb(tf.LlamaForCausalLM(llama31))


def main():
    wanted = set(sys.argv[1:])
    if wanted:
        for name, model in newer_models():
            if name in wanted:
                record(name, model)
        if not wanted - {"gemma3", "qwen2", "mistral", "llama31"}:
            return
    torch.manual_seed(0)
    gpt2 = tf.GPT2Config(vocab_size=V, n_positions=16, n_embd=32, n_layer=2, n_head=4, scale_attn_by_inverse_layer_idx=True,
                         resid_pdrop=0, embd_pdrop=0, attn_pdrop=0, bos_token_id=256, eos_token_id=256)
    record("gpt2", tf.GPT2LMHeadModel(gpt2))

    torch.manual_seed(1)
    neox = tf.GPTNeoXConfig(vocab_size=V, hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                            rotary_pct=0.25, max_position_embeddings=16, use_parallel_residual=True, tie_word_embeddings=False,
                            hidden_dropout=0, attention_dropout=0, bos_token_id=256, eos_token_id=256)
    record("gpt_neox", tf.GPTNeoXForCausalLM(neox))

    torch.manual_seed(2)
    gptj = tf.GPTJConfig(vocab_size=V, n_positions=16, n_embd=32, n_layer=2, n_head=4, rotary_dim=4, resid_pdrop=0, embd_pdrop=0,
                         attn_pdrop=0, tie_word_embeddings=False, bos_token_id=256, eos_token_id=256)
    record("gptj", tf.GPTJForCausalLM(gptj))

    torch.manual_seed(3)
    llama = tf.LlamaConfig(vocab_size=V, hidden_size=32, intermediate_size=48, num_hidden_layers=2, num_attention_heads=4,
                           num_key_value_heads=2, max_position_embeddings=16, rope_theta=10000.0, tie_word_embeddings=True,
                           bos_token_id=256, eos_token_id=256)
    record("llama", tf.LlamaForCausalLM(llama))

    torch.manual_seed(4)
    bp_gpt2 = tf.GPT2Config(vocab_size=V, n_positions=16, n_embd=32, n_layer=2, n_head=4, scale_attn_by_inverse_layer_idx=True,
                            resid_pdrop=0, embd_pdrop=0, attn_pdrop=0)
    bp = TinyBackpack(bp_gpt2, num_senses=4)
    with torch.no_grad():
        for p in bp.parameters():
            if p.dim() >= 2: p.normal_(0, 0.2)
    cfg = bp_gpt2.to_dict()
    cfg.update({"model_type": "backpack-gpt2", "architectures": ["BackpackGPT2LMHeadModel"], "num_senses": 4,
                "sense_intermediate_scale": 4})
    for k in ("transformers_version", "dtype", "torch_dtype"):
        cfg.pop(k, None)
    record("backpack", bp, config_dict=cfg, state=bp.checkpoint_state())
    if not wanted:
        for name, model in newer_models():
            record(name, model)


if __name__ == "__main__":
    sys.exit(main())
