//! im2col and col2im as candle custom ops (CPU): each is the other's gradient, written as
//! plain loops. candle 0.11's CPU `index_select`/`index_add` cost 7-27 ns per element and its
//! transposed convolution is a slow direct loop, so the GEMM convolutions of
//! [`crate::conv`] use these on the CPU.

use candle_core::{CpuStorage, CustomOp1, Layout, Result, Shape, Tensor};

/// The geometry of a convolution: an image of `c` x `h` x `w`, a `k` x `k` kernel with
/// `stride` and `pad`, giving a grid of `gh` x `gw` positions.
#[derive(Clone, Copy, Debug)]
pub struct Geometry {
    /// Channels.
    pub c: usize,
    /// Image height.
    pub h: usize,
    /// Image width.
    pub w: usize,
    /// Kernel side.
    pub k: usize,
    /// Stride.
    pub stride: usize,
    /// Padding.
    pub pad: usize,
    /// Grid height.
    pub gh: usize,
    /// Grid width.
    pub gw: usize,
}

impl Geometry {
    /// The geometry of a convolution over an `h` x `w` image.
    pub fn new(c: usize, h: usize, w: usize, k: usize, stride: usize, pad: usize) -> Self {
        let gh = (h + 2 * pad - k) / stride + 1;
        let gw = (w + 2 * pad - k) / stride + 1;
        Geometry {
            c,
            h,
            w,
            k,
            stride,
            pad,
            gh,
            gw,
        }
    }

    /// Calls `f(col_index, image_index)` for every (kernel tap, grid position) of sample
    /// `n` of `batch` that lands inside the image; col_index runs over the batch-folded
    /// columns `[C*K*K, batch*gh*gw]`, image_index over one sample's `[C, H, W]`.
    #[inline]
    fn for_each(&self, n: usize, batch: usize, mut f: impl FnMut(usize, usize)) {
        let g = self.gh * self.gw;
        for c in 0..self.c {
            for ky in 0..self.k {
                for kx in 0..self.k {
                    let row = ((c * self.k + ky) * self.k + kx) * g * batch + n * g;
                    for gy in 0..self.gh {
                        let iy = (gy * self.stride + ky) as isize - self.pad as isize;
                        if iy < 0 || iy as usize >= self.h {
                            continue;
                        }
                        let base = (c * self.h + iy as usize) * self.w;
                        for gx in 0..self.gw {
                            let ix = (gx * self.stride + kx) as isize - self.pad as isize;
                            if ix >= 0 && (ix as usize) < self.w {
                                f(row + gy * self.gw + gx, base + ix as usize);
                            }
                        }
                    }
                }
            }
        }
    }

    fn image_len(&self) -> usize {
        self.c * self.h * self.w
    }

    fn cols_len(&self) -> usize {
        self.c * self.k * self.k * self.gh * self.gw
    }
}

fn input<'a, T: candle_core::WithDType>(
    s: &'a CpuStorage,
    l: &Layout,
    per: usize,
) -> Result<(&'a [T], usize)> {
    let Some((a, b)) = l.contiguous_offsets() else {
        candle_core::bail!("im2col/col2im need a contiguous input");
    };
    let data = &s.as_slice::<T>()?[a..b];
    if per == 0 || data.len() % per != 0 {
        candle_core::bail!(
            "im2col/col2im: {} values do not split into samples of {per}",
            data.len()
        );
    }
    Ok((data, data.len() / per))
}

fn im2col<T: candle_core::WithDType>(
    g: Geometry,
    s: &CpuStorage,
    l: &Layout,
) -> Result<(Vec<T>, usize)> {
    let (x, n) = input::<T>(s, l, g.image_len())?;
    let mut out = vec![T::zero(); n * g.cols_len()];
    for (i, xi) in x.chunks_exact(g.image_len()).enumerate() {
        g.for_each(i, n, |col, img| out[col] = xi[img]);
    }
    Ok((out, n))
}

fn col2im<T: candle_core::WithDType>(
    g: Geometry,
    s: &CpuStorage,
    l: &Layout,
) -> Result<(Vec<T>, usize)> {
    let (cols, n) = input::<T>(s, l, g.cols_len())?;
    let mut out = vec![T::zero(); n * g.image_len()];
    for (i, oi) in out.chunks_exact_mut(g.image_len()).enumerate() {
        g.for_each(i, n, |col, img| oi[img] += cols[col]);
    }
    Ok((out, n))
}

/// `[N, C, H, W]` -> `[C*K*K, N*gh*gw]` (the batch folded into the columns, so a
/// convolution is one GEMM with the weights and so are both of its gradients).
pub struct Im2Col(pub Geometry);
/// `[C*K*K, N*gh*gw]` -> `[N, C, H, W]` (sums overlapping taps).
pub struct Col2Im(pub Geometry);

impl CustomOp1 for Im2Col {
    fn name(&self) -> &'static str {
        "ganscope-im2col"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let g = self.0;
        let (out, n) = match s {
            CpuStorage::F32(_) => im2col::<f32>(g, s, l).map(|(v, n)| (CpuStorage::F32(v), n))?,
            CpuStorage::F64(_) => im2col::<f64>(g, s, l).map(|(v, n)| (CpuStorage::F64(v), n))?,
            _ => candle_core::bail!("im2col supports f32 and f64"),
        };
        Ok((out, Shape::from((g.c * g.k * g.k, n * g.gh * g.gw))))
    }

    fn bwd(&self, _arg: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(grad.contiguous()?.apply_op1(Col2Im(self.0))?))
    }
}

impl CustomOp1 for Col2Im {
    fn name(&self) -> &'static str {
        "ganscope-col2im"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let g = self.0;
        let (out, n) = match s {
            CpuStorage::F32(_) => col2im::<f32>(g, s, l).map(|(v, n)| (CpuStorage::F32(v), n))?,
            CpuStorage::F64(_) => col2im::<f64>(g, s, l).map(|(v, n)| (CpuStorage::F64(v), n))?,
            _ => candle_core::bail!("col2im supports f32 and f64"),
        };
        Ok((out, Shape::from((n, g.c, g.h, g.w))))
    }

    fn bwd(&self, _arg: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(grad.contiguous()?.apply_op1(Im2Col(self.0))?))
    }
}
