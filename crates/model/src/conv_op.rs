//! The CPU convolutions of [`crate::conv`]: a convolution is im2col, a GEMM and a layout
//! change; a transposed convolution is a layout change, a GEMM and col2im ([`crate::im2col`]).
//!
//! Untracked (a render, a sample), each runs as that chain of ops ([`conv_chain`],
//! [`transpose_chain`]). Tracked (training), each is one node, [`ConvOp`], with its own
//! backward: as a chain, every intermediate (the columns above all, `C*K*K` times the input)
//! is a node whose gradient candle's backward starts as a zeroed tensor and adds into, and a
//! matmul node computes the gradient of an input that needs none (the columns of real
//! images). One node leaves only the input's and the weight's gradients, each computed only
//! when that tensor is tracked. The node copies its weights for its GEMM (a custom op sees
//! storage, not tensors), which is why renders take the chain.

use crate::epilogue::Epilogue;
use crate::im2col::{self, Geometry, Im2Col};
use crate::layout::{self, SwapOuter};
use crate::par;
use candle_core::{
    CpuStorage, CustomOp2, DType, Device, Layout, Result, Shape, Storage, Tensor, WithDType,
};
use rayon::prelude::*;
use std::sync::Mutex;

/// `x [N, C, H, W]` (geometry `g`) convolved with `w [O, C, K, K]`: `[N, O, gh, gw]`.
fn conv_chain(x: &Tensor, w: &Tensor, g: Geometry) -> Result<Tensor> {
    let (n, o) = (x.dim(0)?, w.dim(0)?);
    let cols = x.contiguous()?.apply_op1(Im2Col(g))?; // [C*K*K, N*gh*gw]
    let y = w.reshape((o, g.c * g.k * g.k))?.matmul(&cols)?; // [O, N*gh*gw]
    y.apply_op1(SwapOuter {
        a: o,
        b: n,
        out: (n, o, g.gh, g.gw).into(),
    })
}

/// Bytes of columns (1 MiB) one GEMM of a transposed convolution (or of a convolution's
/// input gradient) writes, at most, unless one sample's are more or the weights need bigger
/// parts ([`col2im_parts`]): the GEMM's output then stays in a core's L2 cache for col2im to
/// read, where a whole batch's (8 MB in a 32x32 generator's second layer at batch 64) went
/// to memory and back.
const PART_COLS_BYTES: usize = 1 << 20;

/// Samples per part of a convolution of geometry `g` over `n` samples: the part's columns
/// at most `bytes` bytes, unless one sample's are more or the weights (`weights` elements)
/// need more. Every GEMM packs the whole weight matrix again, so a part's columns are also
/// at least 8 times the weights (a 64x64 face generator's 8 MB layer ran 25% slower in
/// 1 MiB parts). It depends on sizes alone, not on the thread count, so neither does any
/// result.
fn part_samples<T: WithDType>(g: &Geometry, n: usize, bytes: usize, weights: usize) -> usize {
    let size = T::DTYPE.size_in_bytes();
    let limit = bytes.max(8 * weights * size);
    (limit / (g.cols_len() * size).max(1)).clamp(1, n.max(1))
}

/// How the columns of a transposed convolution's GEMM are ordered: by sample then grid
/// cell (the `[I, b*gh*gw]` side a layout swap gives), or by grid cell then sample (`[I,
/// gh*gw*b]`). With the sample innermost, each tap's block in col2im is `len x b` contiguous
/// values where a 4x4 grid gave blocks of 3-4 ([`im2col::col2im_minor_into`]); the sums are
/// the same.
#[derive(Clone, Copy)]
enum Columns {
    SampleMajor,
    SampleMinor,
}

/// `[N, C, H, W]` (geometry `g`, `N = n`): col2im of `wt [C*K*K, I]` times `side(s, b)`, the
/// `[I, b*gh*gw]` side of samples `s..s+b` in the column order `order`, a few samples at a
/// time ([`PART_COLS_BYTES`]), each part's image written in place and then given to `post`,
/// the parts on rayon's threads ([`par::parts_mut`]).
fn col2im_parts<T: WithDType>(
    wt: &Tensor,
    n: usize,
    g: Geometry,
    order: Columns,
    side: impl Fn(usize, usize) -> Result<Tensor> + Sync,
    post: impl Fn(&mut [T]) + Sync,
) -> Result<Vec<T>> {
    let chunk = part_samples::<T>(&g, n, PART_COLS_BYTES, wt.elem_count());
    let mut out = vec![T::zero(); n * g.image_len()];
    par::parts_mut(&mut out, chunk * g.image_len(), |p, part| {
        let cols = wt.matmul(&side(p * chunk, part.len() / g.image_len())?)?; // [C*K*K, b*gh*gw]
        on_cpu(&cols, |cs, cl| {
            let (cols, _) = im2col::input::<T>(cs, cl, g.cols_len())?;
            match order {
                Columns::SampleMajor => im2col::col2im_into(g, cols, part),
                Columns::SampleMinor => im2col::col2im_minor_into(g, cols, part),
            }
            post(part);
            Ok(())
        })
    })?;
    Ok(out)
}

/// [`col2im_parts`] as a tensor of `wt`'s dtype (f32 or f64), each part then given the
/// epilogue `epi` (f32 only).
fn col2im_parts_tensor(
    wt: &Tensor,
    n: usize,
    g: Geometry,
    order: Columns,
    side: impl Fn(usize, usize) -> Result<Tensor> + Sync,
    epi: &Epilogue,
) -> Result<Tensor> {
    let shape = (n, g.c, g.h, g.w);
    let (c, l) = (g.c, g.h * g.w);
    match wt.dtype() {
        DType::F32 => Tensor::from_vec(
            col2im_parts::<f32>(wt, n, g, order, side, |p| epi.apply(p, c, l))?,
            shape,
            wt.device(),
        ),
        DType::F64 if epi.is_empty() => Tensor::from_vec(
            col2im_parts::<f64>(wt, n, g, order, side, |_| {})?,
            shape,
            wt.device(),
        ),
        d => candle_core::bail!(
            "the CPU convolutions support f32 and f64 (an epilogue f32), not {d:?}"
        ),
    }
}

/// `x [N, C, H, W]` (geometry `g`) convolved with `w [O, C*K*K]`: `[N, O, gh, gw]` by im2col
/// and a GEMM a few samples at a time, the parts on rayon's threads ([`par::parts_mut`]),
/// each part's columns still in its core's cache for its GEMM (a discriminator's 16 MB of
/// columns at batch 128 went to memory and back); the parts' columns `[C*K*K, b*gh*gw]` are
/// returned for the weight's gradient. A part's columns are at least 4 MiB: the weight's
/// gradient, one GEMM per part, ran 3% slower on one thread with 1 MiB parts.
fn conv_parts<T: WithDType>(w: &Tensor, x: &[T], g: Geometry) -> Result<(Vec<T>, Vec<Tensor>)> {
    let (n, o, grid) = (x.len() / g.image_len().max(1), w.dim(0)?, g.gh * g.gw);
    let chunk = part_samples::<T>(&g, n, 4 * PART_COLS_BYTES, w.elem_count());
    let mut out = vec![T::zero(); n * o * grid];
    let parts = par::parts_mut(&mut out, chunk * o * grid, |p, part| {
        let b = part.len() / (o * grid);
        let mut cols = vec![T::zero(); b * g.cols_len()];
        let xp = &x[p * chunk * g.image_len()..][..b * g.image_len()]; // [b, C, H, W]
        im2col::im2col_into(g, xp, &mut cols);
        let cols = Tensor::from_vec(cols, (g.c * g.k * g.k, b * grid), &Device::Cpu)?; // [C*K*K, b*gh*gw]
        let y = w.matmul(&cols)?; // [O, b*gh*gw]
        on_cpu(&y, |ys, yl| {
            let (y, _) = im2col::input::<T>(ys, yl, o * grid)?;
            layout::swap_outer_into(y, o, b, part); // [b, O, gh, gw]
            Ok(())
        })?;
        Ok(cols)
    })?;
    Ok((out, parts))
}

/// `x [N, I, gh, gw]` transposed-convolved with `w [I, C, K, K]` into `[N, C, H, W]`
/// (geometry `g`): col2im of `W^T x`, the adjoint of [`conv_chain`], in parts
/// ([`col2im_parts`]), the GEMM's columns with the sample innermost where there are several
/// (the page's render of the bundled 32x32 generator at batch 64 went 47.7 -> 39.1 ms with
/// them; the same bits).
fn transpose_chain(x: &Tensor, w: &Tensor, g: Geometry, epi: &Epilogue) -> Result<Tensor> {
    let (n, i) = (x.dim(0)?, w.dim(0)?);
    let wt = w.reshape((i, g.c * g.k * g.k))?.t()?; // [C*K*K, I]
    let x = x.contiguous()?;
    let grid = g.gh * g.gw;
    // one sample: both orders are the same matrix, and col2im by samples was 0.1 ms faster
    // in the page
    let order = if n > 1 {
        Columns::SampleMinor
    } else {
        Columns::SampleMajor
    };
    col2im_parts_tensor(
        &wt,
        n,
        g,
        order,
        |s, b| {
            let part = x.narrow(0, s, b)?; // [b, I, gh, gw]
            if b == 1 {
                return part.reshape((i, grid)); // [I, gh*gw]
            }
            transposed_blocks(&part, b, i * grid)?.reshape((i, grid * b)) // [I, gh*gw*b]
        },
        epi,
    )
}

/// Runs `f` on `t`'s CPU storage and layout.
fn on_cpu<R>(t: &Tensor, f: impl FnOnce(&CpuStorage, &Layout) -> Result<R>) -> Result<R> {
    let (st, l) = t.storage_and_layout();
    let Storage::Cpu(cs) = &*st else {
        candle_core::bail!("the CPU convolutions got a tensor on another device");
    };
    f(cs, l)
}

/// One convolution as one node of candle's graph, on `x` and `w`; `g` is the geometry of the
/// image side (the input of [`ConvOp::Conv`], the output of [`ConvOp::Transpose`]).
pub(crate) enum ConvOp {
    /// [`conv_chain`]: `x [N, C, H, W]`, `w [O, C, K, K]`.
    Conv {
        /// The input's geometry.
        g: Geometry,
        /// The forward's columns, kept when the weight is tracked: its gradient needs them,
        /// and im2col was the largest cost of a training step after the GEMMs. One
        /// `[C*K*K, b*gh*gw]` tensor per part of samples ([`conv_parts`]). The backward takes
        /// them (and recomputes them if a second backward of the same graph finds none).
        cols: Option<Mutex<Option<Vec<Tensor>>>>,
    },
    /// [`transpose_chain`]: `x [N, I, gh, gw]`, `w [I, C, K, K]`.
    Transpose {
        /// The output's geometry.
        g: Geometry,
    },
}

impl ConvOp {
    /// The convolution of `x` with `w`: the chain of ops where neither is tracked (a render),
    /// else this one node.
    pub(crate) fn apply(self, x: &Tensor, w: &Tensor) -> Result<Tensor> {
        self.apply_then(x, w, &Epilogue::default())
    }

    /// [`ConvOp::apply`], then the epilogue `epi` (a transposed convolution's only, and only
    /// untracked: training's forward runs the epilogue's ops as nodes of their own).
    pub(crate) fn apply_then(mut self, x: &Tensor, w: &Tensor, epi: &Epilogue) -> Result<Tensor> {
        let tracked = x.track_op() || w.track_op();
        if !epi.is_empty() && (tracked || matches!(self, ConvOp::Conv { .. })) {
            candle_core::bail!("an epilogue needs an untracked transposed convolution");
        }
        if tracked {
            if let ConvOp::Conv { cols, .. } = &mut self {
                *cols = w.track_op().then(|| Mutex::new(None));
            }
            return x.contiguous()?.apply_op2(&w.contiguous()?, self);
        }
        match self {
            ConvOp::Conv { g, .. } => conv_chain(x, w, g),
            ConvOp::Transpose { g } => transpose_chain(x, w, g, epi),
        }
    }

    fn fwd<T: WithDType>(
        &self,
        (xs, xl): (&CpuStorage, &Layout),
        (ws, wl): (&CpuStorage, &Layout),
        (wo, wi): (usize, usize),
    ) -> Result<(CpuStorage, Shape)> {
        let (w, _) = im2col::input::<T>(ws, wl, wo * wi)?;
        let w = Tensor::from_slice(w, (wo, wi), &Device::Cpu)?; // [rows, C*K*K]
        match *self {
            ConvOp::Conv { g, ref cols } => {
                let (x, n) = im2col::input::<T>(xs, xl, g.image_len())?;
                let (out, parts) = conv_parts(&w, x, g)?; // [N, O, gh, gw]
                if let Some(Ok(mut kept)) = cols.as_ref().map(Mutex::lock) {
                    *kept = Some(parts);
                }
                Ok((T::to_cpu_storage_owned(out), (n, wo, g.gh, g.gw).into()))
            }
            ConvOp::Transpose { g } => {
                let grid = g.gh * g.gw;
                let (x, n) = im2col::input::<T>(xs, xl, wo * grid)?;
                let wt = w.t()?; // [C*K*K, I]
                let side = |s, b| {
                    let xm = layout::swap_outer(&x[s * wo * grid..(s + b) * wo * grid], b, wo);
                    Tensor::from_vec(xm, (wo, b * grid), &Device::Cpu) // [I, b*gh*gw]
                };
                let out = col2im_parts::<T>(&wt, n, g, Columns::SampleMajor, side, |_| {})?;
                Ok((T::to_cpu_storage_owned(out), (n, g.c, g.h, g.w).into()))
            }
        }
    }
}

impl CustomOp2 for ConvOp {
    fn name(&self) -> &'static str {
        match self {
            ConvOp::Conv { .. } => "ganscope-conv2d",
            ConvOp::Transpose { .. } => "ganscope-conv-transpose2d",
        }
    }

    fn cpu_fwd(
        &self,
        xs: &CpuStorage,
        xl: &Layout,
        ws: &CpuStorage,
        wl: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (g, rows) = match *self {
            ConvOp::Conv { g, .. } | ConvOp::Transpose { g } => (g, wl.dims()[0]),
        };
        let w = (rows, g.c * g.k * g.k);
        match xs {
            CpuStorage::F32(_) => self.fwd::<f32>((xs, xl), (ws, wl), w),
            CpuStorage::F64(_) => self.fwd::<f64>((xs, xl), (ws, wl), w),
            _ => candle_core::bail!("the CPU convolutions support f32 and f64"),
        }
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let (need_dx, need_dw) = (x.track_op(), w.track_op());
        let (x, w, grad) = (x.detach(), w.detach(), grad.detach());
        // the input's gradient is the other chain, the weight's a GEMM with the image side's
        // columns; the piece both share is computed once
        let (dx, dw) = match *self {
            ConvOp::Conv { g, ref cols } => {
                let c = g.c * g.k * g.k;
                let dx = need_dx.then(|| {
                    let wt = w.reshape((w.dim(0)?, c))?.t()?; // [C*K*K, O]
                    let grad = grad.contiguous()?;
                    let side = |s, b| side_matrix(&grad.narrow(0, s, b)?, g); // [O, b*gh*gw]
                    let none = Epilogue::default();
                    col2im_parts_tensor(&wt, grad.dim(0)?, g, Columns::SampleMajor, side, &none)
                    // [N, C, H, W]
                });
                let kept = cols.as_ref().and_then(|m| m.lock().ok()?.take());
                let dw = need_dw.then(|| {
                    let rows = position_rows(&grad, g)?; // [N*gh*gw, O]
                    let dwt = match kept {
                        Some(parts) if !parts.is_empty() => {
                            // each part's columns times its samples' rows, summed
                            let mut at = 0;
                            let pairs = parts
                                .into_iter()
                                .map(|c| {
                                    let len = c.dim(1)?;
                                    at += len;
                                    Ok((c, rows.narrow(0, at - len, len)?))
                                })
                                .collect::<Result<Vec<_>>>()?;
                            sum_of_products(pairs)?
                        }
                        _ => {
                            let cols = x.contiguous()?.apply_op1(Im2Col(g))?; // [C*K*K, N*gh*gw]
                            matmul_long(&cols, &rows)?
                        }
                    }; // [C*K*K, O]
                    dwt.t()?.contiguous()?.reshape(w.shape()) // [O, C, K, K]
                });
                (dx, dw)
            }
            ConvOp::Transpose { g } => {
                let (n, i) = (x.dim(0)?, x.dim(1)?);
                let dcols = grad.contiguous()?.apply_op1(Im2Col(g))?; // [C*K*K, N*gh*gw]
                let dx = need_dx.then(|| {
                    let dxm = w.reshape((i, g.c * g.k * g.k))?.matmul(&dcols)?; // [I, N*gh*gw]
                    dxm.apply_op1(SwapOuter {
                        a: i,
                        b: n,
                        out: x.shape().clone(),
                    }) // [N, I, gh, gw]
                });
                let dw = need_dw.then(|| {
                    let dwt = matmul_long(&dcols, &position_rows(&x, g)?)?; // [C*K*K, I]
                    dwt.t()?.contiguous()?.reshape(w.shape()) // [I, C, K, K]
                });
                (dx, dw)
            }
        };
        Ok((dx.transpose()?, dw.transpose()?))
    }
}

/// Positions of a piece of [`matmul_long`]'s batch side, at least.
const LONG_PIECE: usize = 4096;

/// `a [m, k] x b [k, n]`, a weight's gradient. Where the result is small and `k` long (a
/// first or last layer's few channels, every position of the batch), the `gemm` crate ran it
/// 3-4 times slower on two threads than on one (`[48, 32768] x [32768, 32]`: 1.56 against
/// 0.42 ms), so it is split along `k` into pieces of at least [`LONG_PIECE`] positions, the
/// pieces' products on rayon's threads and summed in order. The pieces do not depend on the
/// thread count, so neither does the sum.
fn matmul_long(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    let ((m, k), n) = (a.dims2()?, b.dim(1)?);
    let pieces = k / LONG_PIECE;
    if m * n > 64 * 64 || pieces < 2 {
        return a.matmul(b);
    }
    let step = k.div_ceil(pieces);
    let pairs = (0..k.div_ceil(step))
        .map(|t| {
            let (s, len) = (t * step, step.min(k - t * step));
            Ok((a.narrow(1, s, len)?, b.narrow(0, s, len)?))
        })
        .collect::<Result<Vec<_>>>()?;
    sum_of_products(pairs)
}

/// `sum_p a_p x b_p` ([`matmul_long`] each), the products on rayon's threads, summed in order.
fn sum_of_products(pairs: Vec<(Tensor, Tensor)>) -> Result<Tensor> {
    let products = pairs
        .par_iter()
        .map(|(a, b)| matmul_long(a, b))
        .collect::<Result<Vec<_>>>()?;
    let Some((first, rest)) = products.split_first() else {
        candle_core::bail!("a sum of no products");
    };
    rest.iter().try_fold(first.clone(), |acc, p| acc + p)
}

/// The grid side `[N, R, gh, gw]` of a convolution as the matrix `[N*gh*gw, R]`: the
/// right-hand side of a weight's gradient (`cols [C*K*K, N*gh*gw]` times it). The `gemm`
/// crate's AVX-512 kernels ran a third as fast with that side as a transposed view of
/// `[R, N*gh*gw]` (`gy cols^T`) as with it row-major; its AVX2 kernel about as fast either way.
fn position_rows(t: &Tensor, g: Geometry) -> Result<Tensor> {
    transposed_blocks(t, t.dim(1)?, g.gh * g.gw)
}

/// `t`'s values as `[N, R, G]` with each `[R, G]` block transposed
/// ([`layout::transpose_blocks`]): the matrix `[N*G, R]`.
fn transposed_blocks(t: &Tensor, r: usize, grid: usize) -> Result<Tensor> {
    fn rows<T: WithDType>(s: &CpuStorage, l: &Layout, r: usize, grid: usize) -> Result<Tensor> {
        let (x, n) = im2col::input::<T>(s, l, r * grid)?;
        let y = layout::transpose_blocks(x, r, grid);
        Tensor::from_vec(y, (n * grid, r), &Device::Cpu)
    }
    let t = t.contiguous()?;
    on_cpu(&t, |s, l| match s {
        CpuStorage::F32(_) => rows::<f32>(s, l, r, grid),
        CpuStorage::F64(_) => rows::<f64>(s, l, r, grid),
        _ => candle_core::bail!("the CPU convolutions support f32 and f64"),
    })
}

/// The grid side `[N, R, gh, gw]` of a convolution as the matrix `[R, N*gh*gw]`.
fn side_matrix(t: &Tensor, g: Geometry) -> Result<Tensor> {
    let (n, r) = (t.dim(0)?, t.dim(1)?);
    t.contiguous()?.apply_op1(SwapOuter {
        a: n,
        b: r,
        out: (r, n * g.gh * g.gw).into(),
    })
}
