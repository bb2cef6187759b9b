//! im2col and col2im as candle custom ops (CPU): each is the other's gradient, written as
//! plain loops. candle 0.11's CPU `index_select`/`index_add` cost 7-27 ns per element and its
//! transposed convolution is a slow direct loop, so the GEMM convolutions of
//! [`crate::conv`] use these on the CPU.

use crate::par;
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

    /// The grid columns `gx0..gx1` whose tap `kx` lands inside a row of the image.
    #[inline]
    fn valid_columns(&self, kx: usize) -> (usize, usize) {
        let s = self.stride;
        let gx0 = self.pad.saturating_sub(kx).div_ceil(s);
        let gx1 = (self.w + self.pad)
            .saturating_sub(kx)
            .div_ceil(s)
            .min(self.gw);
        (gx0, gx1.max(gx0))
    }

    /// Calls `f(grid_offset, image_offset)` for every grid row of kernel tap `(c, ky, kx)`
    /// that lands inside the image: the tap's valid grid columns
    /// ([`valid_columns`](Self::valid_columns)) start at `grid_offset` in one sample's
    /// `gh x gw` grid and read every `stride`-th element of one sample's `[C, H, W]` from
    /// `image_offset`.
    #[inline]
    fn for_each_run(&self, c: usize, ky: usize, kx: usize, mut f: impl FnMut(usize, usize)) {
        let (gx0, gx1) = self.valid_columns(kx);
        if gx0 == gx1 {
            return;
        }
        for gy in 0..self.gh {
            let iy = (gy * self.stride + ky) as isize - self.pad as isize;
            if iy < 0 || iy as usize >= self.h {
                continue;
            }
            let first = (c * self.h + iy as usize) * self.w + gx0 * self.stride + kx - self.pad;
            f(gy * self.gw + gx0, first);
        }
    }

    /// The kernel tap `(c, ky, kx)` of row `r` of the columns.
    fn tap(&self, r: usize) -> (usize, usize, usize) {
        (r / (self.k * self.k), r / self.k % self.k, r % self.k)
    }

    fn image_len(&self) -> usize {
        self.c * self.h * self.w
    }

    fn cols_len(&self) -> usize {
        self.c * self.k * self.k * self.gh * self.gw
    }
}

pub(crate) fn input<'a, T: candle_core::WithDType>(
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

/// `dst[j] = src[j * stride]`. Index loops over slices cut to length, so the compiler
/// drops the bounds checks (and, at stride 1 and 2, vectorises); an iterator with
/// `step_by` did neither, at 1-1.5 ns per element.
#[inline]
fn gather<T: Copy>(dst: &mut [T], src: &[T], stride: usize) {
    let n = dst.len();
    if n == 0 {
        return;
    }
    match stride {
        1 => dst.copy_from_slice(&src[..n]),
        2 => {
            let src = &src[..2 * n - 1];
            for j in 0..n {
                dst[j] = src[2 * j];
            }
        }
        s => {
            let src = &src[..(n - 1) * s + 1];
            for j in 0..n {
                dst[j] = src[j * s];
            }
        }
    }
}

/// `dst[j * stride] += src[j]`, the adjoint of [`gather`].
#[inline]
fn scatter_add<T: candle_core::WithDType>(dst: &mut [T], src: &[T], stride: usize) {
    let n = src.len();
    if n == 0 {
        return;
    }
    match stride {
        1 => {
            for (d, &v) in dst[..n].iter_mut().zip(src) {
                *d += v;
            }
        }
        2 => {
            let dst = &mut dst[..2 * n - 1];
            for j in 0..n {
                dst[2 * j] += src[j];
            }
        }
        s => {
            let dst = &mut dst[..(n - 1) * s + 1];
            for j in 0..n {
                dst[j * s] += src[j];
            }
        }
    }
}

pub(crate) fn im2col<T: candle_core::WithDType>(
    g: Geometry,
    s: &CpuStorage,
    l: &Layout,
) -> Result<(Vec<T>, usize)> {
    let (x, n) = input::<T>(s, l, g.image_len())?;
    let grid = g.gh * g.gw;
    let mut out = vec![T::zero(); n * g.cols_len()];
    let taps = g.k * g.k;
    // one input channel's K*K rows of the columns per task: each sample's plane of that
    // channel is read K*K times while it is in cache
    par::chunks_mut(&mut out, taps * n * grid, |c, rows| {
        for (i, xi) in x.chunks_exact(g.image_len()).enumerate() {
            for (t, row) in rows.chunks_exact_mut(n * grid).enumerate() {
                let (ky, kx) = (t / g.k, t % g.k);
                let (gx0, gx1) = g.valid_columns(kx);
                g.for_each_run(c, ky, kx, |at, first| {
                    let dst = &mut row[i * grid + at..i * grid + at + gx1 - gx0];
                    gather(dst, &xi[first..], g.stride);
                });
            }
        }
    });
    Ok((out, n))
}

pub(crate) fn col2im<T: candle_core::WithDType>(
    g: Geometry,
    s: &CpuStorage,
    l: &Layout,
) -> Result<(Vec<T>, usize)> {
    let (cols, n) = input::<T>(s, l, g.cols_len())?;
    let grid = g.gh * g.gw;
    let mut out = vec![T::zero(); n * g.image_len()];
    // one sample's image per task
    par::chunks_mut(&mut out, g.image_len(), |i, oi| {
        for r in 0..g.c * g.k * g.k {
            let (c, ky, kx) = g.tap(r);
            let (gx0, gx1) = g.valid_columns(kx);
            let row = &cols[r * n * grid + i * grid..];
            g.for_each_run(c, ky, kx, |at, first| {
                scatter_add(&mut oi[first..], &row[at..at + gx1 - gx0], g.stride);
            });
        }
    });
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

/// `[A, B, G] -> [B, A, G]`: swaps the two outer dimensions of blocks of `G` (a GEMM's
/// `[O, N*Ho*Wo]` output to `[N, O, Ho, Wo]`, and back). One op, so its gradient is one
/// pass (the swap back) rather than a reshape, a transpose and a copy, each of which candle's
/// backward accumulates into a fresh zeroed tensor.
pub struct SwapOuter {
    /// The first dimension of the input.
    pub a: usize,
    /// The second dimension of the input.
    pub b: usize,
    /// The shape of the output.
    pub out: Shape,
}

pub(crate) fn swap_outer<T: candle_core::WithDType>(x: &[T], a: usize, b: usize) -> Vec<T> {
    let g = x.len() / (a * b).max(1);
    let mut y = vec![T::zero(); x.len()];
    par::chunks_mut(&mut y, a * g, |j, yb| {
        for (i, dst) in yb.chunks_exact_mut(g).enumerate() {
            let src = (i * b + j) * g;
            dst.copy_from_slice(&x[src..src + g]);
        }
    });
    y
}

/// `[N, R, G] -> [N, G, R]`: each sample's `[R, G]` block transposed, in tiles that stay in
/// cache (a convolution's grid side `[N, R, gh, gw]` as the matrix `[N*gh*gw, R]`).
pub(crate) fn transpose_blocks<T: candle_core::WithDType>(x: &[T], r: usize, g: usize) -> Vec<T> {
    const TILE: usize = 16;
    let len = (r * g).max(1);
    let mut y = vec![T::zero(); x.len()];
    par::chunks_mut(&mut y, len, |s, yb| {
        let xb = &x[s * len..(s + 1) * len];
        for r0 in (0..r).step_by(TILE) {
            for g0 in (0..g).step_by(TILE) {
                for i in r0..(r0 + TILE).min(r) {
                    let src = &xb[i * g + g0..i * g + (g0 + TILE).min(g)];
                    for (j, &v) in src.iter().enumerate() {
                        yb[(g0 + j) * r + i] = v;
                    }
                }
            }
        }
    });
    y
}

impl CustomOp1 for SwapOuter {
    fn name(&self) -> &'static str {
        "ganscope-swap-outer"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let Some((start, end)) = l.contiguous_offsets() else {
            candle_core::bail!("swap-outer needs a contiguous input");
        };
        if end - start != self.out.elem_count() || (end - start) % (self.a * self.b).max(1) != 0 {
            candle_core::bail!(
                "swap-outer: {} values do not fit {:?}",
                end - start,
                self.out
            );
        }
        let out = match s {
            CpuStorage::F32(v) => CpuStorage::F32(swap_outer(&v[start..end], self.a, self.b)),
            CpuStorage::F64(v) => CpuStorage::F64(swap_outer(&v[start..end], self.a, self.b)),
            _ => candle_core::bail!("swap-outer supports f32 and f64"),
        };
        Ok((out, self.out.clone()))
    }

    fn bwd(&self, arg: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        let back = SwapOuter {
            a: self.b,
            b: self.a,
            out: arg.shape().clone(),
        };
        Ok(Some(grad.contiguous()?.apply_op1(back)?))
    }
}
