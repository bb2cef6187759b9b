//! A whole convolution (im2col, GEMM, layout) as one candle custom op on the CPU, and the
//! same for a transposed convolution (layout, GEMM, col2im), each with its own backward.
//!
//! As a chain of ops, each intermediate (the columns above all, `C*K*K` times the input) is a
//! node of candle's graph, and candle's backward starts every node's gradient as a zeroed
//! tensor and adds into it; a matmul node also computes the gradient of an input that needs
//! none (the columns of real images). One node per convolution leaves only the input's and
//! the weight's gradients, each computed only when that tensor is tracked.

use crate::im2col::{self, Col2Im, Geometry, Im2Col, SwapOuter};
use candle_core::{
    CpuStorage, CustomOp2, Device, Layout, Result, Shape, Storage, Tensor, WithDType,
};

/// `t`'s values on the CPU, contiguous, in `f`.
fn with_slice<T: WithDType, R>(t: &Tensor, f: impl FnOnce(&[T]) -> Result<R>) -> Result<R> {
    let (st, l) = t.storage_and_layout();
    let Storage::Cpu(cs) = &*st else {
        candle_core::bail!("the fused convolutions run on the CPU only");
    };
    let Some((a, b)) = l.contiguous_offsets() else {
        candle_core::bail!("the fused convolutions need contiguous intermediates");
    };
    f(&T::cpu_storage_as_slice(cs)?[a..b])
}

fn weights<T: WithDType>(s: &CpuStorage, l: &Layout, rows: usize, cols: usize) -> Result<Tensor> {
    let (w, _) = im2col::input::<T>(s, l, rows * cols)?;
    Tensor::from_slice(w, (rows, cols), &Device::Cpu)
}

/// A forward written once for any float type.
trait Fwd {
    fn fwd<T: WithDType>(
        &self,
        xs: &CpuStorage,
        xl: &Layout,
        ws: &CpuStorage,
        wl: &Layout,
    ) -> Result<(CpuStorage, Shape)>;
}

/// `op`'s forward for the input's type (f32 or f64; the ops of [`crate::im2col`] take no
/// other).
fn cpu_fwd_any(
    op: &impl Fwd,
    (xs, xl): (&CpuStorage, &Layout),
    (ws, wl): (&CpuStorage, &Layout),
) -> Result<(CpuStorage, Shape)> {
    match xs {
        CpuStorage::F32(_) => op.fwd::<f32>(xs, xl, ws, wl),
        CpuStorage::F64(_) => op.fwd::<f64>(xs, xl, ws, wl),
        _ => candle_core::bail!("the CPU convolutions support f32 and f64"),
    }
}

/// `x [N, C, H, W]` convolved with `w [O, C, K, K]`: `[N, O, Ho, Wo]`.
pub(crate) struct Conv2dOp {
    /// The input's geometry.
    pub g: Geometry,
    /// Output channels.
    pub o: usize,
}

impl Fwd for Conv2dOp {
    fn fwd<T: WithDType>(
        &self,
        xs: &CpuStorage,
        xl: &Layout,
        ws: &CpuStorage,
        wl: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (g, o) = (self.g, self.o);
        let (ckk, grid) = (g.c * g.k * g.k, g.gh * g.gw);
        let (cols, n) = im2col::im2col::<T>(g, xs, xl)?;
        let cols = Tensor::from_vec(cols, (ckk, n * grid), &Device::Cpu)?; // [C*K*K, N*Ho*Wo]
        let y = weights::<T>(ws, wl, o, ckk)?.matmul(&cols)?; // [O, N*Ho*Wo]
        let out = with_slice::<T, _>(&y, |y| Ok(im2col::swap_outer(y, o, n)))?; // [N, O, Ho, Wo]
        Ok((
            T::to_cpu_storage_owned(out),
            Shape::from((n, o, g.gh, g.gw)),
        ))
    }
}

impl CustomOp2 for Conv2dOp {
    fn name(&self) -> &'static str {
        "ganscope-conv2d"
    }

    fn cpu_fwd(
        &self,
        xs: &CpuStorage,
        xl: &Layout,
        ws: &CpuStorage,
        wl: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        cpu_fwd_any(self, (xs, xl), (ws, wl))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let (g, o) = (self.g, self.o);
        let n = x.dim(0)?;
        let (ckk, grid) = (g.c * g.k * g.k, g.gh * g.gw);
        let gy = grad.contiguous()?.apply_op1(SwapOuter {
            a: n,
            b: o,
            out: (o, n * grid).into(),
        })?; // [O, N*Ho*Wo]
        let dw = if w.track_op() {
            let cols = x.detach().contiguous()?.apply_op1(Im2Col(g))?; // [C*K*K, N*Ho*Wo]
            Some(gy.matmul(&cols.t()?)?.reshape(w.shape())?) // [O, C, K, K]
        } else {
            None
        };
        let dx = if x.track_op() {
            let wm = w.detach().reshape((o, ckk))?;
            Some(wm.t()?.matmul(&gy)?.apply_op1(Col2Im(g))?) // [N, C, H, W]
        } else {
            None
        };
        Ok((dx, dw))
    }
}

/// `x [N, I, H, W]` transposed-convolved with `w [I, O, K, K]`: `[N, O, Ho, Wo]`, where `g`
/// is the output's geometry (whose grid is the input's `H x W`).
pub(crate) struct ConvTranspose2dOp {
    /// The output's geometry.
    pub g: Geometry,
    /// Input channels.
    pub i: usize,
}

impl Fwd for ConvTranspose2dOp {
    fn fwd<T: WithDType>(
        &self,
        xs: &CpuStorage,
        xl: &Layout,
        ws: &CpuStorage,
        wl: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (g, i) = (self.g, self.i);
        let (okk, grid) = (g.c * g.k * g.k, g.gh * g.gw);
        let (x, n) = im2col::input::<T>(xs, xl, i * grid)?;
        let xm = Tensor::from_vec(im2col::swap_outer(x, n, i), (i, n * grid), &Device::Cpu)?; // [I, N*H*W]
        let cols = weights::<T>(ws, wl, i, okk)?.t()?.matmul(&xm)?; // [O*K*K, N*H*W]
        let (st, l) = cols.storage_and_layout();
        let Storage::Cpu(cs) = &*st else {
            candle_core::bail!("the fused convolutions run on the CPU only");
        };
        let (out, n) = im2col::col2im::<T>(g, cs, l)?; // [N, O, Ho, Wo]
        Ok((
            T::to_cpu_storage_owned(out),
            Shape::from((n, g.c, g.h, g.w)),
        ))
    }
}

impl CustomOp2 for ConvTranspose2dOp {
    fn name(&self) -> &'static str {
        "ganscope-conv-transpose2d"
    }

    fn cpu_fwd(
        &self,
        xs: &CpuStorage,
        xl: &Layout,
        ws: &CpuStorage,
        wl: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        cpu_fwd_any(self, (xs, xl), (ws, wl))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let (g, i) = (self.g, self.i);
        let n = x.dim(0)?;
        let (okk, grid) = (g.c * g.k * g.k, g.gh * g.gw);
        let dcols = grad.contiguous()?.apply_op1(Im2Col(g))?; // [O*K*K, N*H*W]
        let dw = if w.track_op() {
            let xm = x.detach().contiguous()?.apply_op1(SwapOuter {
                a: n,
                b: i,
                out: (i, n * grid).into(),
            })?; // [I, N*H*W]
            Some(xm.matmul(&dcols.t()?)?.reshape(w.shape())?) // [I, O, K, K]
        } else {
            None
        };
        let dx = if x.track_op() {
            let wm = w.detach().reshape((i, okk))?;
            let dxm = wm.matmul(&dcols)?; // [I, N*H*W]
            Some(dxm.apply_op1(SwapOuter {
                a: i,
                b: n,
                out: x.shape().clone(),
            })?) // [N, I, H, W]
        } else {
            None
        };
        Ok((dx, dw))
    }
}
