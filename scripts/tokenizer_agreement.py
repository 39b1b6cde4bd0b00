"""Does transformers read a canonedit Hugging Face export's tokenizer as canonedit does?

Loads AutoTokenizer from the export, compares its ids with `canonedit logits --text` on hard
strings, and (with --generate) compares greedy continuations of AutoModelForCausalLM with
`canonedit generate`. With --record FILE it writes the strings, transformers' ids and the
SHA-256 of the tokenizer.json it loaded, the fixture a Swift test checks canonedit against.
  python scripts/tokenizer_agreement.py EXPORT_DIR --canonedit BIN [--model M] [--edit E] [--generate]
"""
import argparse, hashlib, json, subprocess, sys

# Digits, runs of spaces, tabs and newlines, accents, CJK, emoji with joiners, contractions,
# special tokens written in the text, byte-level look-alikes, a no-break space.
HARD = [
    "The capital of France is Paris.",
    "In 1999, 12345 people paid $3.50 each.",
    "  two spaces,   three, and\ttab\nnewline\n\n",
    "Café naïve résumé — “quotes” and ‘single’",
    "東京は日本の首都です。",
    "emoji 🙂🚀 and ZWJ 👩\u200d👩\u200d👧",
    "don't won't it's I'm we'll they've",
    "<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n",
    "ĠĠ weird Ġ chars \u00a0nbsp",
]
# Short ones for the test zoo's tiny models (one token per byte, a context of 16).
SHORT = ["Hello, zoo", "a  b\tc\n", "café", "🙂!", "<|endoftext|>x", "12 34"]
PROMPTS = ["The capital of France is", "Once upon a time,", "Hello"]


def canonedit(args, cmd):
    out = subprocess.run([args.canonedit] + cmd + (["--model", args.model] if args.model else [])
                         + sum((["--edit", e] for e in args.edit), []), capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("export")
    p.add_argument("--canonedit", required=True)
    p.add_argument("--model")
    p.add_argument("--edit", action="append", default=[])
    p.add_argument("--generate", action="store_true")
    p.add_argument("--record")
    args = p.parse_args()
    from transformers import AutoTokenizer
    tok = AutoTokenizer.from_pretrained(args.export)
    config = json.load(open(f"{args.export}/config.json"))
    context = config.get("max_position_embeddings") or config.get("n_positions") or 1 << 30
    # canonedit tokenizes through `logits`, which runs the model: strings past a tiny model's
    # context are left out (and counted).
    strings = [s for s in HARD + SHORT if len(tok(s).input_ids) <= context]
    theirs = [tok(s).input_ids for s in strings]
    ours = [canonedit(args, ["logits", "--text", s, "--top", "1"])["ids"] for s in strings]
    same = sum(a == b for a, b in zip(ours, theirs))
    n = len(HARD + SHORT)
    left = f" ({n - len(strings)} longer than the model's context of {context} left out)" if len(strings) < n else ""
    print(f"AutoTokenizer from the export: ids equal canonedit's on {same} of {len(strings)} hard strings{left}")
    for s, a, b in zip(strings, ours, theirs):
        if a != b:
            print(f"  differs on {s!r}: canonedit {a[:16]}, transformers {b[:16]}")
    ok = same == len(strings)
    if args.generate:
        import torch
        from transformers import AutoModelForCausalLM
        model = AutoModelForCausalLM.from_pretrained(args.export, dtype=torch.float32)
        for prompt in PROMPTS:
            ids = tok(prompt, return_tensors="pt")
            if ids.input_ids.shape[1] + 8 > context:
                continue
            out = model.generate(**ids, max_new_tokens=8, do_sample=False)
            text = tok.decode(out[0][ids.input_ids.shape[1]:])
            ref = canonedit(args, ["generate", "--prompt", prompt, "--max-tokens", "8"])["text"]
            print(f"model.generate {prompt!r} -> {text!r}; canonedit generate -> {ref!r}")
            ok &= text == ref
        if tok.chat_template:
            chat = tok.apply_chat_template([{"role": "user", "content": "What is the capital of France?"}],
                                           add_generation_prompt=True, return_tensors="pt", return_dict=True)
            out = model.generate(**chat, max_new_tokens=40, do_sample=False)
            print(f"chat template: {tok.decode(out[0][chat['input_ids'].shape[1]:])!r}")
    if args.record:
        sha = hashlib.sha256(open(f"{args.export}/tokenizer.json", "rb").read()).hexdigest()
        with open(args.record, "w") as f:
            json.dump({"tokenizer_json_sha256": sha, "strings": strings, "transformers_ids": theirs}, f,
                      ensure_ascii=False, indent=1)
            f.write("\n")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
