"""The PyTorch peer of `canonedit bench --train norms` on a BF16 Hugging Face folder (the model of
Llama 3 8B's shape that scripts/make_bench_folder.py writes): the weights stay BF16 and frozen,
only the 1-D norm weights train, so the backward pass crosses every block without weight
gradients for the matrices, as a LoRA step's does. One warm-up and `reps` timed forward and
forward+backward passes on a (B, T) batch of pseudo-random ids with the next-token loss; prints
one JSON line in canonedit bench's shape. Usage: bench_peer_8b.py FOLDER B T [REPS] [THREADS]
"""
import json
import resource
import sys
import time

import torch
from transformers import AutoModelForCausalLM

from bench_peer import time_passes


def main():
    path, B, T = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    reps = int(sys.argv[4]) if len(sys.argv) > 4 else 1
    threads = int(sys.argv[5]) if len(sys.argv) > 5 else 2
    torch.set_num_threads(threads)
    t0 = time.perf_counter()
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.bfloat16)
    load_s = time.perf_counter() - t0
    model.eval()
    for p in model.parameters():
        p.requires_grad_(p.dim() == 1)
    tokens = torch.randint(0, model.config.vocab_size, (B, T), generator=torch.Generator().manual_seed(1234))

    f, g = time_passes(model, tokens, reps)
    print(json.dumps({
        "model": path, "batch": B, "seq": T, "threads": threads, "dtype": "bfloat16", "load_s": load_s,
        "forward_ms": f, "forward_tokens_per_s": B * T / f * 1000,
        "forward_backward_ms": g, "forward_backward_tokens_per_s": B * T / g * 1000,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "torch": torch.__version__,
    }))


if __name__ == "__main__":
    main()
