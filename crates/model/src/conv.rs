//! Convolutions for the candle backend as GEMMs on the CPU: `conv2d` by im2col then a
//! batched matmul, `conv_transpose2d` by a batched matmul then col2im ([`crate::im2col`]).
//! Forward and backward are then matmuls plus plain copy loops; in training each convolution
//! is one node of candle's graph ([`crate::conv_op`]). candle 0.11's own CPU
//! transposed convolution, which its conv2d backward also uses, is several times slower
//! (`cargo run -p ganscope-model --example opbench`). Other devices use candle's
//! own ops.

use crate::conv_op::ConvOp;
use crate::epilogue::Epilogue;
use crate::im2col::Geometry;
use candle_core::{Result, Tensor};

/// `x [N, C, H, W]` convolved with `w [O, C, K, K]`: `[N, O, Ho, Wo]`.
pub fn conv2d(x: &Tensor, w: &Tensor, stride: usize, pad: usize) -> Result<Tensor> {
    let (_, c, h, wd) = x.dims4()?;
    let (_, c2, k, _) = w.dims4()?;
    if c != c2 {
        candle_core::bail!("conv2d: input has {c} channels, kernel expects {c2}");
    }
    if !x.device().is_cpu() {
        return x.conv2d(w, pad, stride, 1, 1);
    }
    let g = Geometry::new(c, h, wd, k, stride, pad);
    ConvOp::Conv { g, cols: None }.apply(x, w)
}

/// `x [N, I, H, W]` transposed-convolved with `w [I, O, K, K]` (PyTorch layout):
/// `[N, O, (H-1)s - 2p + K, ...]`. It is the adjoint of a convolution over the output, so it
/// is col2im of `W^T x`.
pub fn conv_transpose2d(x: &Tensor, w: &Tensor, stride: usize, pad: usize) -> Result<Tensor> {
    conv_transpose2d_then(x, w, stride, pad, &Epilogue::default())
}

/// [`conv_transpose2d`], then the per-channel epilogue `epi` on each part of samples as it
/// is written (an untracked f32 render on the CPU; an empty epilogue anywhere).
pub(crate) fn conv_transpose2d_then(
    x: &Tensor,
    w: &Tensor,
    stride: usize,
    pad: usize,
    epi: &Epilogue,
) -> Result<Tensor> {
    let (_, i, h, wd) = x.dims4()?;
    let (i2, o, k, _) = w.dims4()?;
    if i != i2 {
        candle_core::bail!("conv_transpose2d: input has {i} channels, kernel expects {i2}");
    }
    if !x.device().is_cpu() {
        if !epi.is_empty() {
            candle_core::bail!("conv_transpose2d: an epilogue runs on the CPU only");
        }
        return x.conv_transpose2d(w, pad, 0, stride, 1);
    }
    let (ho, wo) = (
        (h - 1) * stride + k - 2 * pad,
        (wd - 1) * stride + k - 2 * pad,
    );
    let g = Geometry::new(o, ho, wo, k, stride, pad);
    if (g.gh, g.gw) != (h, wd) {
        candle_core::bail!("conv_transpose2d: unsupported geometry");
    }
    ConvOp::Transpose { g }.apply_then(x, w, epi)
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

    /// A render's transposed convolution whose columns take several GEMMs (one sample's
    /// are 1 MiB here, [`crate::conv_op`]'s limit) equals candle's own op, and training's
    /// forward bit for bit.
    #[test]
    fn transposed_render_in_parts() -> Result<()> {
        let x = rand(&[3, 64, 16, 16], 51);
        let w = rand(&[64, 64, 4, 4], 52);
        let ours = conv_transpose2d(&x, &w, 2, 1)?; // [3, 64, 32, 32]
        let theirs = x.conv_transpose2d(&w, 1, 0, 2, 1)?;
        assert_eq!(ours.dims(), [3, 64, 32, 32]);
        assert!(max_diff(&ours, &theirs) < 1e-4);
        // a render's columns have the sample innermost, training's the sample outermost: the
        // same sums in the same order, so the same bits, on one sample and on several parts
        for x in [x.narrow(0, 0, 1)?, x] {
            let tracked = conv_transpose2d(&x, Var::from_tensor(&w)?.as_tensor(), 2, 1)?;
            let bits = |t: &Tensor| -> Result<Vec<u32>> {
                Ok(t.flatten_all()?
                    .to_vec1::<f32>()?
                    .iter()
                    .map(|v| v.to_bits())
                    .collect())
            };
            let render = conv_transpose2d(&x, &w, 2, 1)?;
            assert!(
                bits(&render)? == bits(&tracked)?,
                "render and training forward differ"
            );
        }
        Ok(())
    }

    /// `ours` and `theirs` (gradient stores) agree on each of `vars` within `tol`.
    fn same_grads(
        ours: &candle_core::backprop::GradStore,
        theirs: &candle_core::backprop::GradStore,
        vars: &[&Tensor],
        tol: f32,
        what: &str,
    ) {
        for v in vars {
            let (a, b) = (ours.get(v).expect("grad"), theirs.get(v).expect("grad"));
            assert!(max_diff(a, b) < tol, "{what}");
        }
    }

    /// In training, a convolution's input gradient and a transposed convolution's forward
    /// whose columns take several GEMMs (a sample's are 1 MiB here), a weight gradient from
    /// several parts of a convolution's kept columns, and weight gradients summed in pieces
    /// over 8192 positions, equal candle's own ops.
    #[test]
    fn training_convolutions_in_parts() -> Result<()> {
        let x = Var::from_tensor(&rand(&[3, 64, 32, 32], 61))?;
        let w = Var::from_tensor(&rand(&[8, 64, 4, 4], 62))?;
        let y = conv2d(&x, &w.as_detached_tensor(), 2, 1)?; // [3, 8, 16, 16]
        let r = rand(y.dims(), 63);
        let ours = (y * &r)?.sum_all()?.backward()?;
        let theirs = (x.conv2d(&w.as_detached_tensor(), 1, 2, 1, 1)? * &r)?
            .sum_all()?
            .backward()?;
        same_grads(
            &ours,
            &theirs,
            &[&x],
            1e-3,
            "conv2d input gradient in parts",
        );
        // the weight tracked too, 9 samples: its gradient sums three parts' kept columns
        let x = Var::from_tensor(&rand(&[9, 64, 32, 32], 64))?;
        let r = rand(&[9, 8, 16, 16], 65);
        let ours = (conv2d(&x, &w, 2, 1)? * &r)?.sum_all()?.backward()?;
        let theirs = (x.conv2d(&w, 1, 2, 1, 1)? * &r)?.sum_all()?.backward()?;
        same_grads(&ours, &theirs, &[&x, &w], 1e-2, "conv2d gradients in parts");
        let x = Var::from_tensor(&rand(&[3, 64, 16, 16], 66))?;
        let w = Var::from_tensor(&rand(&[64, 64, 4, 4], 67))?;
        let ours = conv_transpose2d(&x, &w, 2, 1)?; // [3, 64, 32, 32]
        let theirs = x.conv_transpose2d(&w, 1, 0, 2, 1)?;
        assert!(
            max_diff(&ours, &theirs) < 1e-4,
            "transposed forward in parts"
        );
        // weight gradients of a few channels over 8192 positions, in pieces
        let x = rand(&[32, 3, 32, 32], 68);
        let w = Var::from_tensor(&rand(&[8, 3, 4, 4], 69))?;
        let r = rand(&[32, 8, 16, 16], 70);
        let ours = (conv2d(&x, &w, 2, 1)? * &r)?.sum_all()?.backward()?;
        let theirs = (x.conv2d(&w, 1, 2, 1, 1)? * &r)?.sum_all()?.backward()?;
        same_grads(&ours, &theirs, &[&w], 1e-2, "a long weight gradient");
        let x = rand(&[32, 32, 16, 16], 71);
        let w = Var::from_tensor(&rand(&[32, 3, 4, 4], 72))?;
        let r = rand(&[32, 3, 32, 32], 73);
        let ours = (conv_transpose2d(&x, &w, 2, 1)? * &r)?
            .sum_all()?
            .backward()?;
        let theirs = (x.conv_transpose2d(&w, 1, 0, 2, 1)? * &r)?
            .sum_all()?
            .backward()?;
        same_grads(
            &ours,
            &theirs,
            &[&w],
            1e-2,
            "a long transposed weight gradient",
        );
        Ok(())
    }

    /// A training convolution's output and gradients are the same bits on one thread and on
    /// three: its parts and pieces do not depend on the thread count (a resumed run repeats
    /// an uninterrupted one on another machine).
    #[test]
    fn thread_count_does_not_change_results() -> Result<()> {
        let run = || -> Result<Vec<Vec<f32>>> {
            let x = Var::from_tensor(&rand(&[40, 3, 32, 32], 81))?;
            let w = Var::from_tensor(&rand(&[16, 3, 4, 4], 82))?;
            let w2 = Var::from_tensor(&rand(&[32, 16, 4, 4], 83))?;
            let h = conv2d(&x, &w, 2, 1)?; // [40, 16, 16, 16]
            let y = conv2d(&h, &w2, 2, 1)?; // [40, 32, 8, 8]
            let g = (&y * &rand(y.dims(), 84))?.sum_all()?.backward()?;
            [
                y.as_ref(),
                g.get(&x).expect("dx"),
                g.get(&w).expect("dw"),
                g.get(&w2).expect("dw2"),
            ]
            .iter()
            .map(|t| t.flatten_all()?.to_vec1::<f32>())
            .collect()
        };
        let pool = |n| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(n)
                .build()
                .expect("pool")
        };
        let one = pool(1).install(run)?;
        let three = pool(3).install(run)?;
        assert!(one == three, "results differ between one thread and three");
        Ok(())
    }

    /// Forward and both gradients equal candle's own ops on odd shapes.
    #[test]
    fn matches_candle_ops() -> Result<()> {
        for (n, c, o, h, k, s, p, seed) in [
            (3, 5, 7, 9, 3, 1, 1, 1),
            (2, 4, 6, 11, 4, 2, 1, 2),
            (1, 3, 2, 5, 1, 1, 0, 3),
            (2, 3, 5, 7, 3, 2, 0, 4),
            (2, 3, 4, 10, 3, 3, 1, 5),
            // more than a transpose tile (16) of channels and of grid cells
            (2, 19, 21, 12, 4, 2, 1, 6),
        ] {
            let x = Var::from_tensor(&rand(&[n, c, h, h], seed))?;
            let w = Var::from_tensor(&rand(&[o, c, k, k], seed + 10))?;
            let ours = conv2d(&x, &w, s, p)?;
            let theirs = x.conv2d(&w, p, s, 1, 1)?;
            // untracked inputs take the chain of ops, tracked ones the single node
            let xu = x.as_detached_tensor();
            let chain = conv2d(&xu, &w.as_detached_tensor(), s, p)?;
            assert!(
                max_diff(&chain, &theirs) < 1e-4,
                "conv2d forward, untracked"
            );
            assert!(
                max_diff(&ours, &theirs) < 1e-4,
                "conv2d forward {n} {c} {o} {h} {k} {s} {p}"
            );
            let r = rand(ours.dims(), seed + 20);
            let (g1, g2) = (
                (&ours * &r)?.sum_all()?.backward()?,
                (theirs * &r)?.sum_all()?.backward()?,
            );
            for v in [&x, &w] {
                let (a, b) = (g1.get(v).expect("grad"), g2.get(v).expect("grad"));
                assert!(max_diff(a, b) < 1e-3, "conv2d gradient");
            }
            // a second backward of the same graph: the first took the kept columns, so this
            // one recomputes them
            let again = (&ours * &r)?.sum_all()?.backward()?;
            let dw = again.get(&w).expect("weight gradient");
            assert!(
                max_diff(dw, g1.get(&w).expect("grad")) < 1e-6,
                "second backward"
            );
            // a detached weight (the generator step's discriminator): the input's gradient alone
            let grads = (conv2d(&x, &w.as_detached_tensor(), s, p)? * &r)?
                .sum_all()?
                .backward()?;
            let dx = grads.get(&x).expect("input gradient");
            assert!(max_diff(dx, g2.get(&x).expect("grad")) < 1e-3);
            // an untracked input: the weight's gradient alone
            let grads = (conv2d(&xu, &w, s, p)? * &r)?.sum_all()?.backward()?;
            let dw = grads.get(&w).expect("weight gradient");
            assert!(max_diff(dw, g2.get(&w).expect("grad")) < 1e-3);
            assert!(
                grads.get(&xu).is_none(),
                "an untracked input got a gradient"
            );
            let wt = Var::from_tensor(&rand(&[c, o, k, k], seed + 30))?;
            let ours = conv_transpose2d(&x, &wt, s, p)?;
            let theirs = x.conv_transpose2d(&wt, p, 0, s, 1)?;
            let chain = conv_transpose2d(&xu, &wt.as_detached_tensor(), s, p)?;
            assert!(
                max_diff(&chain, &theirs) < 1e-4,
                "conv_transpose2d forward, untracked"
            );
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
            let grads = (conv_transpose2d(&xu, &wt, s, p)? * &r)?
                .sum_all()?
                .backward()?;
            let dw = grads.get(&wt).expect("weight gradient");
            assert!(max_diff(dw, g2.get(&wt).expect("grad")) < 1e-3);
        }
        Ok(())
    }
}
