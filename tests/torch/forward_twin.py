#!/usr/bin/env python3
"""The PyTorch eager twin of a ganscope standard dcgan generator's forward: the peer of
`ganscope bench` (candle on the CPU, the WGSL kernels on wgpu) on the same machine.

    python3 tests/torch/forward_twin.py MODEL.safetensors [--device cpu|cuda]
        [--batches 1 64 256 4096] [--min-time 2]

Reads the generator from a `ganscope export` file (f16 or f32) and builds the same forward
(eval mode: linear -> reshape -> BatchNorm with the running statistics -> ReLU ->
[ConvTranspose 4x4 s2 p1 -> BatchNorm -> ReLU]* -> ConvTranspose -> tanh), then prints, per
batch, the median milliseconds of a forward (repeated for --min-time seconds after warm-up),
images per second and GFLOP/s (multiply-adds x 2 counted from the layer shapes). TF32 is off,
as in BENCHMARKS.md's PyTorch numbers. Needs torch (and numpy).
"""
import argparse
import json
import math
import os
import struct
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from train_twin import read  # noqa: E402  (the same safetensors reader as the training twin)

BN_EPS = 1e-5  # ganscope_model::backend::BN_EPS


def metadata(path):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        return json.loads(json.loads(f.read(n))["__metadata__"]["ganscope"])


def build(meta, w):
    """The forward as a function of z [N, latent], and its multiply-adds per image."""
    g = meta["generator"]
    if g["family"] != "dcgan" or g["constant_input"] or any(b["blocks"] != 1 for b in g["buckets"]):
        sys.exit("the twin covers standard dcgan generators (one block per bucket, latent input)")
    w = {k: v.float() for k, v in w.items()}
    prefixes = sorted({k.rsplit(".", 2)[0] for k in w if k.startswith("g.") and ".layer" in k},
                      key=lambda p: int(p.rsplit("layer", 1)[1]))
    lw = w[f"{prefixes[0]}.linear.weight"]  # [C*S*S, latent]
    c0 = w[f"{prefixes[0]}.bn.weight"].shape[0]
    s0 = math.isqrt(lw.shape[0] // c0)
    macs = lw.shape[0] * lw.shape[1]
    side = s0
    for p in prefixes[1:]:
        cin, cout, k, _ = w[f"{p}.conv.weight"].shape  # ConvTranspose weight [in, out, k, k]
        macs += side * side * cin * cout * k * k  # every input pixel scatters a k x k patch
        side *= 2

    def bn_relu(x, p):
        x = F.batch_norm(x, w[f"{p}.bn.running_mean"], w[f"{p}.bn.running_var"],
                         w[f"{p}.bn.weight"], w[f"{p}.bn.bias"], training=False, eps=BN_EPS)
        return F.relu(x)

    def forward(z):
        x = F.linear(z, lw, w[f"{prefixes[0]}.linear.bias"]).view(-1, c0, s0, s0)  # [N, C, S, S]
        x = bn_relu(x, prefixes[0])
        for i, p in enumerate(prefixes[1:], start=1):
            x = F.conv_transpose2d(x, w[f"{p}.conv.weight"], w[f"{p}.conv.bias"], stride=2, padding=1)
            x = torch.tanh(x) if i == len(prefixes) - 1 else bn_relu(x, p)
        return x  # [N, channels, size, size]

    return forward, macs


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 64, 256])
    ap.add_argument("--min-time", type=float, default=2.0)
    a = ap.parse_args()
    torch.backends.cudnn.benchmark = True
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    dev = torch.device(a.device)
    meta = metadata(a.model)
    forward, macs = build(meta, read(a.model, dev))
    latent = meta["generator"]["latent_dim"]
    sync = (lambda: torch.cuda.synchronize()) if dev.type == "cuda" else (lambda: None)
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    print(f"PyTorch {torch.__version__} eager on {name}: {a.model}, {2 * macs / 1e9:.4f} GFLOP per image")
    with torch.no_grad():
        for n in a.batches:
            z = torch.randn(n, latent, device=dev)
            for _ in range(3):
                forward(z)
            sync()
            ts = []
            end = time.perf_counter() + a.min_time
            while time.perf_counter() < end or len(ts) < 3:
                t = time.perf_counter()
                forward(z)
                sync()
                ts.append(time.perf_counter() - t)
            ms = float(np.median(ts)) * 1e3
            print(f"  batch {n}: {ms:.3f} ms per forward, {n / ms * 1e3:.0f} images/s, "
                  f"{2 * macs * n / ms / 1e6:.1f} GFLOP/s (median of {len(ts)})")


if __name__ == "__main__":
    main()
