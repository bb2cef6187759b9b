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


# --- pytorch-gan-collections (w86763777): source/models/{dcgan,sngan}.py, small widths ---

class GCDCGAN(nn.Module):
    """dcgan.Generator(z_dim, M): transposed convs without bias, the first M x M."""
    def __init__(self, z_dim, M, n):
        super().__init__()
        self.z_dim = z_dim
        self.main = nn.Sequential(
            nn.ConvTranspose2d(z_dim, 8 * n, M, 1, 0, bias=False), nn.BatchNorm2d(8 * n), nn.ReLU(True),
            nn.ConvTranspose2d(8 * n, 4 * n, 4, 2, 1, bias=False), nn.BatchNorm2d(4 * n), nn.ReLU(True),
            nn.ConvTranspose2d(4 * n, 2 * n, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * n), nn.ReLU(True),
            nn.ConvTranspose2d(2 * n, n, 4, 2, 1, bias=False), nn.BatchNorm2d(n), nn.ReLU(True),
            nn.ConvTranspose2d(n, 3, 4, 2, 1, bias=False), nn.Tanh())

    def forward(self, z):
        return self.main(z.view(-1, self.z_dim, 1, 1))


class GCCNN(nn.Module):
    """sngan.Generator(z_dim, M): a linear input, BatchNorm + ReLU first, a 3x3 conv last."""
    def __init__(self, z_dim, M, n):
        super().__init__()
        self.M = M
        self.linear = nn.Linear(z_dim, M * M * 8 * n)
        self.main = nn.Sequential(
            nn.BatchNorm2d(8 * n), nn.ReLU(True),
            nn.ConvTranspose2d(8 * n, 4 * n, 4, 2, 1), nn.BatchNorm2d(4 * n), nn.ReLU(True),
            nn.ConvTranspose2d(4 * n, 2 * n, 4, 2, 1), nn.BatchNorm2d(2 * n), nn.ReLU(True),
            nn.ConvTranspose2d(2 * n, n, 4, 2, 1), nn.BatchNorm2d(n), nn.ReLU(True),
            nn.Conv2d(n, 3, 3, 1, 1), nn.Tanh())

    def forward(self, z):
        x = self.linear(z)
        return self.main(x.view(x.size(0), -1, self.M, self.M))


class ResGenBlock(nn.Module):
    def __init__(self, i, o):
        super().__init__()
        self.residual = nn.Sequential(
            nn.BatchNorm2d(i), nn.ReLU(), nn.Upsample(scale_factor=2), nn.Conv2d(i, o, 3, 1, 1),
            nn.BatchNorm2d(o), nn.ReLU(), nn.Conv2d(o, o, 3, 1, 1))
        self.shortcut = nn.Sequential(nn.Upsample(scale_factor=2), nn.Conv2d(i, o, 1, 1, 0))

    def forward(self, x):
        return self.residual(x) + self.shortcut(x)


class ResGenerator32(nn.Module):
    def __init__(self, z_dim, ch):
        super().__init__()
        self.ch = ch
        self.linear = nn.Linear(z_dim, 4 * 4 * ch)
        self.blocks = nn.Sequential(ResGenBlock(ch, ch), ResGenBlock(ch, ch), ResGenBlock(ch, ch))
        self.output = nn.Sequential(nn.BatchNorm2d(ch), nn.ReLU(True), nn.Conv2d(ch, 3, 3, 1, 1), nn.Tanh())

    def forward(self, z):
        return self.output(self.blocks(self.linear(z).view(-1, self.ch, 4, 4)))


# --- mimicry (kwotsin): torch_mimicry/modules/resblocks.py GBlock, nets/sngan/sngan_32.py ---

class GBlock(nn.Module):
    def __init__(self, i, o):
        super().__init__()
        self.c1 = nn.Conv2d(i, o, 3, 1, padding=1)
        self.c2 = nn.Conv2d(o, o, 3, 1, padding=1)
        self.b1 = nn.BatchNorm2d(i)
        self.b2 = nn.BatchNorm2d(o)
        self.activation = nn.ReLU(True)
        self.c_sc = nn.Conv2d(i, o, 1, 1, padding=0)

    def up(self, x, conv):
        return conv(torch.nn.functional.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False))

    def forward(self, x):
        h = self.activation(self.b1(x))
        h = self.up(h, self.c1)
        h = self.c2(self.activation(self.b2(h)))
        return h + self.up(x, self.c_sc)


class SNGANGenerator32(nn.Module):
    def __init__(self, nz, ngf, bottom_width=4):
        super().__init__()
        self.bottom_width = bottom_width
        self.l1 = nn.Linear(nz, bottom_width ** 2 * ngf)
        self.block2 = GBlock(ngf, ngf)
        self.block3 = GBlock(ngf, ngf)
        self.block4 = GBlock(ngf, ngf)
        self.b5 = nn.BatchNorm2d(ngf)
        self.c5 = nn.Conv2d(ngf, 3, 3, 1, padding=1)
        self.activation = nn.ReLU(True)

    def forward(self, x):
        h = self.l1(x).view(x.shape[0], -1, self.bottom_width, self.bottom_width)
        h = self.block4(self.block3(self.block2(h)))
        return torch.tanh(self.c5(self.activation(self.b5(h))))


# --- RandomPathGAN (anvoynov): lib/path_generator.py, lib/modules/blocks_bunch.py,
#     lib/models/sngan/generators/sn_gen_resnet.py and sn_gen_fc.py ---

class BlocksBunch(nn.Module):
    def __init__(self, make, n):
        super().__init__()
        self.blocks = nn.ModuleList([make() for _ in range(n)])
        self.use = 0

    def forward(self, x):
        return self.blocks[self.use](x)


class Reshape(nn.Module):
    def __init__(self, shape):
        super().__init__()
        self.shape = shape

    def forward(self, x):
        return x.view(*self.shape)


class ResBlockGenerator(nn.Module):
    def __init__(self, i, o, bn):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(i) if bn else nn.Identity()
        self.conv1 = nn.Conv2d(i, o, 3, 1, padding=1)
        self.bn2 = nn.BatchNorm2d(o) if bn else nn.Identity()
        self.conv2 = nn.Conv2d(o, o, 3, 1, padding=1)
        self.model = nn.Sequential(self.bn1, nn.LeakyReLU(0.0), nn.Upsample(scale_factor=2), self.conv1,
                                   self.bn2, nn.LeakyReLU(0.0), self.conv2)
        self.bypass = nn.Upsample(scale_factor=2) if i == o else nn.Sequential(
            nn.Upsample(scale_factor=2), nn.Conv2d(i, o, 3, 1, padding=1))

    def forward(self, x):
        return self.model(x) + self.bypass(x)


class PathGenerator(nn.Module):
    def __init__(self, model, latent_dim):
        super().__init__()
        self.const_noise = nn.Parameter(torch.randn([1, latent_dim]))
        self.model = model

    def buckets(self):
        return [m for m in self.modules() if isinstance(m, BlocksBunch)]

    def render(self, path):
        for b, i in zip(self.buckets(), path):
            b.use = i
        return self.model(self.const_noise)


def rpgan_resnet(latent, channels, blocks, bn):
    layers = [BlocksBunch(lambda: nn.Linear(latent, 16 * channels[0]), blocks[0]),
              Reshape([-1, channels[0], 4, 4])]
    layers += [BlocksBunch(lambda i=i: ResBlockGenerator(channels[i], channels[i + 1], bn), blocks[i + 1])
               for i in range(len(channels) - 1)]
    layers += [nn.BatchNorm2d(channels[-1]), nn.ReLU(),
               BlocksBunch(lambda: nn.Conv2d(channels[-1], 3, 3, 1, padding=1), blocks[-1]), nn.Tanh()]
    return PathGenerator(nn.Sequential(*layers), latent)


def rpgan_fc(latent, w, blocks, leak, bn):
    def block(i, o):
        return lambda: nn.Sequential(nn.Linear(i, o), nn.LeakyReLU(leak))
    norm = (lambda c: nn.BatchNorm1d(c)) if bn else (lambda c: nn.Identity())
    return PathGenerator(nn.Sequential(
        BlocksBunch(block(latent, w), blocks[0]), norm(w),
        BlocksBunch(block(w, 2 * w), blocks[1]), norm(2 * w),
        BlocksBunch(block(2 * w, 4 * w), blocks[2]), norm(4 * w),
        BlocksBunch(block(4 * w, 8 * w), blocks[3]), norm(8 * w),
        BlocksBunch(lambda: nn.Linear(8 * w, 28 * 28), blocks[4]), nn.Tanh(), Reshape([-1, 1, 28, 28])), latent)


def save_paths(name, g, blocks, save, settings=None):
    """An RPGAN case: PyTorch's output for 4 paths (paths.json) instead of latents."""
    import json
    d = os.path.join(ROOT, name)
    os.makedirs(d, exist_ok=True)
    g.eval()
    rng = np.random.RandomState(3)
    paths = [[int(rng.randint(m)) for m in blocks] for _ in range(4)]
    with torch.no_grad():
        out = torch.cat([g.render(p) for p in paths])
    json.dump(paths, open(os.path.join(d, "paths.json"), "w"))
    if settings:
        open(os.path.join(d, "settings.txt"), "w").write("\n".join(settings) + "\n")
    np.save(os.path.join(d, "out.npy"), out.numpy().astype(np.float32))
    save(d)
    print(name, tuple(out.shape), sorted(os.listdir(d)))


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

    # pytorch-gan-collections: {'net_G': ..., 'net_D': ..., 'optim_G': ...} in model.pt
    def gc_save(g):
        opt = torch.optim.Adam(g.parameters())
        d_net = nn.Linear(3, 1)
        return lambda d: torch.save({"net_G": g.state_dict(), "net_D": d_net.state_dict(),
                                     "optim_G": opt.state_dict()}, os.path.join(d, "model.pt"))
    g = GCDCGAN(z_dim=7, M=2, n=3)  # 32 px from a 2x2 first map
    randomize(g, gen)
    save_case("gan-collections-dcgan", g, 7, gc_save(g), shape4=False)
    g = GCCNN(z_dim=9, M=4, n=3)
    randomize(g, gen)
    save_case("gan-collections-cnn", g, 9, gc_save(g), shape4=False)
    g = ResGenerator32(z_dim=6, ch=5)
    randomize(g, gen)
    save_case("gan-collections-resnet", g, 6, gc_save(g), shape4=False)

    # mimicry: {'model_state_dict': ..., 'optimizer_state_dict': ..., 'global_step': ...}
    g = SNGANGenerator32(nz=6, ngf=5)
    randomize(g, gen)
    opt = torch.optim.Adam(g.parameters())
    save_case("mimicry-sngan", g, 6, lambda d: torch.save(
        {"model_state_dict": g.state_dict(), "optimizer_state_dict": opt.state_dict(), "global_step": 10},
        os.path.join(d, "netG_10_steps.pth")), shape4=False)

    # RandomPathGAN: a bare state dict (generator_<step>.pt); the ResNet with per-block
    # BatchNorm and an identity and a conv bypass, the fully connected one with common
    # BatchNorm and LeakyReLU(0.2)
    blocks = [3, 2, 2, 2, 3]
    g = rpgan_resnet(latent=8, channels=[6, 6, 5, 4], blocks=blocks, bn=True)
    randomize(g, gen)
    save_paths("rpgan-resnet", g, blocks, lambda d: torch.save(g.state_dict(), os.path.join(d, "generator_100.pt")))
    blocks = [2, 3, 2, 2, 2]
    g = rpgan_fc(latent=6, w=4, blocks=blocks, leak=0.2, bn=True)
    randomize(g, gen)
    save_paths("rpgan-fc", g, blocks, lambda d: torch.save(g.state_dict(), os.path.join(d, "generator_500.pt")),
               settings=["leak=0.2"])

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
