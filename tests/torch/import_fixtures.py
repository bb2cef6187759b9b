"""Fixtures of `ganscope import`: small random-weight generators saved the way each layout's
project saves them, with PyTorch's eval-mode output for fixed latents, so the import tests run
in CI without PyTorch. Also the face model's reference outputs.

    python3 tests/torch/import_fixtures.py [--face gan_face_generate/weights.tar]

writes tests/fixtures/import/<case>/{model file, z.npy, out.npy}. Every case uses random
BatchNorm statistics (running mean and variance) so that eval mode is really exercised.
`--face` also writes tests/fixtures/import/face/{z.npy, out.npy, out-f16.npy}: PyTorch's
output of the DigiFace1M DCGAN (pip download --no-deps gan-face-generate==1.1.1; the
checkpoint is the wheel's gan_face_generate/weights.tar) for 8 latents, with its weights as
stored and rounded to f16 as the bundled www/models file stores them.
"""

import argparse
import os

import numpy as np
import torch
from torch import nn

ROOT = os.path.join(os.path.dirname(__file__), "..", "fixtures", "import")


def dcgan(nz, ngf, nc, ups):
    """The PyTorch tutorial's generator (ups = number of stride-2 layers; 4 gives 64 px)."""
    layers = [nn.ConvTranspose2d(nz, ngf * 2 ** (ups - 1), 4, 1, 0, bias=False)]
    c = ngf * 2 ** (ups - 1)
    layers += [nn.BatchNorm2d(c), nn.ReLU(True)]
    for i in range(ups - 1):
        layers += [nn.ConvTranspose2d(c, c // 2, 4, 2, 1, bias=False), nn.BatchNorm2d(c // 2), nn.ReLU(True)]
        c //= 2
    layers += [nn.ConvTranspose2d(c, nc, 4, 2, 1, bias=False), nn.Tanh()]
    g = nn.Module()
    g.main = nn.Sequential(*layers)
    g.forward = lambda x: g.main(x)
    return g


def randomize(model, gen):
    """Weights N(0, 0.2) and random BatchNorm statistics."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.copy_(1 + 0.3 * torch.randn(m.weight.shape, generator=gen))
                m.bias.copy_(0.3 * torch.randn(m.bias.shape, generator=gen))
                m.running_mean.copy_(0.5 * torch.randn(m.running_mean.shape, generator=gen))
                m.running_var.copy_(0.5 + torch.rand(m.running_var.shape, generator=gen))
                m.num_batches_tracked.fill_(7)
            elif isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
                m.weight.copy_(0.2 * torch.randn(m.weight.shape, generator=gen))
                if m.bias is not None:
                    m.bias.copy_(0.1 * torch.randn(m.bias.shape, generator=gen))


def save_case(name, model, nz, save, shape4=True):
    d = os.path.join(ROOT, name)
    os.makedirs(d, exist_ok=True)
    model.eval()
    gen = torch.Generator().manual_seed(1)
    z = torch.randn((4, nz, 1, 1) if shape4 else (4, nz), generator=gen)
    with torch.no_grad():
        out = model(z if shape4 else z)
    np.save(os.path.join(d, "z.npy"), z.numpy().astype(np.float32))
    np.save(os.path.join(d, "out.npy"), out.numpy().astype(np.float32))
    save(d)
    print(name, tuple(out.shape), sorted(os.listdir(d)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--face", help="the gan-face-generate wheel's weights.tar")
    a = ap.parse_args()
    gen = torch.Generator().manual_seed(0)

    # the tutorial's checkpoint: a dict of state dicts (and an optimizer, and an epoch)
    g = dcgan(nz=8, ngf=4, nc=3, ups=3)  # 32 px
    randomize(g, gen)
    opt = torch.optim.Adam(g.parameters())
    g.train()
    g(torch.randn(2, 8, 1, 1, generator=gen)).mean().backward()
    opt.step()  # an optimizer state with tensors (and an integer step)
    randomize(g, gen)
    save_case("pytorch-dcgan", g, 8, lambda d: torch.save(
        {"epoch": 3, "netG_state_dict": g.state_dict(), "optimizerG_state_dict": opt.state_dict(), "loss_G": 0.7},
        os.path.join(d, "checkpoint.tar")))

    # the examples' way: a bare state dict of a DataParallel model, 64 px grey
    g = dcgan(nz=6, ngf=2, nc=1, ups=4)
    randomize(g, gen)
    dp = nn.DataParallel(g)
    save_case("pytorch-dcgan-dataparallel", g, 6, lambda d: torch.save(
        dp.state_dict(), os.path.join(d, "netG_epoch_24.pth")))

    # spectral norm on every transposed convolution (dim 1 for ConvTranspose2d), after a few
    # power iterations; a safetensors copy of the same state dict beside it
    g = dcgan(nz=5, ngf=3, nc=3, ups=3)
    randomize(g, gen)
    for i, m in enumerate(g.main):
        if isinstance(m, nn.ConvTranspose2d):
            g.main[i] = nn.utils.spectral_norm(m)
    g.train()
    with torch.no_grad():
        for _ in range(5):
            g(torch.randn(3, 5, 1, 1, generator=gen))
    randomize_bn = [m for m in g.modules() if isinstance(m, nn.BatchNorm2d)]
    for m in randomize_bn:
        with torch.no_grad():
            m.running_mean.copy_(0.5 * torch.randn(m.running_mean.shape, generator=gen))
            m.running_var.copy_(0.5 + torch.rand(m.running_var.shape, generator=gen))

    def save_sn(d):
        sd = g.state_dict()
        torch.save(sd, os.path.join(d, "G.pt"))
        from safetensors.torch import save_file
        save_file({k: v.contiguous() for k, v in sd.items()}, os.path.join(d, "G.safetensors"))
    save_case("spectral-norm-dcgan", g, 5, save_sn)

    if a.face:
        d = os.path.join(ROOT, "face")
        os.makedirs(d, exist_ok=True)
        g = dcgan(nz=100, ngf=64, nc=3, ups=4)
        ck = torch.load(a.face, map_location="cpu", weights_only=True)
        g.load_state_dict(ck["netG_state_dict"])
        g.eval()
        z = torch.randn(8, 100, 1, 1, generator=torch.Generator().manual_seed(2024))
        with torch.no_grad():
            out = g(z)
            for p in list(g.parameters()) + [b for b in g.buffers() if b.dtype.is_floating_point]:
                p.copy_(p.half().float())
            out16 = g(z)
        np.save(os.path.join(d, "z.npy"), z.numpy())
        np.save(os.path.join(d, "out.npy"), out.numpy())
        np.save(os.path.join(d, "out-f16.npy"), out16.numpy())
        print("face", tuple(out.shape), "f16 rounding moves the output by at most",
              float((out - out16).abs().max()))


if __name__ == "__main__":
    main()
