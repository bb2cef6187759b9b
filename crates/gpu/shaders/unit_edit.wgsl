// Unit edit (GAN Dissection eq. 3/5; after common/elementwise.wgsl) of [N, C, H, W]:
// y[n,u,q] = (1 - a[u] m[q]) x[n,u,q] + a[u] m[q] k[u]. aux holds alpha (C), value (C) and
// mask (H*W) as f32 bit patterns at the given offsets.
struct P { n: u32, c: u32, hw: u32, alpha: u32, value: u32, mask: u32 }
@group(0) @binding(1) var<storage, read> aux: array<u32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

fn element(i: u32) {
    let q = i % p.hw;
    let u = (i / p.hw) % p.c;
    let am = bitcast<f32>(aux[p.alpha + u]) * bitcast<f32>(aux[p.mask + q]);
    y[i] = (1.0 - am) * x[i] + am * bitcast<f32>(aux[p.value + u]);
}
