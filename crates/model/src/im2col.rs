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

/// One kernel tap's run along an axis in phase form ([`Geometry::runs_along`]): it touches
/// cells `b0..b1` of phase `p` of the image axis, from grid cell `g0` on.
#[derive(Clone, Copy)]
struct Run {
    p: usize,
    b0: usize,
    b1: usize,
    g0: usize,
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

    /// The runs of kernel taps `t` in `0..k` along an axis of `len` image and `glen` grid
    /// cells, in phase form: grid cell `j` reads image cell `j*stride + t - pad`, which is
    /// `stride*b + p` with `b = j + shift`.
    fn runs_along(&self, len: usize, glen: usize) -> Vec<Run> {
        let s = self.stride as isize;
        (0..self.k)
            .map(|t| {
                let off = t as isize - self.pad as isize;
                let p = off.rem_euclid(s) as usize;
                let shift = (off - p as isize) / s;
                let count = len.saturating_sub(p).div_ceil(self.stride);
                let b0 = shift.max(0) as usize;
                let b1 = ((glen as isize + shift).max(0) as usize).min(count);
                Run {
                    p,
                    b0,
                    b1: b1.max(b0),
                    g0: (b0 as isize - shift).max(0) as usize,
                }
            })
            .collect()
    }

    /// The grid row that kernel row `ky` reads image row `y` from, if any.
    #[inline]
    fn grid_row(&self, y: usize, ky: usize) -> Option<usize> {
        let d = (y + self.pad).checked_sub(ky)?;
        let gy = d / self.stride;
        (d % self.stride == 0 && gy < self.gh).then_some(gy)
    }

    /// The grid row of each image row and kernel row (`[y * k + ky]`, `usize::MAX` for none),
    /// computed once per call: the divisions cost more than a short run's copy.
    fn grid_rows(&self) -> Vec<usize> {
        (0..self.h * self.k)
            .map(|r| self.grid_row(r / self.k, r % self.k).unwrap_or(usize::MAX))
            .collect()
    }

    /// The length of one phase of an image row (`w / stride`, rounded up).
    fn phase_len(&self) -> usize {
        self.w.div_ceil(self.stride)
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

/// `ph[p * len + b] = row[stride * b + p]`: an image row split into its `stride` phases.
/// Index loops over slices cut to length, so the compiler drops the bounds checks.
#[inline]
fn split_phases<T: Copy>(ph: &mut [T], row: &[T], stride: usize, len: usize) {
    match stride {
        1 => ph[..row.len()].copy_from_slice(row),
        2 => {
            let (p0, p1) = ph.split_at_mut(len);
            let (p0, p1) = (&mut p0[..row.len() / 2], &mut p1[..row.len() / 2]);
            for (b, pair) in row.chunks_exact(2).enumerate() {
                p0[b] = pair[0];
                p1[b] = pair[1];
            }
            if row.len() % 2 == 1 {
                ph[row.len() / 2] = row[row.len() - 1];
            }
        }
        s => {
            for (x, &v) in row.iter().enumerate() {
                ph[x % s * len + x / s] = v;
            }
        }
    }
}

/// `row[stride * b + p] = ph[p * len + b]`, the inverse of [`split_phases`] (`len` is where
/// each phase starts after the one before it).
#[inline]
fn merge_phases<T: Copy>(row: &mut [T], ph: &[T], stride: usize, len: usize) {
    match stride {
        1 => row.copy_from_slice(&ph[..row.len()]),
        2 => {
            let half = row.len() / 2;
            let (p0, p1) = (&ph[..half], &ph[len..len + half]);
            for (b, pair) in row.chunks_exact_mut(2).enumerate() {
                pair[0] = p0[b];
                pair[1] = p1[b];
            }
            if row.len() % 2 == 1 {
                row[row.len() - 1] = ph[half];
            }
        }
        s => {
            for (x, v) in row.iter_mut().enumerate() {
                *v = ph[x % s * len + x / s];
            }
        }
    }
}

/// im2col phase by phase: each image row is split into its `stride` phases once, and every
/// tap that reads it then copies one contiguous run of a phase (where it read every
/// `stride`-th element of the row, in runs as short as 3-4 elements at 8x8).
pub(crate) fn im2col<T: candle_core::WithDType>(
    g: Geometry,
    s: &CpuStorage,
    l: &Layout,
) -> Result<(Vec<T>, usize)> {
    let (x, n) = input::<T>(s, l, g.image_len())?;
    let grid = g.gh * g.gw;
    let mut out = vec![T::zero(); n * g.cols_len()];
    let taps = g.k * g.k;
    let pw = g.phase_len();
    // one input channel's K*K rows of the columns per task: each sample's plane of that
    // channel is read once, while the rows it fills are in cache
    let (xs, grid_rows) = (g.runs_along(g.w, g.gw), g.grid_rows());
    par::chunks_mut(&mut out, taps * n * grid, |c, rows| {
        let mut ph = vec![T::zero(); g.stride * pw];
        for (i, xi) in x.chunks_exact(g.image_len()).enumerate() {
            for y in 0..g.h {
                split_phases(&mut ph, &xi[(c * g.h + y) * g.w..][..g.w], g.stride, pw);
                for (ky, &gy) in grid_rows[y * g.k..(y + 1) * g.k].iter().enumerate() {
                    if gy == usize::MAX {
                        continue;
                    }
                    for (kx, x) in xs.iter().enumerate() {
                        let at = (ky * g.k + kx) * n * grid + i * grid + gy * g.gw + x.g0;
                        rows[at..at + x.b1 - x.b0]
                            .copy_from_slice(&ph[x.p * pw + x.b0..x.p * pw + x.b1]);
                    }
                }
            }
        }
    });
    Ok((out, n))
}

/// `dst += src`, element by element (vectorised when long).
#[inline]
fn add<T: candle_core::WithDType>(dst: &mut [T], src: &[T]) {
    for (d, &v) in dst.iter_mut().zip(src) {
        *d += v;
    }
}

/// col2im phase by phase, a channel's plane at a time: the plane's `stride x stride` phases
/// (`[py][px][a][b]`, image cell `(stride*a + py, stride*b + px)`) sum every tap's block of
/// the columns, then are written into the plane once (where each tap added into every
/// `stride`-th element of a row). A tap whose run spans whole rows of its phase (at 4x4
/// stride 2, half of them) adds its block as one contiguous run, however small the image.
pub(crate) fn col2im<T: candle_core::WithDType>(
    g: Geometry,
    s: &CpuStorage,
    l: &Layout,
) -> Result<(Vec<T>, usize)> {
    let (cols, n) = input::<T>(s, l, g.cols_len())?;
    let grid = g.gh * g.gw;
    let mut out = vec![T::zero(); n * g.image_len()];
    let (ph, pw, st) = (g.h.div_ceil(g.stride), g.phase_len(), g.stride);
    let plane = ph * pw;
    let (ys, xs) = (g.runs_along(g.h, g.gh), g.runs_along(g.w, g.gw));
    // one sample's image per task
    par::chunks_mut(&mut out, g.image_len(), |i, oi| {
        let mut phases = vec![T::zero(); st * st * plane];
        for c in 0..g.c {
            phases.fill(T::zero());
            for (ky, y) in ys.iter().enumerate() {
                for (kx, x) in xs.iter().enumerate() {
                    let (rows, len) = (y.b1 - y.b0, x.b1 - x.b0);
                    if rows == 0 || len == 0 {
                        continue;
                    }
                    let r = (c * g.k + ky) * g.k + kx;
                    let src = &cols[r * n * grid + i * grid..][..grid];
                    let dst = &mut phases[(y.p * st + x.p) * plane..][..plane];
                    if len == pw && len == g.gw {
                        let from = &src[y.g0 * pw..(y.g0 + rows) * pw];
                        add(&mut dst[y.b0 * pw..y.b1 * pw], from);
                    } else {
                        for a in 0..rows {
                            let (d, s) = ((y.b0 + a) * pw + x.b0, (y.g0 + a) * g.gw + x.g0);
                            add(&mut dst[d..d + len], &src[s..s + len]);
                        }
                    }
                }
            }
            for y in 0..g.h {
                let from = &phases[(y % st * st) * plane + y / st * pw..];
                merge_phases(&mut oi[(c * g.h + y) * g.w..][..g.w], from, st, plane);
            }
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
