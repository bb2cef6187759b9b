#!/usr/bin/env python3
"""Checks that one training step on CUDA equals the same step on the CPU.

    python3 tests/gpu/same_step.py CPU_DIR CUDA_DIR [--tol 1e-3]

Both folders come from `ganscope bench-train --out DIR` with the same options, one with
`--device cpu`, one with `--device cuda`. The variables before the step and the step's inputs
must be the same (they are drawn on the host); the variables after it may differ by float
rounding. One Adam step moves each weight by about lr, and an element whose gradient is
round-off may move either way (a bias right before BatchNorm has none at all), so for the
weights at most a --share of elements may be off by more than a tenth of lr; the state
(BatchNorm running statistics, spectral-norm vectors) must agree within --tol absolute, and
the losses within 1e-3 relative. Prints one line per check and exits 1 when one fails.
Needs numpy.
"""
import argparse
import json
import struct
import sys

import numpy as np


def read(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    header.pop("__metadata__", None)
    types = {"F32": np.float32, "I64": np.int64, "F16": np.float16}
    out = {}
    for name, t in header.items():
        a, b = t["data_offsets"]
        out[name] = np.frombuffer(data[8 + n + a : 8 + n + b], dtype=types[t["dtype"]]).reshape(t["shape"])
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("cpu")
    ap.add_argument("cuda")
    ap.add_argument("--tol", type=float, default=1e-4)
    ap.add_argument("--share", type=float, default=1e-3)
    a = ap.parse_args()
    ok = True
    for f in ("init", "inputs"):
        x, y = read(f"{a.cpu}/{f}.safetensors"), read(f"{a.cuda}/{f}.safetensors")
        same = x.keys() == y.keys() and all(np.array_equal(x[k], y[k]) for k in x)
        print(f"{f}: {'the same' if same else 'DIFFERENT'} ({len(x)} tensors)")
        ok &= same
    lr = json.load(open(f"{a.cpu}/step.json"))["options"]["lr"]
    x, y = read(f"{a.cpu}/after.safetensors"), read(f"{a.cuda}/after.safetensors")
    state = lambda k: "running_" in k or k.endswith("_u")  # noqa: E731  (spectral.rs: NAME_u)
    off, total, worst = 0, 0, (0.0, "")
    for k in x:
        d = np.abs(x[k].astype(np.float64) - y[k])
        if state(k):
            worst = max(worst, (float(d.max()), k))
        else:
            off += int((d > 0.1 * lr).sum())
            total += d.size
    print(f"weights after the step: {off} of {total} elements off by more than 0.1 x lr")
    print(f"state after the step: largest difference {worst[0]:.3g} ({worst[1] or 'none'})")
    ok &= off <= a.share * total and worst[0] < a.tol
    sx, sy = (json.load(open(f"{d}/step.json"))["stats"] for d in (a.cpu, a.cuda))
    for k in ("d_loss", "g_loss"):
        rel = abs(sx[k] - sy[k]) / max(1e-6, abs(sx[k]))
        print(f"{k}: CPU {sx[k]:.6f}, CUDA {sy[k]:.6f} (relative difference {rel:.2g})")
        ok &= rel < 1e-3
    print("the CUDA step equals the CPU step" if ok else "FAIL: the CUDA step differs from the CPU step")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
