//! Fused per-channel ops for the candle backend on the CPU: BatchNorm (batch statistics or
//! running ones) with the activation after it, a per-channel bias, and an activation alone,
//! each one pass forward and at most two backward, as candle custom ops. Built from candle's
//! own ops, a training
//! BatchNorm + ReLU is ~15 element-wise passes forward and ~30 backward, most of them
//! broadcasts whose gradient is candle's strided multi-dimension sum (a third of a training
//! step in a profile). Tensors are `[N, C, ...]` (`[N, C]` or `[N, C, H, W]`), f32,
//! contiguous; [`crate::candle_backend`] uses these where that holds and candle's ops
//! elsewhere (other devices, f64).

use crate::backend::Activation;
use crate::par;
use candle_core::{
    bail, CpuStorage, CustomOp1, CustomOp2, CustomOp3, DType, Device, Layout, Result, Shape,
    Storage, Tensor,
};
use std::sync::{Arc, Mutex};

/// The activation after an affine map, or none.
pub type Act = Option<Activation>;

/// Whether the fused ops take `x` with activation `act`: f32 on the CPU, at least two
/// dimensions, and a LeakyReLU slope that is not negative (the backward reads the slope from
/// the output's sign).
pub fn applies(x: &Tensor, act: Act) -> bool {
    x.device().is_cpu()
        && x.dtype() == DType::F32
        && x.rank() >= 2
        && !matches!(act, Some(Activation::LeakyRelu(s)) if s < 0.0)
}

#[inline]
pub(crate) fn apply(act: Act, z: f32) -> f32 {
    match act {
        None => z,
        Some(Activation::Relu) => {
            if z > 0.0 {
                z
            } else {
                0.0
            }
        }
        Some(Activation::LeakyRelu(s)) => {
            if z > 0.0 {
                z
            } else {
                s * z
            }
        }
        Some(Activation::Tanh) => crate::approx::tanh(z),
        Some(Activation::Sigmoid) => 1.0 / (1.0 + (-z).exp()),
    }
}

/// d act / dz, read from the output `y = act(z)`.
#[inline]
fn slope(act: Act, y: f32) -> f32 {
    match act {
        None => 1.0,
        Some(Activation::Relu) => {
            if y > 0.0 {
                1.0
            } else {
                0.0
            }
        }
        Some(Activation::LeakyRelu(s)) => {
            if y > 0.0 {
                1.0
            } else {
                s
            }
        }
        Some(Activation::Tanh) => 1.0 - y * y,
        Some(Activation::Sigmoid) => y * (1.0 - y),
    }
}

/// `(N, C, per-channel length)` of a `[N, C, ...]` layout.
fn ncl(dims: &[usize]) -> Result<(usize, usize, usize)> {
    match dims {
        [n, c, rest @ ..] => Ok((*n, *c, rest.iter().product())),
        _ => bail!("fused channel ops need [N, C, ...], got {dims:?}"),
    }
}

fn slice<'a>(s: &'a CpuStorage, l: &Layout) -> Result<&'a [f32]> {
    let Some((a, b)) = l.contiguous_offsets() else {
        bail!("fused channel ops need contiguous inputs");
    };
    Ok(&s.as_slice::<f32>()?[a..b])
}

/// Runs `f` on the f32 CPU data of `ts` (made contiguous first).
fn with_data<R>(ts: &[&Tensor], f: impl FnOnce(&[&[f32]]) -> Result<R>) -> Result<R> {
    let ts = ts
        .iter()
        .map(|t| t.contiguous())
        .collect::<Result<Vec<_>>>()?;
    let guards: Vec<_> = ts.iter().map(|t| t.storage_and_layout()).collect();
    let mut data = Vec::with_capacity(guards.len());
    for (s, l) in &guards {
        let Storage::Cpu(c) = &**s else {
            bail!("fused channel ops run on the CPU");
        };
        data.push(slice(c, l)?);
    }
    f(&data)
}

fn cpu(v: Vec<f32>, shape: &[usize]) -> Result<Tensor> {
    Tensor::from_vec(v, shape, &Device::Cpu)
}

/// Eight-lane sums of `f(i)` over a row, so the loop vectorises.
#[inline]
fn row_sum(len: usize, f: impl Fn(usize) -> f32) -> f64 {
    let mut acc = [0f32; 8];
    let whole = len / 8 * 8;
    for i in (0..whole).step_by(8) {
        for (j, a) in acc.iter_mut().enumerate() {
            *a += f(i + j);
        }
    }
    let tail: f32 = (whole..len).map(&f).sum();
    acc.iter().map(|&a| a as f64).sum::<f64>() + tail as f64
}

/// Evaluates `$body` with `$f` bound to `|z| $kernel(act, z)` for a constant `act`: for none,
/// ReLU and LeakyReLU the element loop that takes `$f` is then compiled (and vectorised) for
/// that activation instead of matching on it for every element.
macro_rules! specialise {
    ($act:expr, $kernel:ident, |$f:ident| $body:expr) => {
        match $act {
            None => {
                let $f = |z: f32| $kernel(None, z);
                $body
            }
            Some($crate::backend::Activation::Relu) => {
                let $f = |z: f32| $kernel(Some($crate::backend::Activation::Relu), z);
                $body
            }
            Some($crate::backend::Activation::LeakyRelu(s)) => {
                let $f = move |z: f32| $kernel(Some($crate::backend::Activation::LeakyRelu(s)), z);
                $body
            }
            Some($crate::backend::Activation::Tanh) => {
                let $f = |z: f32| $kernel(Some($crate::backend::Activation::Tanh), z);
                $body
            }
            other => {
                let $f = move |z: f32| $kernel(other, z);
                $body
            }
        }
    };
}
pub(crate) use specialise;

/// `y = f(x scale[c] + shift[c])` over `x [N, C, L]`, into `y`.
fn affine_rows(
    y: &mut [f32],
    (x, scale, shift): (&[f32], &[f32], &[f32]),
    (c, l): (usize, usize),
    f: impl Fn(f32) -> f32 + Sync,
) {
    par::chunks_mut(y, l, |r, yr| {
        let (a, b) = (scale[r % c], shift[r % c]);
        for (yi, &xi) in yr.iter_mut().zip(&x[r * l..]) {
            *yi = f(xi * a + b);
        }
    });
}

/// `y = f(x)`, in chunks of `len`.
fn map_rows(y: &mut [f32], x: &[f32], len: usize, f: impl Fn(f32) -> f32 + Sync) {
    par::chunks_mut(y, len, |r, yr| {
        for (yi, &xi) in yr.iter_mut().zip(&x[r * len..]) {
            *yi = f(xi);
        }
    });
}

/// `y = act(x scale[c] + shift[c])` over `x [N, C, L]`.
fn affine_act(x: &[f32], scale: &[f32], shift: &[f32], act: Act, c: usize, l: usize) -> Vec<f32> {
    let mut y = vec![0f32; x.len()];
    specialise!(act, apply, |f| affine_rows(
        &mut y,
        (x, scale, shift),
        (c, l),
        f
    ));
    y
}

/// Per-channel sums of `f(row index, row)` over the rows of `[N, C, L]` data.
fn channel_sums(
    data: &[f32],
    c: usize,
    l: usize,
    f: impl Fn(usize, &[f32]) -> f64 + Sync,
) -> Vec<f64> {
    let rows = par::map_chunks(data, l, f);
    let mut sums = vec![0f64; c];
    for (r, v) in rows.into_iter().enumerate() {
        sums[r % c] += v;
    }
    sums
}

fn to_f32(v: Vec<f64>) -> Vec<f32> {
    v.into_iter().map(|v| v as f32).collect()
}

/// `dz = grad f(y)`, row by row.
fn grad_rows(dz: &mut [f32], (g, y): (&[f32], &[f32]), l: usize, f: impl Fn(f32) -> f32 + Sync) {
    par::chunks_mut(dz, l, |r, dr| {
        let (gr, yr) = (&g[r * l..], &y[r * l..]);
        for ((d, &gi), &yi) in dr.iter_mut().zip(gr).zip(yr) {
            *d = gi * f(yi);
        }
    });
}

/// `dz = grad act'(y)` and its per-channel sums.
fn act_grad(g: &[f32], y: &[f32], act: Act, c: usize, l: usize) -> (Vec<f32>, Vec<f32>) {
    let mut dz = vec![0f32; g.len()];
    specialise!(act, slope, |f| grad_rows(&mut dz, (g, y), l, f));
    let sums = channel_sums(&dz, c, l, |_, row| row_sum(l, |i| row[i]));
    (dz, to_f32(sums))
}

/// `x + bias[c]`: a convolution's or linear layer's bias. Its backward passes the gradient
/// through as it is and sums it per channel for the bias.
pub struct Bias;

impl CustomOp2 for Bias {
    fn name(&self) -> &'static str {
        "ganscope-bias"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (_, c, l) = ncl(l1.dims())?;
        let (x, b) = (slice(s1, l1)?, slice(s2, l2)?);
        if b.len() != c {
            bail!("bias has {} entries for {c} channels", b.len());
        }
        let y = if l == 1 {
            // `[N, C]` (a dense layer's output): rows of channels, not rows of one value
            let mut y = vec![0f32; x.len()];
            par::chunks_mut(&mut y, c, |r, yr| {
                for ((yi, &xi), &bi) in yr.iter_mut().zip(&x[r * c..]).zip(b) {
                    *yi = xi + bi;
                }
            });
            y
        } else {
            let ones = vec![1f32; c];
            affine_act(x, &ones, b, None, c, l)
        };
        Ok((CpuStorage::F32(y), l1.shape().clone()))
    }

    fn bwd(
        &self,
        x: &Tensor,
        b: &Tensor,
        _y: &Tensor,
        g: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let (_, c, l) = ncl(x.dims())?;
        let db = with_data(&[g], |d| {
            if l == 1 {
                // `[N, C]`: the column sums, in f64 and in row order as below
                let mut sums = vec![0f64; c];
                for row in d[0].chunks_exact(c) {
                    for (s, &v) in sums.iter_mut().zip(row) {
                        *s += v as f64;
                    }
                }
                return Ok(to_f32(sums));
            }
            Ok(to_f32(channel_sums(d[0], c, l, |_, row| {
                row_sum(l, |i| row[i])
            })))
        })?;
        Ok((Some(g.clone()), Some(cpu(db, b.dims())?)))
    }
}

/// `act(x scale[c] + shift[c])`: BatchNorm with running statistics folded into a scale and
/// a shift, and its activation.
pub struct AffineAct(pub Act);

impl CustomOp3 for AffineAct {
    fn name(&self) -> &'static str {
        "ganscope-affine-act"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (_, c, l) = ncl(l1.dims())?;
        let (x, a, b) = (slice(s1, l1)?, slice(s2, l2)?, slice(s3, l3)?);
        if a.len() != c || b.len() != c {
            bail!("scale and shift need {c} entries");
        }
        let y = affine_act(x, a, b, self.0, c, l);
        Ok((CpuStorage::F32(y), l1.shape().clone()))
    }

    fn bwd(
        &self,
        x: &Tensor,
        a: &Tensor,
        b: &Tensor,
        y: &Tensor,
        g: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let (_, c, l) = ncl(x.dims())?;
        let (dx, da, db) = with_data(&[g, y, x, a], |d| {
            let (mut dz, db) = act_grad(d[0], d[1], self.0, c, l);
            let (xs, scale) = (d[2], d[3]);
            let da = channel_sums(&dz, c, l, |r, dr| {
                let xr = &xs[r * l..(r + 1) * l];
                row_sum(l, |i| dr[i] * xr[i])
            });
            par::chunks_mut(&mut dz, l, |r, dr| {
                dr.iter_mut().for_each(|v| *v *= scale[r % c])
            });
            Ok((dz, to_f32(da), db))
        })?;
        Ok((
            Some(cpu(dx, x.dims())?),
            Some(cpu(da, a.dims())?),
            Some(cpu(db, b.dims())?),
        ))
    }
}

/// Per-channel batch statistics of `x [N, C, L]`: mean and biased variance (two passes).
fn batch_stats(x: &[f32], c: usize, l: usize) -> (Vec<f32>, Vec<f32>) {
    let count = (x.len() / c.max(1)).max(1) as f64;
    let sum = channel_sums(x, c, l, |_, xr| row_sum(l, |i| xr[i]));
    let mean: Vec<f32> = sum.iter().map(|s| (s / count) as f32).collect();
    let sq = channel_sums(x, c, l, |r, xr| {
        let m = mean[r % c];
        row_sum(l, |i| (xr[i] - m) * (xr[i] - m))
    });
    (mean, sq.iter().map(|s| (s / count) as f32).collect())
}

/// The batch statistics a [`BatchNormTrain`] used: per-channel mean and biased variance.
pub type Stats = Arc<Mutex<Option<(Vec<f32>, Vec<f32>)>>>;

/// Training BatchNorm of `x [N, C, ...]` with `weight` and `bias` `[C]`, and its activation:
/// normalised by the batch's mean and biased variance, which it leaves in `stats` for the
/// running statistics' update.
pub struct BatchNormTrain {
    /// The activation after it.
    pub act: Act,
    /// Added to the variance.
    pub eps: f32,
    /// Filled by the forward.
    pub stats: Stats,
}

fn inv_std(var: &[f32], eps: f32) -> Vec<f32> {
    var.iter().map(|v| 1.0 / (v + eps).sqrt()).collect()
}

impl CustomOp3 for BatchNormTrain {
    fn name(&self) -> &'static str {
        "ganscope-batch-norm-train"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (_, c, l) = ncl(l1.dims())?;
        let (x, w, b) = (slice(s1, l1)?, slice(s2, l2)?, slice(s3, l3)?);
        if w.len() != c || b.len() != c {
            bail!("BatchNorm weight and bias need {c} entries");
        }
        let (mean, var) = batch_stats(x, c, l);
        let inv = inv_std(&var, self.eps);
        let scale: Vec<f32> = (0..c).map(|i| w[i] * inv[i]).collect();
        let shift: Vec<f32> = (0..c).map(|i| b[i] - mean[i] * scale[i]).collect();
        let y = affine_act(x, &scale, &shift, self.act, c, l);
        *self
            .stats
            .lock()
            .map_err(|_| candle_core::Error::Msg("stats".into()))? = Some((mean, var));
        Ok((CpuStorage::F32(y), l1.shape().clone()))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        b: &Tensor,
        y: &Tensor,
        g: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let (n, c, l) = ncl(x.dims())?;
        let Some((mean, var)) = self
            .stats
            .lock()
            .map_err(|_| candle_core::Error::Msg("stats".into()))?
            .clone()
        else {
            bail!("BatchNorm backward before its forward");
        };
        let inv = inv_std(&var, self.eps);
        let m = (n * l).max(1) as f32;
        let (dx, dw, db) = with_data(&[g, y, x, w], |d| {
            let (mut dz, db) = act_grad(d[0], d[1], self.act, c, l);
            let (xs, gamma) = (d[2], d[3]);
            let dw = to_f32(channel_sums(&dz, c, l, |r, dr| {
                let xr = &xs[r * l..(r + 1) * l];
                let (mu, is) = (mean[r % c], inv[r % c]);
                row_sum(l, |i| dr[i] * (xr[i] - mu) * is)
            }));
            // dx = gamma inv (dz - sum(dz) / m - xhat sum(dz xhat) / m)
            par::chunks_mut(&mut dz, l, |r, dr| {
                let ch = r % c;
                let (mu, is) = (mean[ch], inv[ch]);
                let (k, a, bb) = (gamma[ch] * is, db[ch] / m, dw[ch] / m);
                for (v, &xi) in dr.iter_mut().zip(&xs[r * l..]) {
                    *v = k * (*v - a - (xi - mu) * is * bb);
                }
            });
            Ok((dz, dw, db))
        })?;
        Ok((
            Some(cpu(dx, x.dims())?),
            Some(cpu(dw, w.dims())?),
            Some(cpu(db, b.dims())?),
        ))
    }
}

/// Elements per task of [`ActOp`].
const CHUNK: usize = 16 * 1024;

/// An activation alone, `act(x)`, with a one-pass backward from its output.
pub struct ActOp(pub Activation);

impl CustomOp1 for ActOp {
    fn name(&self) -> &'static str {
        "ganscope-act"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = slice(s, l)?;
        let mut y = vec![0f32; x.len()];
        specialise!(Some(self.0), apply, |f| map_rows(&mut y, x, CHUNK, f));
        Ok((CpuStorage::F32(y), l.shape().clone()))
    }

    fn bwd(&self, x: &Tensor, y: &Tensor, g: &Tensor) -> Result<Option<Tensor>> {
        let dx = with_data(&[g, y], |d| {
            let mut dx = vec![0f32; d[0].len()];
            specialise!(Some(self.0), slope, |f| grad_rows(
                &mut dx,
                (d[0], d[1]),
                CHUNK,
                f
            ));
            Ok(dx)
        })?;
        Ok(Some(cpu(dx, x.dims())?))
    }
}

#[cfg(test)]
#[path = "fused_tests.rs"]
mod tests;
