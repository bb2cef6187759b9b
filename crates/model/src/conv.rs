//! Convolutions for the candle backend as GEMMs: `conv2d` by im2col (a gather, then a
//! batched matmul) and `conv_transpose2d` by col2im (a batched matmul, then a scatter-add).
//! Forward and backward are then matmuls plus index copies. candle 0.11's own CPU
//! transposed convolution, which its conv2d backward also uses, is several times slower
//! (measured by `cargo run -p ganscope-model --example opbench`).

use candle_core::{Result, Tensor};

/// Gather indices of im2col for one channel plane, `[K*K*Ho*Wo]`, into the plane
/// flattened with one extra zero element at index `h*w` (used for padding).
fn im2col_index(
    h: usize,
    w: usize,
    k: usize,
    stride: usize,
    pad: usize,
) -> (Vec<u32>, usize, usize) {
    let ho = (h + 2 * pad - k) / stride + 1;
    let wo = (w + 2 * pad - k) / stride + 1;
    let zero = (h * w) as u32;
    let mut idx = Vec::with_capacity(k * k * ho * wo);
    for ky in 0..k {
        for kx in 0..k {
            for oy in 0..ho {
                for ox in 0..wo {
                    let iy = (oy * stride + ky) as isize - pad as isize;
                    let ix = (ox * stride + kx) as isize - pad as isize;
                    let inside = iy >= 0 && ix >= 0 && (iy as usize) < h && (ix as usize) < w;
                    idx.push(if inside {
                        (iy as usize * w + ix as usize) as u32
                    } else {
                        zero
                    });
                }
            }
        }
    }
    (idx, ho, wo)
}

/// `x [N, C, H, W]` convolved with `w [O, C, K, K]`: `[N, O, Ho, Wo]`.
pub fn conv2d(x: &Tensor, w: &Tensor, stride: usize, pad: usize) -> Result<Tensor> {
    let (n, c, h, wd) = x.dims4()?;
    let (o, c2, k, _) = w.dims4()?;
    if c != c2 {
        candle_core::bail!("conv2d: input has {c} channels, kernel expects {c2}");
    }
    let (idx, ho, wo) = im2col_index(h, wd, k, stride, pad);
    let idx = Tensor::from_vec(idx, k * k * ho * wo, x.device())?;
    let planes = x.reshape((n * c, h * wd))?; // [N*C, H*W]
    let planes = Tensor::cat(&[&planes, &planes.narrow(1, 0, 1)?.zeros_like()?], 1)?; // [N*C, H*W+1]
    let cols = planes.index_select(&idx, 1)?; // [N*C, K*K*Ho*Wo]
    let cols = cols.reshape((n, c * k * k, ho * wo))?; // [N, C*K*K, Ho*Wo]
    let wm = w
        .reshape((1, o, c * k * k))?
        .broadcast_as((n, o, c * k * k))?; // [N, O, C*K*K]
    wm.matmul(&cols)?.reshape((n, o, ho, wo)) // [N, O, Ho, Wo]
}

/// `x [N, I, H, W]` transposed-convolved with `w [I, O, K, K]` (PyTorch layout):
/// `[N, O, (H-1)s - 2p + K, ...]`.
pub fn conv_transpose2d(x: &Tensor, w: &Tensor, stride: usize, pad: usize) -> Result<Tensor> {
    let (n, i, h, wd) = x.dims4()?;
    let (i2, o, k, _) = w.dims4()?;
    if i != i2 {
        candle_core::bail!("conv_transpose2d: input has {i} channels, kernel expects {i2}");
    }
    let ho = (h - 1) * stride + k - 2 * pad;
    let wo = (wd - 1) * stride + k - 2 * pad;
    // The transposed convolution scatters input pixel (iy, ix) through tap (ky, kx) to
    // output (iy*s - p + ky, ix*s - p + kx); out-of-range targets go to a dump column.
    let dump = (ho * wo) as u32;
    let mut idx = Vec::with_capacity(k * k * h * wd);
    for ky in 0..k {
        for kx in 0..k {
            for iy in 0..h {
                for ix in 0..wd {
                    let oy = (iy * stride + ky) as isize - pad as isize;
                    let ox = (ix * stride + kx) as isize - pad as isize;
                    let inside = oy >= 0 && ox >= 0 && (oy as usize) < ho && (ox as usize) < wo;
                    idx.push(if inside {
                        (oy as usize * wo + ox as usize) as u32
                    } else {
                        dump
                    });
                }
            }
        }
    }
    let idx = Tensor::from_vec(idx, k * k * h * wd, x.device())?;
    let wt = w.reshape((i, o * k * k))?.t()?.contiguous()?; // [O*K*K, I]
    let wt = wt
        .reshape((1, o * k * k, i))?
        .broadcast_as((n, o * k * k, i))?; // [N, O*K*K, I]
    let cols = wt.matmul(&x.reshape((n, i, h * wd))?)?; // [N, O*K*K, H*W]
    let cols = cols.reshape((n * o, k * k * h * wd))?; // [N*O, K*K*H*W]
    let out = Tensor::zeros((n * o, ho * wo + 1), x.dtype(), x.device())?; // [N*O, Ho*Wo+1]
    let out = out.index_add(&idx, &cols, 1)?;
    out.narrow(1, 0, ho * wo)?.reshape((n, o, ho, wo)) // [N, O, Ho, Wo]
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    fn rand(shape: &[usize], seed: u64) -> Tensor {
        let v = crate::sample::latents(seed, shape.iter().product(), 1);
        Tensor::from_vec(v, shape, &Device::Cpu).expect("tensor")
    }

    fn max_diff(a: &Tensor, b: &Tensor) -> f32 {
        (a - b)
            .and_then(|d| d.abs()?.flatten_all()?.max(0)?.to_scalar::<f32>())
            .expect("diff")
    }

    /// Forward and both gradients equal candle's own ops on odd shapes.
    #[test]
    fn matches_candle_ops() -> Result<()> {
        for (n, c, o, h, k, s, p, seed) in [
            (3, 5, 7, 9, 3, 1, 1, 1),
            (2, 4, 6, 11, 4, 2, 1, 2),
            (1, 3, 2, 5, 1, 1, 0, 3),
            (2, 3, 5, 7, 3, 2, 0, 4),
        ] {
            let x = Var::from_tensor(&rand(&[n, c, h, h], seed))?;
            let w = Var::from_tensor(&rand(&[o, c, k, k], seed + 10))?;
            let ours = conv2d(&x, &w, s, p)?;
            let theirs = x.conv2d(&w, p, s, 1, 1)?;
            assert!(
                max_diff(&ours, &theirs) < 1e-4,
                "conv2d forward {n} {c} {o} {h} {k} {s} {p}"
            );
            let r = rand(ours.dims(), seed + 20);
            let (g1, g2) = (
                (ours * &r)?.sum_all()?.backward()?,
                (theirs * &r)?.sum_all()?.backward()?,
            );
            for v in [&x, &w] {
                let (a, b) = (g1.get(v).expect("grad"), g2.get(v).expect("grad"));
                assert!(max_diff(a, b) < 1e-3, "conv2d gradient");
            }
            let wt = Var::from_tensor(&rand(&[c, o, k, k], seed + 30))?;
            let ours = conv_transpose2d(&x, &wt, s, p)?;
            let theirs = x.conv_transpose2d(&wt, p, 0, s, 1)?;
            assert_eq!(ours.dims(), theirs.dims());
            assert!(max_diff(&ours, &theirs) < 1e-4, "conv_transpose2d forward");
            let r = rand(ours.dims(), seed + 40);
            let (g1, g2) = (
                (ours * &r)?.sum_all()?.backward()?,
                (theirs * &r)?.sum_all()?.backward()?,
            );
            for v in [&x, &wt] {
                let (a, b) = (g1.get(v).expect("grad"), g2.get(v).expect("grad"));
                assert!(max_diff(a, b) < 1e-3, "conv_transpose2d gradient");
            }
        }
        Ok(())
    }
}
