#!/usr/bin/env python3
"""The PyTorch twin of ganscope's training step: the peer of `ganscope bench-train`.

    ganscope bench-train [train options] --out DIR     # writes one step and candle's timing
    python3 tests/torch/train_twin.py DIR [--device cpu|cuda] [--warmup 3] [--timed 10] [--threads N]

Replays the step `bench-train` wrote (same variables, same real batch, latents, paths and
diversity pairs) with the same architecture, loss and optimizer, and compares the losses and
the variables after it with candle's; then times training steps on --device and prints the
ratio against DIR/timing.json (measure both on the same machine).

What it implements, as crates/train does: the dcgan family (linear -> BN/ReLU ->
[ConvTranspose 4x4 s2 + BN + ReLU]* -> ConvTranspose -> tanh; BatchNorm in training mode,
momentum 0.1, eps 1e-5), RPGAN buckets with samples grouped by block (gather, run,
scatter), the discriminator of 4x4 stride-2 convolutions with LeakyReLU 0.1 and a linear head,
every weight spectrally normalised with one power iteration per step (u stored on D steps
only) or, with `--d-norm batch`, BatchNorm after every conv but the first (real and fake as
separate batches), hinge loss, d_steps D updates per G update, the authors' diversity term (one pair of
blocks per bucket, jointly standardised, margin 1.5), torch.optim.Adam. Needs torch.
"""
import argparse
import json
import math
import struct
import time

import numpy as np
import torch
import torch.nn.functional as F

MARGIN = 1.5
BN_EPS = 1e-5
LRELU = 0.1


def read(path, device):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    header.pop("__metadata__", None)
    body = data[8 + n :]
    types = {"F32": np.float32, "I64": np.int64, "F16": np.float16}
    out = {}
    for name, t in header.items():
        a, b = t["data_offsets"]
        arr = np.frombuffer(body[a:b], dtype=types[t["dtype"]]).reshape(t["shape"]).copy()
        out[name] = torch.from_numpy(arr).to(device)
    return out


def normalize(x):
    return x / (x.square().sum().sqrt() + 1e-12)


class Twin:
    def __init__(self, step, variables, device):
        self.opts, self.g, self.d = step["options"], step["generator"], step["discriminator"]
        if self.g["family"] != "dcgan" or self.d["family"] != "dcgan":
            raise SystemExit("the twin implements the dcgan family (snresnet is not written yet)")
        if self.opts["loss"] != "hinge":
            raise SystemExit("the twin implements the hinge loss")
        self.device = device
        self.v = {}
        for name, t in variables.items():
            state = name.endswith(("running_mean", "running_var", "_u"))
            self.v[name] = t.clone().requires_grad_(not state)
        self.trainable = [n for n, t in self.v.items() if t.requires_grad]
        lr_d = self.opts["lr_d"] or self.opts["lr"]
        betas = (self.opts["beta1"], self.opts["beta2"])
        gen = [self.v[n] for n in self.trainable if n.startswith("g.")]
        dis = [self.v[n] for n in self.trainable if n.startswith("d.")]
        self.adam_g = torch.optim.Adam(gen, lr=self.opts["lr"], betas=betas, eps=1e-8)
        self.adam_d = torch.optim.Adam(dis, lr=lr_d, betas=betas, eps=1e-8)
        blocks = [b["blocks"] for b in self.g["buckets"]]
        self.layers = []  # per bucket: the global layer indices it holds
        first = 0
        for b in self.g["buckets"]:
            self.layers.append(list(range(first, first + b["layers"])))
            first += b["layers"]
        self.n_layers = first
        self.blocks = blocks

    # the generator -------------------------------------------------------------------
    def bn_relu(self, x, p):
        v = self.v
        y = F.batch_norm(x, v[p + ".running_mean"], v[p + ".running_var"], v[p + ".weight"],
                         v[p + ".bias"], training=True, momentum=0.1, eps=BN_EPS)
        return F.relu(y)

    def layer(self, x, bucket, block, l):
        p = f"g.bucket{bucket + 1}.block{block}.layer{l + 1}"
        v = self.v
        if l == 0:
            h = F.linear(x, v[p + ".linear.weight"], v[p + ".linear.bias"])
            c = v[p + ".bn.weight"].shape[0]
            s = int(math.isqrt(h.shape[1] // c))
            return self.bn_relu(h.reshape(-1, c, s, s), p + ".bn")
        h = F.conv_transpose2d(x, v[p + ".conv.weight"], v[p + ".conv.bias"], stride=2, padding=1)
        if l + 1 == self.n_layers:
            return torch.tanh(h)
        return self.bn_relu(h, p + ".bn")

    def block(self, x, bucket, block):
        for l in self.layers[bucket]:
            x = self.layer(x, bucket, block, l)
        return x

    def generate(self, z, paths):
        n = paths.shape[0]
        x = self.v["g.z"].expand(n, -1) if self.g["constant_input"] else z
        for bi in range(len(self.blocks)):
            col = paths[:, bi]
            used = torch.unique(col).tolist()
            if len(used) == 1:
                x = self.block(x, bi, used[0])
                continue
            parts, order = [], []
            for j in used:  # ascending, as candle groups them
                idx = (col == j).nonzero().flatten()
                parts.append(self.block(x.index_select(0, idx), bi, j))
                order.append(idx)
            y = torch.cat(parts)
            inv = torch.empty_like(col)
            inv[torch.cat(order)] = torch.arange(n, device=col.device)
            x = y.index_select(0, inv)
        return x

    # the discriminator -----------------------------------------------------------------
    def sn(self, name, update):
        w = self.v[name]
        u = self.v[name + "_u"]
        wm = w.reshape(w.shape[0], -1)
        with torch.no_grad():
            vv = normalize(wm.t() @ u.reshape(-1, 1))
            u1 = normalize(wm @ vv)
            if update:
                u.copy_(u1.flatten())
        sigma = (u1.t() @ (wm @ vv)).reshape(())
        return w / sigma

    def discriminate(self, x, update):
        """Spectral norm: every weight through one power iteration; BatchNorm (`norm` batch):
        plain weights, BatchNorm in training mode after every conv but the first."""
        bn = self.d.get("norm", "spectral") == "batch"
        w = (lambda name: self.v[name]) if bn else (lambda name: self.sn(name, update))
        h = x
        for i in range(len(self.d["widths"])):
            p = f"d.conv{i + 1}"
            h = F.conv2d(h, w(p + ".weight"), self.v[p + ".bias"], stride=2, padding=1)
            if bn and i > 0:
                v, q = self.v, p + ".bn"
                h = F.batch_norm(h, v[q + ".running_mean"], v[q + ".running_var"], v[q + ".weight"],
                                 v[q + ".bias"], training=True, momentum=0.1, eps=BN_EPS)
            h = F.leaky_relu(h, LRELU)
        return F.linear(h.flatten(1), w("d.linear.weight"), self.v["d.linear.bias"])

    # the step ------------------------------------------------------------------------------
    def diversity(self, pairs):
        terms = []
        for bi, (i, j) in enumerate(pairs.tolist()):
            if i < 0:
                continue
            pi, pj = f"g.bucket{bi + 1}.block{i}.", f"g.bucket{bi + 1}.block{j}."
            ts = []
            for name in self.trainable:
                if not name.startswith(pi) or ".bn" in name:
                    continue
                a, b = self.v[name], self.v[name.replace(pi, pj, 1)]
                both = torch.cat([a.flatten(), b.flatten()])
                var = (both - both.mean()).square().mean()
                mse = (a - b).square().mean() / (var + 1e-8)
                ts.append(torch.zeros_like(mse) if mse.item() > MARGIN else mse)
            if ts:
                terms.append(torch.stack(ts).mean())
        return torch.stack(terms).mean() if terms else None

    def step(self, inp):
        b = self.opts["batch"]
        stats = {}
        for k in range(self.opts["d_steps"]):
            with torch.no_grad():
                fake = self.generate(inp.get(f"d{k}.z"), inp[f"d{k}.paths"])
            if self.d.get("norm", "spectral") == "batch":  # real and fake as batches of their own
                dr = self.discriminate(inp[f"d{k}.real"], update=True)
                df = self.discriminate(fake, update=True)
            else:
                logits = self.discriminate(torch.cat([inp[f"d{k}.real"], fake]), update=True)
                dr, df = logits[:b], logits[b:]
            loss = F.relu(1 - dr).mean() + F.relu(1 + df).mean()
            stats["d_loss"] = loss.item()
            self.adam_d.zero_grad(set_to_none=True)
            loss.backward()
            self.adam_d.step()
        fake = self.generate(inp.get("g.z"), inp["g.paths"])
        adv = -self.discriminate(fake, update=False).mean()
        stats["g_loss"] = adv.item()
        loss = adv
        if self.opts["diversity"] > 0:
            div = self.diversity(inp["g.pairs"])
            if div is not None:
                stats["diversity"] = div.item()
                loss = loss - self.opts["diversity"] * div
        self.adam_g.zero_grad(set_to_none=True)
        self.adam_d.zero_grad(set_to_none=True)
        loss.backward()
        self.adam_g.step()
        return stats

    def random_inputs(self, gen):
        b, s, ch = self.opts["batch"], self.g["image_size"], self.g["channels"]
        dev = self.device
        inp = {}
        def draw(prefix):
            inp[prefix + ".paths"] = torch.stack(
                [torch.randint(0, m, (b,), device=dev, generator=gen) for m in self.blocks], 1)
            if not self.g["constant_input"]:
                inp[prefix + ".z"] = torch.randn(b, self.g["latent_dim"], device=dev, generator=gen)
        for k in range(self.opts["d_steps"]):
            inp[f"d{k}.real"] = torch.rand(b, ch, s, s, device=dev, generator=gen) * 2 - 1
            draw(f"d{k}")
        draw("g")
        # which pair of blocks does not change the term's cost
        inp["g.pairs"] = torch.tensor([[0, 1] if m >= 2 else [-1, -1] for m in self.blocks])
        return inp


def time_phases(twin, gen, sync, n):
    """The phases `ganscope bench-train` times, the same way (its `time_steps`): the generator's
    forward in training mode and forward + backward of the sum of squares, the discriminator's
    forward and forward + backward of its sum over one batch of 2B random images. Median ms of
    n runs each, in ganscope's order."""
    b, s, ch = twin.opts["batch"], twin.g["image_size"], twin.g["channels"]
    inp = twin.random_inputs(gen)
    z, paths = inp.get("g.z"), inp["g.paths"]
    x = torch.randn(2 * b, ch, s, s, device=twin.device, generator=gen)

    def backward(loss):
        for v in twin.v.values():
            v.grad = None  # fresh gradients, as candle's backward makes
        loss().backward()

    def run(f):
        f()
        sync()
        ts = []
        for _ in range(n):
            t = time.perf_counter()
            f()
            sync()
            ts.append((time.perf_counter() - t) * 1e3)
        return float(np.median(ts))

    return [
        run(lambda: twin.generate(z, paths)),
        run(lambda: backward(lambda: twin.generate(z, paths).square().sum())),
        run(lambda: twin.discriminate(x, update=False)),
        run(lambda: backward(lambda: twin.discriminate(x, update=False).sum())),
    ]


def compare(twin, after, lr):
    """Largest differences from candle's variables after the step, and the share of elements
    off by more than a tenth of it: weights in units of the learning rate (one Adam step
    moves each by about lr; an element whose gradient is round-off may move either way),
    state (running statistics, spectral-norm vectors) absolute."""
    worst = {}
    for name, want in after.items():
        layer = name.rsplit(".", 2)[0]
        if name.endswith(".bias") and (f"{layer}.bn.weight" in twin.v
                                       or f"{name[:-5]}.bn.weight" in twin.v):
            # a bias right before BatchNorm has no gradient (the mean is taken out): Adam turns
            # its round-off into +-lr steps of arbitrary sign, in both frameworks
            continue
        state = not twin.v[name].requires_grad
        key = "state" if state else {"g": "generator weights", "d": "discriminator weights"}[name[0]]
        scale = 1.0 if state else lr
        d = (twin.v[name].detach() - want).abs() / scale
        w = worst.setdefault(key, [0.0, "", 0, 0])
        if d.max().item() > w[0]:
            w[0], w[1] = d.max().item(), name
        w[2] += int((d > 0.1).sum().item())
        w[3] += d.numel()
    return worst


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dir")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--timed", type=int, default=10)
    ap.add_argument("--threads", type=int, default=0, help="CPU threads (0: PyTorch's default)")
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    torch.backends.cudnn.benchmark = True
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    dev = torch.device(a.device)
    with open(f"{a.dir}/step.json") as f:
        step = json.load(f)
    twin = Twin(step, read(f"{a.dir}/init.safetensors", dev), dev)
    stats = twin.step(read(f"{a.dir}/inputs.safetensors", dev))
    want = step["stats"]
    print(f"step 1: PyTorch D {stats['d_loss']:.6f} G {stats['g_loss']:.6f} diversity "
          f"{stats.get('diversity', 0.0):.6f}; ganscope D {want['d_loss']:.6f} G {want['g_loss']:.6f} "
          f"diversity {want['diversity']:.6f}")
    for key, (d, name, off, n) in compare(twin, read(f"{a.dir}/after.safetensors", dev),
                                          step["options"]["lr"]).items():
        unit = " x lr" if key != "state" else ""
        print(f"  {key}: largest difference after the step {d:.3g}{unit} ({name}); "
              f"{off} of {n} elements off by more than 0.1{unit}")
    gen = torch.Generator(device=dev).manual_seed(0)
    inputs = [twin.random_inputs(gen) for _ in range(4)]
    sync = (lambda: torch.cuda.synchronize()) if dev.type == "cuda" else (lambda: None)
    for i in range(a.warmup):
        twin.step(inputs[i % 4])
    sync()
    ts = []
    for i in range(a.timed):
        t = time.perf_counter()
        twin.step(inputs[i % 4])
        sync()
        ts.append((time.perf_counter() - t) * 1e3)
    ms = float(np.median(ts))
    print(f"PyTorch {torch.__version__} on {a.device} ({torch.get_num_threads()} threads), batch "
          f"{step['options']['batch']}: {ms:.2f} ms per training step (median of {a.timed})")
    try:
        with open(f"{a.dir}/timing.json") as f:
            ours = json.load(f)
    except FileNotFoundError:
        return
    print(f"ganscope on {ours['device']}: {ours['step_ms_median']:.2f} ms per step; "
          f"ganscope / PyTorch time: {ours['step_ms_median'] / ms:.2f} (below 1: ganscope is faster)")
    phases = time_phases(twin, gen, sync, max(3, min(a.timed, 10)))
    for (name, mine), theirs in zip(ours["phases"], phases):
        print(f"  {name:40s} ganscope {mine:7.2f} ms, PyTorch {theirs:7.2f} ms: {mine / theirs:.2f}")


if __name__ == "__main__":
    main()
