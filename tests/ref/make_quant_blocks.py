#!/usr/bin/env python3
"""Writes tests/ref/data/quant_blocks.bin: a few rows of real tensors from files that
llama-quantize made (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K, Q6_K), with the floats llama.cpp's
own reference dequantizer (gguf-py, numpy) gives for them. tests/test_quant_layouts.c checks that
calm reads the same numbers.
    make_quant_blocks.py LLAMA_CPP_DIR OUT.bin FILE.gguf [FILE.gguf ...]"""
import struct
import sys

import numpy as np

sys.path.insert(0, sys.argv[1] + "/gguf-py")
from gguf import GGUFReader  # noqa: E402
from gguf.quants import dequantize  # noqa: E402

WANT = {"Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "Q4_K", "Q5_K", "Q6_K"}
ROWS = 3
seen = set()
with open(sys.argv[2], "wb") as out:
    out.write(b"CQBK")
    for path in sys.argv[3:]:
        for t in GGUFReader(path).tensors:
            name = t.tensor_type.name
            if name not in WANT or name in seen or len(t.shape) != 2:
                continue
            seen.add(name)
            cols = int(t.shape[0])
            data = np.asarray(t.data)
            raw = data.reshape(int(t.shape[1]), -1)[:ROWS].copy()  # rows of raw bytes
            floats = dequantize(raw, t.tensor_type).astype(np.float32).reshape(ROWS, cols)
            out.write(struct.pack("<IIII", int(t.tensor_type), cols, ROWS, raw.shape[1]))
            out.write(raw.tobytes())
            out.write(floats.tobytes())
            print(f"{name:5s} from {t.name} of {path.split('/')[-1]}: {ROWS} rows of {cols}")
missing = WANT - seen
if missing:
    sys.exit(f"no tensor of type {sorted(missing)} in the given files")
