#!/usr/bin/env python3
"""The standard GAN's recipe in plain PyTorch (torch.nn modules and spectral_norm), to try
recipe changes faster than ganscope trains them and apart from ganscope's code:

    python3 tests/torch/recipe.py [--d dcgan4|dcganbn|sngan] [--dw 32] [--init ganscope|torch|g|d|last]
        [--last-bound B] [--loss hinge|ns] [--colored] [--lr 2.5e-4] [--lrd LR_D] [--b1 0.5] [--b2 0.999] [--ndis 1]
        [--steps 1000] [--every 500] [--seed 0]

The generator is ganscope's dcgan at width 32 (linear -> 4x4x128, transposed convolutions
128-64-32-1, BatchNorm/ReLU, tanh); the discriminator 4x4 stride-2 convolutions dw-2dw-4dw with
LeakyReLU and a linear head (`dcgan4`, ganscope's), or SN-GAN's standard CNN (`sngan`), every
layer spectrally normalised; Adam 2.5e-4 (0.5, 0.999) (--lrd: the discriminator's rate), batch
64, grey MNIST from data/mnist (run it from the repository root). --init: `ganscope` (generator
N(0, 0.02), discriminator Glorot-uniform, zero biases: ganscope's initialisation before the
output-layer change), `torch` (PyTorch's defaults everywhere), `g` or `d` (PyTorch's defaults
in the generator or the discriminator only), `last` (ganscope's, but the generator's output
layer at PyTorch's default, or at --last-bound: what ganscope does now). --colored: ganscope's
colored MNIST (`colorize`). Every --every steps it prints one JSON line: the pixel std and
nearest-neighbour distance of 64 samples (eval mode; `_train`: training-mode BatchNorm) over 64
real test digits', as `ganscope analyze quality` measures them. One thread. Results:
docs/training.md. Needs torch.
"""
import argparse, copy, gzip, struct, time, math, json
import numpy as np, torch, torch.nn as nn, torch.nn.functional as F
from torch.nn.utils import spectral_norm as SN

ap = argparse.ArgumentParser()
ap.add_argument("--d", default="dcgan4")      # dcgan4 | dcganbn | sngan
ap.add_argument("--dw", type=int, default=16)
ap.add_argument("--gw", type=int, default=32)
ap.add_argument("--slope", type=float, default=0.1)
ap.add_argument("--init", default="ganscope") # ganscope | torch | g (torch G only) | d (torch D only) | last (torch last G layer only)
ap.add_argument("--loss", default="hinge")
ap.add_argument("--lr", type=float, default=2.5e-4)
ap.add_argument("--lrd", type=float, default=0)
ap.add_argument("--b1", type=float, default=0.5)
ap.add_argument("--b2", type=float, default=0.999)
ap.add_argument("--ndis", type=int, default=1, help="discriminator steps per generator step")
ap.add_argument("--steps", type=int, default=1000)
ap.add_argument("--every", type=int, default=500)
ap.add_argument("--seed", type=int, default=0)
ap.add_argument("--colored", action="store_true")
ap.add_argument("--last-bound", type=float, default=0, help="with --init last: this bound instead of 1/sqrt(fan in)")
a = ap.parse_args()
torch.set_num_threads(1); torch.manual_seed(a.seed); np.random.seed(a.seed)

def load(name):
    with gzip.open(f"data/mnist/{name}", "rb") as f: d = f.read()
    n = struct.unpack(">IIII", d[:16])[1]
    x = np.frombuffer(d[16:], np.uint8).reshape(n, 28, 28)
    x = np.pad(x, ((0,0),(2,2),(2,2)))
    return torch.from_numpy(x.astype(np.float32)/127.5-1).unsqueeze(1)
X = load("train-images-idx3-ubyte.gz"); T = load("t10k-images-idx3-ubyte.gz")[:64]


def colorize(x, gen):
    """ganscope's colored MNIST: one random colour per image (channel values uniform in
    [0, 1], the largest at least 0.5), the stroke tinted, the background black."""
    c = torch.rand(len(x) * 2, 3, generator=gen)
    c = c[c.max(1).values >= 0.5][: len(x)]
    return ((x + 1) / 2 * c[:, :, None, None]) * 2 - 1


if a.colored:
    X = colorize(X, torch.Generator().manual_seed(1)); T = colorize(T, torch.Generator().manual_seed(2))
ch = X.shape[1]

def div(x):
    x = ((x+1)/2).reshape(x.shape[0], -1)
    std = x.std(0, unbiased=False).mean().item()
    dd = torch.cdist(x, x); dd.fill_diagonal_(float("inf"))
    return std, dd.min(1).values.mean().item()
rs, rn = div(T)

w = a.gw
G = nn.Sequential(nn.Linear(128, 4*4*4*w), nn.Unflatten(1, (4*w, 4, 4)), nn.BatchNorm2d(4*w), nn.ReLU(),
    nn.ConvTranspose2d(4*w, 2*w, 4, 2, 1), nn.BatchNorm2d(2*w), nn.ReLU(),
    nn.ConvTranspose2d(2*w, w, 4, 2, 1), nn.BatchNorm2d(w), nn.ReLU(),
    nn.ConvTranspose2d(w, ch, 4, 2, 1), nn.Tanh())
lr_ = lambda: nn.LeakyReLU(a.slope)
dw = a.dw
if a.d == "dcgan4":
    D = nn.Sequential(SN(nn.Conv2d(ch, dw, 4, 2, 1)), lr_(), SN(nn.Conv2d(dw, 2*dw, 4, 2, 1)), lr_(),
        SN(nn.Conv2d(2*dw, 4*dw, 4, 2, 1)), lr_(), nn.Flatten(), SN(nn.Linear(4*dw*16, 1)))
elif a.d == "dcganbn":  # DCGAN's discriminator: no spectral norm, BatchNorm after every conv but the first
    D = nn.Sequential(nn.Conv2d(ch, dw, 4, 2, 1), lr_(), nn.Conv2d(dw, 2*dw, 4, 2, 1), nn.BatchNorm2d(2*dw), lr_(),
        nn.Conv2d(2*dw, 4*dw, 4, 2, 1), nn.BatchNorm2d(4*dw), lr_(), nn.Flatten(), nn.Linear(4*dw*16, 1))
else:  # SN-GAN standard CNN (Miyato et al. table 3), widths dw, 2dw, 4dw, 8dw
    D = nn.Sequential(SN(nn.Conv2d(ch, dw, 3, 1, 1)), lr_(), SN(nn.Conv2d(dw, dw, 4, 2, 1)), lr_(),
        SN(nn.Conv2d(dw, 2*dw, 3, 1, 1)), lr_(), SN(nn.Conv2d(2*dw, 2*dw, 4, 2, 1)), lr_(),
        SN(nn.Conv2d(2*dw, 4*dw, 3, 1, 1)), lr_(), SN(nn.Conv2d(4*dw, 4*dw, 4, 2, 1)), lr_(),
        SN(nn.Conv2d(4*dw, 8*dw, 3, 1, 1)), lr_(), nn.Flatten(), SN(nn.Linear(8*dw*16, 1)))
if a.init in ("ganscope", "d", "last"):
    for m in G.modules():
        if isinstance(m, (nn.Linear, nn.ConvTranspose2d)): nn.init.normal_(m.weight, 0, 0.02); nn.init.zeros_(m.bias)
if a.init == "last":
    last = G[-2]; b = a.last_bound or 1/math.sqrt(last.weight.shape[1]*16); nn.init.uniform_(last.weight, -b, b)
if a.init in ("ganscope", "g", "last"):
    for m in D.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d)):
            wt = m.weight_orig if hasattr(m, "weight_orig") else m.weight
            nn.init.xavier_uniform_(wt); nn.init.zeros_(m.bias)
opt_g = torch.optim.Adam(G.parameters(), a.lr, betas=(a.b1, a.b2))
opt_d = torch.optim.Adam(D.parameters(), a.lrd or a.lr, betas=(a.b1, a.b2))
t0 = time.time(); perm = torch.randperm(len(X)); pos = 0
zf = torch.randn(64, 128, generator=torch.Generator().manual_seed(123))
for step in range(1, a.steps+1):
    for _ in range(a.ndis):
        if pos + 64 > len(X): perm = torch.randperm(len(X)); pos = 0
        real = X[perm[pos:pos+64]]; pos += 64
        z = torch.randn(64, 128)
        fake = G(z)
        dr, df = D(real), D(fake.detach())
        if a.loss == "hinge": ld = F.relu(1-dr).mean() + F.relu(1+df).mean()
        else: ld = F.softplus(-dr).mean() + F.softplus(df).mean()
        opt_d.zero_grad(); ld.backward(); opt_d.step()
    z = torch.randn(64, 128)
    out = D(G(z))
    lg = -out.mean() if a.loss == "hinge" else F.softplus(-out).mean()
    opt_g.zero_grad(); lg.backward(); opt_g.step()
    if step % a.every == 0:
        # eval mode, then training mode on a copy (a training-mode forward of G itself would
        # move its running statistics towards the measurement batch)
        with torch.no_grad():
            s, n = div(G.eval()(zf))
            s2, n2 = div(copy.deepcopy(G).train()(zf))
        G.train()
        print(json.dumps(dict(cfg=vars(a), step=step, std=round(s/rs,3), nn=round(n/rn,3), std_train=round(s2/rs,3), nn_train=round(n2/rn,3), sec=round(time.time()-t0,1))), flush=True)
