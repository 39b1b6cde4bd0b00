"""The peer of `canonedit bench`: the same computation in PyTorch (CPU, fp32).

Loads the same GGUF file with transformers (dequantised to fp32), runs forward and
forward+backward (every parameter trainable) on a (B, T) batch of pseudo-random token ids with
the next-token loss, and prints one JSON line in canonedit bench's shape. scripts/bench-peer.sh
runs it alternately with canonedit. Usage: bench_peer.py GGUF_FILE B T REPS THREADS
"""
import json
import os
import resource
import sys
import time

import torch
from transformers import AutoModelForCausalLM


def time_passes(model, tokens, reps):
    """Median milliseconds of forward and of forward+backward (next-token loss), after a warm-up."""
    def timed(f):
        t0 = time.perf_counter()
        f()
        return (time.perf_counter() - t0) * 1000

    def forward():
        with torch.no_grad():
            model(tokens, labels=tokens)

    def forward_backward():
        model.zero_grad(set_to_none=False)
        model(tokens, labels=tokens).loss.backward()

    fwd = [timed(forward) for _ in range(reps + 1)][1:]
    fb = [timed(forward_backward) for _ in range(reps + 1)][1:]
    return sorted(fwd)[len(fwd) // 2], sorted(fb)[len(fb) // 2]


def main():
    path, B, T, reps, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    torch.set_num_threads(threads)
    model = AutoModelForCausalLM.from_pretrained(
        os.path.dirname(os.path.abspath(path)), gguf_file=os.path.basename(path), dtype=torch.float32)
    model.eval()  # no dropout, as canonedit
    V = model.config.vocab_size
    tokens = torch.randint(0, V, (B, T), generator=torch.Generator().manual_seed(1234))

    f, g = time_passes(model, tokens, reps)
    print(json.dumps({
        "model": os.path.basename(path), "batch": B, "seq": T, "threads": threads,
        "forward_ms": f, "forward_tokens_per_s": B * T / f * 1000,
        "forward_backward_ms": g, "forward_backward_tokens_per_s": B * T / g * 1000,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "torch": torch.__version__,
    }))


if __name__ == "__main__":
    main()
