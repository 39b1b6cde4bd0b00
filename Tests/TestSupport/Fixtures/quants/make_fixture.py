"""Makes the quantization fixture: random blocks of every ggml type canonedit decodes, and what
the `gguf` Python package's reference dequantizer makes of them. Run once (the .venv-peer that
scripts/bench-peer.sh makes has gguf and numpy):

    .venv-peer/bin/python Tests/TestSupport/Fixtures/quants/make_fixture.py

It writes blocks.gguf: for each type a tensor "<TYPE>" of 4 × 256 values stored in that type
(random bytes, with the f16 scale fields set to finite values of a realistic size) and a tensor
"<TYPE>.expected" in F32, gguf.quants.dequantize of the same bytes. Tests read only this file.
"""
import os

import numpy as np
import gguf
from gguf import GGMLQuantizationType as Q

here = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(11)
ROWS, COLS = 4, 256

# Byte offsets of each block's f16 scale fields: random bytes there could be NaN or huge.
f16_fields = {
    Q.Q4_0: [0], Q.Q4_1: [0, 2], Q.Q5_0: [0], Q.Q5_1: [0, 2], Q.Q8_0: [0],
    Q.Q2_K: [80, 82], Q.Q3_K: [108], Q.Q4_K: [0, 2], Q.Q5_K: [0, 2], Q.Q6_K: [208],
}

writer = gguf.GGUFWriter(os.path.join(here, "blocks.gguf"), arch="quant-fixture")
for qtype, fields in f16_fields.items():
    block_values, block_bytes = gguf.GGML_QUANT_SIZES[qtype]
    blocks = ROWS * COLS // block_values
    raw = rng.integers(0, 256, size=(blocks, block_bytes), dtype=np.uint8)
    for off in fields:
        scales = (rng.standard_normal(blocks) * 0.02).astype(np.float16)
        raw[:, off:off + 2] = scales.view(np.uint8).reshape(blocks, 2)
    raw = raw.reshape(ROWS, COLS // block_values * block_bytes)
    expected = gguf.quants.dequantize(raw, qtype).astype(np.float32)
    assert expected.shape == (ROWS, COLS) and np.isfinite(expected).all()
    writer.add_tensor(qtype.name, raw, raw_dtype=qtype)
    writer.add_tensor(qtype.name + ".expected", expected)
    print(f"{qtype.name}: {blocks} blocks, values in [{expected.min():.4f}, {expected.max():.4f}]")
writer.write_header_to_file()
writer.write_kv_data_to_file()
writer.write_tensors_to_file()
writer.close()
