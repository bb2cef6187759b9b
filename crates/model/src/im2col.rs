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

/// A contiguous piece of one kernel tap's columns in phase form ([`Geometry::blocks`]): the
/// `len` values of tap `tap`'s grid (one sample) from `grid` on are the image's cells from
/// `at` on in phase plane `plane` (`py * stride + px`; cell `(a, b)` of the plane is image
/// cell `(stride*a + py, stride*b + px)`).
#[derive(Clone, Copy)]
struct Block {
    tap: usize,
    plane: usize,
    at: usize,
    grid: usize,
    len: usize,
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

    /// The phase planes' sizes: `(rows, columns)` of each of the `stride x stride` planes.
    fn plane_dims(&self) -> (usize, usize) {
        (self.h.div_ceil(self.stride), self.w.div_ceil(self.stride))
    }

    /// Every tap's columns as contiguous blocks of the phase planes: one block per grid row
    /// of a tap, or one for all its rows where they span whole rows of the plane (at 4x4
    /// stride 2, half the taps). Computed once per call; im2col copies each block out of the
    /// planes, col2im adds it into them.
    fn blocks(&self) -> Vec<Block> {
        let (_, pw) = self.plane_dims();
        let (ys, xs) = (
            self.runs_along(self.h, self.gh),
            self.runs_along(self.w, self.gw),
        );
        let mut out = Vec::new();
        for (ky, y) in ys.iter().enumerate() {
            for (kx, x) in xs.iter().enumerate() {
                let (tap, plane) = (ky * self.k + kx, y.p * self.stride + x.p);
                let (rows, len) = (y.b1 - y.b0, x.b1 - x.b0);
                if rows == 0 || len == 0 {
                    continue;
                }
                let block = |a: usize, len: usize| Block {
                    tap,
                    plane,
                    at: (y.b0 + a) * pw + x.b0,
                    grid: (y.g0 + a) * self.gw + x.g0,
                    len,
                };
                if len == pw && len == self.gw {
                    out.push(block(0, rows * len));
                } else {
                    out.extend((0..rows).map(|a| block(a, len)));
                }
            }
        }
        out
    }

    pub(crate) fn image_len(&self) -> usize {
        self.c * self.h * self.w
    }

    pub(crate) fn cols_len(&self) -> usize {
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

/// The phase planes of one channel's `[H, W]` image: each row split into its
/// `stride` phases ([`split_phases`]).
fn split_plane<T: Copy>(planes: &mut [T], image: &[T], g: &Geometry) {
    let (ph, pw) = g.plane_dims();
    for (y, row) in image.chunks_exact(g.w).enumerate() {
        let at = (y % g.stride * g.stride * ph + y / g.stride) * pw;
        split_phases(&mut planes[at..], row, g.stride, ph * pw);
    }
}

/// One channel's `[H, W]` image from its phase planes, the inverse of [`split_plane`].
fn merge_plane<T: Copy>(image: &mut [T], planes: &[T], g: &Geometry) {
    let (ph, pw) = g.plane_dims();
    for (y, row) in image.chunks_exact_mut(g.w).enumerate() {
        let at = (y % g.stride * g.stride * ph + y / g.stride) * pw;
        merge_phases(row, &planes[at..], g.stride, ph * pw);
    }
}

/// im2col phase by phase: a channel's image is split into its phase planes once, and each
/// tap's columns are then contiguous copies out of them ([`Geometry::blocks`]), where a tap
/// read every `stride`-th element of a row (runs as short as 3-4 elements at 8x8).
pub(crate) fn im2col<T: candle_core::WithDType>(
    g: Geometry,
    s: &CpuStorage,
    l: &Layout,
) -> Result<(Vec<T>, usize)> {
    let (x, n) = input::<T>(s, l, g.image_len())?;
    let mut out = vec![T::zero(); n * g.cols_len()];
    im2col_into(g, x, &mut out);
    Ok((out, n))
}

/// [`im2col`] of the images `x [n, C, H, W]` into the zeroed `out [C*K*K, n*gh*gw]` (the
/// padding's cells are left as they are).
pub(crate) fn im2col_into<T: candle_core::WithDType>(g: Geometry, x: &[T], out: &mut [T]) {
    let n = x.len() / g.image_len().max(1);
    let grid = g.gh * g.gw;
    let (ph, pw) = g.plane_dims();
    let plane = ph * pw;
    let blocks = g.blocks();
    // one input channel's K*K rows of the columns per task: each sample's plane of that
    // channel is split once, and the rows it fills are in cache
    par::chunks_mut(out, g.k * g.k * n * grid, |c, rows| {
        let mut planes = vec![T::zero(); g.stride * g.stride * plane];
        for (i, xi) in x.chunks_exact(g.image_len()).enumerate() {
            split_plane(&mut planes, &xi[c * g.h * g.w..][..g.h * g.w], &g);
            for b in &blocks {
                let at = b.tap * n * grid + i * grid + b.grid;
                let from = b.plane * plane + b.at;
                rows[at..at + b.len].copy_from_slice(&planes[from..from + b.len]);
            }
        }
    });
}

/// col2im phase by phase, the adjoint of [`im2col`]: each tap's columns are added into a
/// channel's phase planes as contiguous blocks, and the planes are written into the image
/// once, where each tap added into every `stride`-th element of a row.
pub(crate) fn col2im<T: candle_core::WithDType>(
    g: Geometry,
    s: &CpuStorage,
    l: &Layout,
) -> Result<(Vec<T>, usize)> {
    let (cols, n) = input::<T>(s, l, g.cols_len())?;
    let mut out = vec![T::zero(); n * g.image_len()];
    col2im_into(g, cols, &mut out);
    Ok((out, n))
}

/// [`col2im`] of `cols [C*K*K, n*gh*gw]` into `out [n, C, H, W]`, every element of which it
/// writes (`n` is `out`'s length over an image's).
pub(crate) fn col2im_into<T: candle_core::WithDType>(g: Geometry, cols: &[T], out: &mut [T]) {
    let n = out.len() / g.image_len().max(1);
    let grid = g.gh * g.gw;
    let (ph, pw) = g.plane_dims();
    let plane = ph * pw;
    let blocks = g.blocks();
    // one sample's image per task
    par::chunks_mut(out, g.image_len(), |i, oi| {
        let mut planes = vec![T::zero(); g.stride * g.stride * plane];
        for (c, image) in oi.chunks_exact_mut(g.h * g.w).enumerate() {
            planes.fill(T::zero());
            for b in &blocks {
                let at = ((c * g.k * g.k + b.tap) * n + i) * grid + b.grid;
                let to = b.plane * plane + b.at;
                for (d, &v) in planes[to..to + b.len].iter_mut().zip(&cols[at..at + b.len]) {
                    *d += v;
                }
            }
            merge_plane(image, &planes, &g);
        }
    });
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

/// [`col2im_into`] of `cols [C*K*K, gh*gw*b]` whose columns have the sample innermost,
/// into `out [b, C, H, W]`: each tap's blocks are added into a channel's phase planes laid
/// out `[cell, b]` (one channel per task), and the images are gathered from them at the end
/// (one sample per task). The sums are those of [`col2im_into`], in the same order.
pub(crate) fn col2im_minor_into<T: candle_core::WithDType>(g: Geometry, cols: &[T], out: &mut [T]) {
    let b = out.len() / g.image_len().max(1);
    let grid = g.gh * g.gw;
    let (ph, pw) = g.plane_dims();
    let plane = ph * pw;
    let np = g.stride * g.stride * plane;
    let blocks = g.blocks();
    let taps = g.k * g.k;
    let mut planes = vec![T::zero(); g.c * np * b];
    par::chunks_mut(&mut planes, np * b, |c, pl| {
        for blk in &blocks {
            let src = &cols[((c * taps + blk.tap) * grid + blk.grid) * b..][..blk.len * b];
            let dst = &mut pl[(blk.plane * plane + blk.at) * b..][..blk.len * b];
            for (d, &v) in dst.iter_mut().zip(src) {
                *d += v;
            }
        }
    });
    let s = g.stride;
    let map: Vec<usize> = (0..g.h * g.w)
        .map(|p| {
            let (y, x) = (p / g.w, p % g.w);
            ((y % s) * s + x % s) * plane + (y / s) * pw + x / s
        })
        .collect();
    // a few samples at a time: each cell's values for them are contiguous in the planes
    let (len, hw) = (g.image_len(), g.h * g.w);
    par::chunks_mut(out, GATHER * len, |q, imgs| {
        let n0 = q * GATHER;
        let k = imgs.len() / len.max(1);
        for c in 0..g.c {
            let pl = &planes[c * np * b..][..np * b];
            for (p, &m) in map.iter().enumerate() {
                let src = &pl[m * b + n0..][..k];
                for (j, &v) in src.iter().enumerate() {
                    imgs[j * len + c * hw + p] = v;
                }
            }
        }
    });
}

/// Samples [`col2im_minor_into`] writes out together.
const GATHER: usize = 8;
