//! Layout changes of the CPU convolutions ([`crate::conv_op`]) as plain loops: a GEMM's
//! `[O, N*gh*gw]` output to `[N, O, gh, gw]` and back ([`SwapOuter`]), and a grid side as
//! the matrix of its positions ([`transpose_blocks`]).

use crate::par;
use candle_core::{CpuStorage, CustomOp1, Layout, Result, Shape, Tensor};

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
    let mut y = vec![T::zero(); x.len()];
    swap_outer_into(x, a, b, &mut y);
    y
}

/// [`swap_outer`] of `x` into `y`, of `x`'s length.
pub(crate) fn swap_outer_into<T: candle_core::WithDType>(x: &[T], a: usize, b: usize, y: &mut [T]) {
    let g = x.len() / (a * b).max(1);
    par::chunks_mut(y, a * g, |j, yb| {
        for (i, dst) in yb.chunks_exact_mut(g).enumerate() {
            let src = (i * b + j) * g;
            dst.copy_from_slice(&x[src..src + g]);
        }
    });
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
