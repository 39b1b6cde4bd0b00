"""canonedit's LoReFT hook against pyreft's LoreftIntervention (pyreft 0.1.0), same R, W, b.

For each width and rank: a random orthonormal R (set through pyreft's orthogonal
parametrisation and read back, so both sides use the matrix pyreft uses), random W, b, hidden
state h and upstream gradient d. pyreft gives out = h + (W h + b - R h) R^T with autograd's
gradients of sum(out * d) for h, R (the parametrised weight), W and b; the shipped plugin's hook
(Examples/c-plugin/loreft.c, run by scripts/loreft_harness.c) gives the same five. Prints the
largest difference of each relative to the largest value, and exits 1 above 1e-6.
  python scripts/check_loreft_pyreft.py HARNESS
"""
import struct
import subprocess
import sys
import tempfile

import numpy as np
import torch
from torch.nn.utils import parametrize
from pyreft.interventions import LoreftIntervention


def run_case(harness, C, rank, seed):
    torch.manual_seed(seed)
    interv = LoreftIntervention(embed_dim=C, low_rank_dimension=rank, dtype=torch.float32)
    q, _ = torch.linalg.qr(torch.randn(C, rank))
    with torch.no_grad():
        interv.rotate_layer.weight = q
        interv.learned_source.weight.copy_(torch.randn(rank, C) * 0.3)
        interv.learned_source.bias.copy_(torch.randn(rank))
    h = torch.randn(1, C, requires_grad=True)
    d = torch.randn(1, C)
    with parametrize.cached():
        weight = interv.rotate_layer.weight  # (C, rank): R^T
        weight.retain_grad()
        out = interv(h)
        (out * d).sum().backward()
    R = weight.detach().T.contiguous()
    W = interv.learned_source.weight.detach()
    b = interv.learned_source.bias.detach()
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = tmp + "/in.bin", tmp + "/out.bin"
        with open(src, "wb") as f:
            f.write(struct.pack("<ii", C, rank))
            for t in (h.detach()[0], R, W, b, d[0]):
                f.write(t.numpy().astype("<f4").tobytes())
        subprocess.run([harness, src, dst], check=True)
        got = np.fromfile(dst, dtype="<f4")
    sizes = [C, C, rank * C, rank * C, rank]
    parts = np.split(got, np.cumsum(sizes)[:-1])
    reference = [out.detach()[0], h.grad[0], weight.grad.T, interv.learned_source.weight.grad,
                 interv.learned_source.bias.grad]
    worst = 0.0
    for name, mine, ref in zip(["output", "dh", "dR", "dW", "db"], parts, reference):
        ref = ref.detach().numpy().reshape(-1).astype(np.float64)
        rel = np.abs(mine - ref).max() / max(np.abs(ref).max(), 1e-30)
        worst = max(worst, rel)
        print(f"C {C:4d} rank {rank:2d}  {name:6s}  max |canonedit - pyreft| / max |pyreft| = {rel:.2e}")
    return worst


def main():
    harness = sys.argv[1]
    import pyreft
    print(f"pyreft {pyreft.__version__ if hasattr(pyreft, '__version__') else '0.1.0'}, torch {torch.__version__}")
    worst = max(run_case(harness, C, r, seed)
                for seed, (C, r) in enumerate([(16, 1), (64, 4), (576, 8), (640, 16)]))
    print(f"largest relative difference {worst:.2e}: {'within' if worst <= 1e-6 else 'OVER'} 1e-6")
    sys.exit(0 if worst <= 1e-6 else 1)


if __name__ == "__main__":
    main()
