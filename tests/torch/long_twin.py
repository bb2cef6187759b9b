#!/usr/bin/env python3
"""The PyTorch twin trained for many steps: does PyTorch train where ganscope does not?

    ganscope bench-train [train options] --out DIR   # the initial variables and the options
    python3 tests/torch/long_twin.py DIR --mnist data/mnist --steps 1000 --every 250 \\
        --template MODEL.safetensors --out OUT [--threads N] [--seed 0]

Starts from the variables `bench-train` wrote (the ones `ganscope train` with the same options
starts from), trains the step of tests/torch/train_twin.py (the same architecture, loss,
spectral norm or BatchNorm discriminator, and Adam) on the MNIST training images as ganscope
loads them (28x28 padded with black to 32x32, v / 127.5 - 1; coloured as ganscope colours
them when the options say `colored`), each epoch in a random order, with fresh latents every
draw, and every --every steps writes OUT/twin-STEP.safetensors: the ganscope model file
--template (any export of a run with the same options) with its generator tensors replaced
by the twin's. `ganscope sample` and `ganscope analyze ... quality` then measure both runs
with the same code (tests/torch/long_compare.sh does all of it). Needs torch.
"""
import argparse
import gzip
import json
import struct
import time

import numpy as np
import torch

from train_twin import Twin, read


def mnist(folder, limit, colored=False, seed=0):
    """The training images as ganscope loads them: `[n, 1, 32, 32]` in [-1, 1]; `colored`:
    `[n, 3, 32, 32]`, each digit's stroke tinted with one colour drawn as ganscope draws it
    (each component uniform in [0, 1], drawn again while the brightest is below 0.5; the
    colours themselves come from this script's seed, not ganscope's)."""
    with gzip.open(f"{folder}/train-images-idx3-ubyte.gz", "rb") as f:
        data = f.read()
    magic, n, rows, cols = struct.unpack(">IIII", data[:16])
    if magic != 0x803 or rows != 28 or cols != 28:
        raise SystemExit(f"{folder}: not the MNIST training images")
    x = np.frombuffer(data[16:], dtype=np.uint8).reshape(n, 28, 28)
    if limit:
        x = x[:limit]
    x = np.pad(x, ((0, 0), (2, 2), (2, 2)))
    if not colored:
        return torch.from_numpy(x.astype(np.float32) / 127.5 - 1.0).unsqueeze(1)
    rng = np.random.default_rng(seed)
    colours = np.empty((len(x), 3), np.float32)
    for i in range(len(x)):
        c = rng.random(3, dtype=np.float32)
        while c.max() < 0.5:
            c = rng.random(3, dtype=np.float32)
        colours[i] = c
    rgb = np.round(x[:, None].astype(np.float32) * colours[:, :, None, None])  # as u8, like ganscope
    return torch.from_numpy(rgb / 127.5 - 1.0)


def write_model(template, twin, path):
    """`template` (a ganscope model file) with every tensor the twin holds replaced."""
    with open(template, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    body = data[8 + n :]
    out, new = bytearray(), {}
    for name, t in header.items():
        if name == "__metadata__":
            new[name] = t
            continue
        a, b = t["data_offsets"]
        if name in twin.v:
            if t["dtype"] != "F32":
                raise SystemExit(f"{template}: {name} is {t['dtype']}; export the template in f32")
            raw = twin.v[name].detach().cpu().contiguous().numpy().astype("<f4").tobytes()
            if len(raw) != b - a:
                raise SystemExit(f"{name}: the twin's shape differs from the template's")
        else:
            raw = body[a:b]
        new[name] = {**t, "data_offsets": [len(out), len(out) + len(raw)]}
        out += raw
    js = json.dumps(new).encode()
    js += b" " * ((8 - len(js) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(js)) + js + bytes(out))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dir")
    ap.add_argument("--mnist", default="data/mnist")
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--every", type=int, default=250)
    ap.add_argument("--template", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    with open(f"{a.dir}/step.json") as f:
        step = json.load(f)
    o = step["options"]
    colored = bool(o.get("colored"))
    if step["generator"]["channels"] != (3 if colored else 1) or step["generator"]["image_size"] != 32:
        raise SystemExit("the long twin trains on 32x32 MNIST, grey or colored")
    dev = torch.device("cpu")
    twin = Twin(step, read(f"{a.dir}/init.safetensors", dev), dev)
    x = mnist(a.mnist, o.get("limit"), colored, a.seed)
    gen = torch.Generator().manual_seed(a.seed)
    b = o["batch"]
    order, at = torch.randperm(len(x), generator=gen), 0
    t0 = time.perf_counter()
    for s in range(1, a.steps + 1):
        inp = twin.random_inputs(gen)
        # the diversity term's pair of blocks per bucket, drawn afresh each step as ganscope
        # draws it (i uniform, j = i + a uniform offset in 1..m, modulo m)
        pairs = []
        for m in twin.blocks:
            if m < 2:
                pairs.append([-1, -1])
                continue
            i = int(torch.randint(0, m, (1,), generator=gen))
            pairs.append([i, (i + int(torch.randint(1, m, (1,), generator=gen))) % m])
        inp["g.pairs"] = torch.tensor(pairs)
        for k in range(o["d_steps"]):
            if at + b > len(x):
                order, at = torch.randperm(len(x), generator=gen), 0
            inp[f"d{k}.real"] = x[order[at : at + b]]
            at += b
        stats = twin.step(inp)
        if s % a.every == 0 or s == a.steps:
            path = f"{a.out}/twin-{s}.safetensors"
            write_model(a.template, twin, path)
            print(f"step {s}: D {stats['d_loss']:.3f} G {stats['g_loss']:.3f} "
                  f"({time.perf_counter() - t0:.0f} s) -> {path}", flush=True)


if __name__ == "__main__":
    main()
