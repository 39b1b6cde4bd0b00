"""Makes the tokenizer fixtures: small tokenizers trained here with the Hugging Face `tokenizers`
library in each pipeline shape current models ship (their structure, not their vocabularies),
and the ids that library gives for a corpus of hard strings. Run once (the .venv-peer that
scripts/bench-peer.sh makes has `tokenizers`):

    .venv-peer/bin/python Tests/TestSupport/Fixtures/tokenizers/make_fixtures.py

For each NAME it writes NAME.tokenizer.json and NAME.expected.json ({text, ids, decoded} per
string, no special tokens added around the text), and llama2_spm.gguf with the ids transformers
reads from it. Tests read only these files. The Unigram trainer is not deterministic across runs:
each tokenizer.json and its expected.json are made together and must be committed together.
"""
import json
import os

from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

here = os.path.dirname(os.path.abspath(__file__))

# Training text written for these fixtures.
corpus = [
    "Rivers shape the land they cross. Water carries sand and stone downstream, cutting valleys.",
    "The capital of Mauritius is Port Louis; the capital of Rwanda is Kigali.",
    "In 1969 the count reached 1,234,567 and by 2024 it was 98.6 percent higher.",
    "def area(r):\n    return 3.14159 * r * r  # a circle\n\nprint(area(2))\n",
    "Les élèves naïfs ont étudié à Zürich; große Straßen, café crème.",
    "Τα ποτάμια κόβουν κοιλάδες. Реки режут долины. 川は谷を削る。강은 계곡을 깎는다.",
    "She said: \"we'll see\", and he'd agreed; they're sure it's fine, I'm told.",
    "tabs\there\tand there, spaces    in runs, and\n\n\nnewlines too.",
    "emoji 🙂 🚀 and symbols © ® ™ € £ ¥ ± × ÷ → ∞",
] * 20

# Hard strings written for these fixtures: mixed scripts, digit runs, whitespace runs and tabs,
# emoji, code, combining marks, leading spaces, special tokens inside text, unseen characters.
hard = [
    "The capital of Mauritius is Port Louis.",
    "  two leading spaces, then   three inside and trailing   ",
    "tabs\tand\t\ttwo\n\nblank lines\r\n\r\nwindows ends\n\n\n\n",
    "12345678901234567890 and 3.14159, 1,000,000 and 0x1F",
    "naïve café résumé — déjà vu «quotes» ‘single’ “double”",
    "e\u0301 combining acute, a\u0308 diaeresis, \uFB01 ligature, \u2460 circled",
    "Ελληνικά, русский, 日本語のテキスト, 한국어, العربية, עברית, हिन्दी",
    "emoji 🙂🚀👩‍👩‍👧 and flags 🇫🇷🇯🇵",
    "def f(x):\n    return {'a': [1, 2]}  # code\n",
    "I'm sure they'RE here; it's John's and we'LL see, you'd've",
    "before <|special|> after<|special|>glued",
    "unseen ᚠᛇᚻ runes and 𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
    " ",
    "",
]
specials = ["<|special|>"]


def train_bpe(tok, byte_level, vocab=600):
    alphabet = pre_tokenizers.ByteLevel.alphabet() if byte_level else []
    trainer = trainers.BpeTrainer(vocab_size=vocab, initial_alphabet=alphabet, special_tokens=specials,
                                  show_progress=False)
    tok.train_from_iterator(corpus, trainer)
    return tok


def with_byte_fallback(tok):
    """A SentencePiece-style BPE: the trained vocabulary plus <0x00>…<0xFF>, byte_fallback on."""
    data = json.loads(tok.to_str())
    vocab = data["model"]["vocab"]
    for b in range(256):
        vocab.setdefault(f"<0x{b:02X}>", len(vocab))
    data["model"]["byte_fallback"] = True
    data["model"]["fuse_unk"] = True
    data["model"]["unk_token"] = "<unk>"
    vocab.setdefault("<unk>", len(vocab))
    return Tokenizer.from_str(json.dumps(data))


llama3_split = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                r"|\s*[\r\n]+|\s+(?!\S)|\s+")
qwen2_split = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
               r"|\s*[\r\n]+|\s+(?!\S)|\s+")


def gpt2():
    t = Tokenizer(models.BPE())
    t.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    t.decoder = decoders.ByteLevel()
    return train_bpe(t, True)


def llama3():
    t = Tokenizer(models.BPE(ignore_merges=True))
    t.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(llama3_split), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=False)])
    t.decoder = decoders.ByteLevel()
    return train_bpe(t, True)


def qwen2():
    t = Tokenizer(models.BPE())
    t.normalizer = normalizers.NFC()
    t.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(qwen2_split), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False)])
    t.decoder = decoders.ByteLevel()
    return train_bpe(t, True)


def mistral():
    """Mistral v0.3 / Llama 2 as tokenizer.json has it now: Metaspace, byte fallback."""
    t = Tokenizer(models.BPE())
    t.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first", split=False)
    t = with_byte_fallback(train_bpe(t, False))
    t.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(),
                                   decoders.Strip(" ", 1, 0)])
    return t


def llama2_legacy():
    """Llama 2's older tokenizer.json: the prefix and spaces come from normalizers."""
    t = Tokenizer(models.BPE())
    t.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
    t = with_byte_fallback(train_bpe(t, False))
    t.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(),
                                   decoders.Strip(" ", 1, 0)])
    return t


def gemma():
    t = Tokenizer(models.BPE())
    t.normalizer = normalizers.Replace(" ", "▁")
    t.pre_tokenizer = pre_tokenizers.Split(" ", behavior="merged_with_previous")
    t = with_byte_fallback(train_bpe(t, False))
    t.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse()])
    return t


def digits_punctuation():
    """Digits one by one, punctuation isolated, then whitespace splitting; NFKC first."""
    t = Tokenizer(models.BPE())
    t.normalizer = normalizers.NFKC()
    t.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.Punctuation(behavior="isolated"),
        pre_tokenizers.WhitespaceSplit()])
    return with_byte_fallback(train_bpe(t, False))


def metaspace_split():
    t = Tokenizer(models.BPE())
    t.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Replace(Regex(r"\s+"), " ")])
    t.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Whitespace(), pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)])
    return with_byte_fallback(train_bpe(t, False))


def train_unigram(tok, vocab=400):
    trainer = trainers.UnigramTrainer(vocab_size=vocab, special_tokens=["<unk>"] + specials, unk_token="<unk>",
                                      show_progress=False)
    tok.train_from_iterator(corpus, trainer)
    return tok


def t5_unigram():
    """T5's shape: Unigram over Metaspace pieces, NFKC, unknown characters as <unk>."""
    t = Tokenizer(models.Unigram())
    t.normalizer = normalizers.NFKC()
    t.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    t.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    return train_unigram(t)


def unigram_byte_fallback():
    """Unigram with <0x00>…<0xFF> pieces and byte fallback, no split on spaces."""
    t = Tokenizer(models.Unigram())
    t.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first", split=False)
    t = train_unigram(t)
    data = json.loads(t.to_str())
    low = min(score for _, score in data["model"]["vocab"])
    data["model"]["vocab"] += [[f"<0x{b:02X}>", low - 1.0] for b in range(256)]
    data["model"]["byte_fallback"] = True
    t = Tokenizer.from_str(json.dumps(data))
    t.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(),
                                   decoders.Strip(" ", 1, 0)])
    return t


for name, make in [("gpt2", gpt2), ("llama3", llama3), ("qwen2", qwen2), ("mistral", mistral),
                   ("llama2_legacy", llama2_legacy), ("gemma", gemma), ("digits_punctuation", digits_punctuation),
                   ("metaspace_split", metaspace_split), ("t5_unigram", t5_unigram),
                   ("unigram_byte_fallback", unigram_byte_fallback)]:
    tok = make()
    tok.add_special_tokens([AddedToken("<|special|>", special=True, normalized=False)])
    tok.save(os.path.join(here, name + ".tokenizer.json"))
    cases = []
    for text in hard:
        ids = tok.encode(text, add_special_tokens=False).ids
        cases.append({"text": text, "ids": ids, "decoded": tok.decode(ids, skip_special_tokens=False)})
    json.dump(cases, open(os.path.join(here, name + ".expected.json"), "w"), ensure_ascii=False, indent=1)
    print(name, tok.get_vocab_size(), sum(len(c["ids"]) for c in cases), "ids")


def llama2_spm_gguf():
    """A Llama-2-style SentencePiece GGUF (tokenizer.ggml.model llama: tokens, scores, token types,
    add_space_prefix) made from the Mistral-shaped vocabulary, each token scored by the rank of the
    merge that makes it; transformers reads it back as the reference."""
    import gguf
    import numpy as np
    from transformers import AutoTokenizer

    d = json.load(open(os.path.join(here, "mistral.tokenizer.json")))
    tokens = [None] * len(d["model"]["vocab"])
    for t, i in d["model"]["vocab"].items():
        tokens[i] = t
    rank = {a + b: r for r, (a, b) in reversed(list(enumerate(d["model"]["merges"])))}
    path = os.path.join(here, "llama2_spm.gguf")
    w = gguf.GGUFWriter(path, arch="llama")
    w.add_tokenizer_model("llama")
    w.add_token_list(tokens)
    w.add_token_scores([-float(rank[t]) if t in rank else 0.0 for t in tokens])
    w.add_token_types([3 if t in ("<unk>", "<|special|>") else 6 if t.startswith("<0x") and len(t) == 6 else 1
                       for t in tokens])
    w.add_unk_token_id(tokens.index("<unk>"))
    w.add_bos_token_id(tokens.index("<|special|>"))
    w.add_add_bos_token(True)
    w.add_add_space_prefix(True)
    for key, value in [("context_length", 16), ("embedding_length", 8), ("block_count", 1),
                       ("feed_forward_length", 8), ("head_count", 1)]:
        getattr(w, "add_" + key)(value)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_tensor("token_embd.weight", np.zeros((len(tokens), 8), dtype=np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    tok = AutoTokenizer.from_pretrained(here, gguf_file="llama2_spm.gguf")
    cases = []
    for text in hard:
        ids = tok(text, add_special_tokens=False).input_ids
        cases.append({"text": text, "ids": ids, "decoded": tok.decode(ids)})
    json.dump(cases, open(os.path.join(here, "llama2_spm.expected.json"), "w"), ensure_ascii=False, indent=1)
    print("llama2_spm.gguf", len(tokens), sum(len(c["ids"]) for c in cases), "ids (transformers from GGUF)")


llama2_spm_gguf()
