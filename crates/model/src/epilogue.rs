//! The per-channel ops after a render's transposed convolution (its bias, an inference
//! BatchNorm, an activation) applied to each part of samples as col2im writes it
//! ([`crate::conv_op`]), while the part is still in cache: run as separate candle ops, each
//! was a pass over the whole batch into a new tensor (about 3 ms of a 35 ms page render of
//! the bundled 32x32 generator, the final tanh the largest).

use crate::fused::{apply, specialise, Act};

/// `act((z + bias[c]) * scale[c] + shift[c])` for each value `z` of channel `c`, each step
/// optional. The arithmetic, in the same order, of [`crate::fused`]'s bias, BatchNorm with
/// running statistics and activation ops, so a fused render has their bits.
#[derive(Clone, Debug, Default)]
pub struct Epilogue {
    /// The convolution's bias, `[C]`.
    pub bias: Option<Vec<f32>>,
    /// A BatchNorm's running statistics folded into a scale and a shift, `[C]` each.
    pub affine: Option<(Vec<f32>, Vec<f32>)>,
    /// The activation after them.
    pub act: Act,
}

impl Epilogue {
    /// Whether it does anything.
    pub fn is_empty(&self) -> bool {
        self.bias.is_none() && self.affine.is_none() && self.act.is_none()
    }

    /// Applies it in place to `[b, C, L]` values (`c` channels of `l` values each).
    pub fn apply(&self, y: &mut [f32], c: usize, l: usize) {
        if self.is_empty() || c == 0 || l == 0 {
            return;
        }
        for (r, row) in y.chunks_exact_mut(l).enumerate() {
            let ch = r % c;
            if let Some(b) = &self.bias {
                let b = b[ch];
                for v in row.iter_mut() {
                    *v += b;
                }
            }
            match (&self.affine, self.act) {
                (Some((a, s)), act) => {
                    let (a, s) = (a[ch], s[ch]);
                    specialise!(act, apply, |f| for v in row.iter_mut() {
                        *v = f(*v * a + s);
                    })
                }
                (None, Some(act)) => specialise!(Some(act), apply, |f| for v in row.iter_mut() {
                    *v = f(*v);
                }),
                (None, None) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::backend::{conv_transpose2d_then_unfused, Activation, Backend, BatchNormParams};
    use crate::candle_backend::CandleBackend;
    use candle_core::{Device, Result, Tensor, Var};

    fn rand(shape: &[usize], seed: u64, scale: f32, shift: f32) -> Result<Tensor> {
        let v = crate::sample::latents(seed, shape.iter().product(), 1);
        let v = v.into_iter().map(|x| x * scale + shift).collect::<Vec<_>>();
        Tensor::from_vec(v, shape, &Device::Cpu)
    }

    fn bits(t: &Tensor) -> Result<Vec<u32>> {
        Ok(t.flatten_all()?
            .to_vec1::<f32>()?
            .iter()
            .map(|v| v.to_bits())
            .collect())
    }

    /// A render's transposed convolution with its bias, BatchNorm and activation fused into
    /// col2im's pass has the bits of the three ops run one after the other, on one sample and
    /// on several parts of samples (one sample's columns are 1 MiB here), for each
    /// combination; with tracked weights the call succeeds, unfused.
    #[test]
    fn fused_render_has_the_bits_of_the_ops() -> crate::Result<()> {
        let be = CandleBackend::cpu();
        let (i, o) = (64, 64);
        let x = rand(&[3, i, 16, 16], 61, 1.0, 0.0)?;
        let w = rand(&[i, o, 4, 4], 62, 0.05, 0.0)?;
        let b = rand(&[o], 63, 0.5, 0.0)?;
        let bn = BatchNormParams {
            weight: rand(&[o], 64, 0.5, 1.0)?,
            bias: rand(&[o], 65, 0.5, 0.0)?,
            running_mean: rand(&[o], 66, 0.3, 0.1)?,
            running_var: rand(&[o], 67, 0.2, 1.0)?,
        };
        let acts = [
            None,
            Some(Activation::Relu),
            Some(Activation::LeakyRelu(0.2)),
            Some(Activation::Tanh),
            Some(Activation::Sigmoid),
        ];
        for x in [x.narrow(0, 0, 1)?, x.clone()] {
            for bias in [None, Some(&b)] {
                for p in [None, Some(&bn)] {
                    for act in acts {
                        let fused = be.conv_transpose2d_then(&x, &w, bias, (2, 1), p, act)?;
                        let ops = conv_transpose2d_then_unfused(&be, &x, &w, bias, (2, 1), p, act)?;
                        let what = format!("bias {} bn {} {act:?}", bias.is_some(), p.is_some());
                        assert_eq!(fused.dims(), [x.dim(0)?, o, 32, 32], "{what}");
                        assert!(
                            bits(&fused)? == bits(&ops)?,
                            "fused and unfused differ: {what}"
                        );
                    }
                }
            }
        }
        // tracked weights (training's forward, or sampling from a trainer) take the ops
        // unfused: a fused epilogue there would be refused (`ConvOp::apply_then`), not run
        let tracked = Var::from_tensor(&w)?;
        let y = be.conv_transpose2d_then(&x, tracked.as_tensor(), Some(&b), (2, 1), None, None)?;
        let ops = conv_transpose2d_then_unfused(&be, &x, &w, Some(&b), (2, 1), None, None)?;
        assert!(bits(&y)? == bits(&ops)?);
        Ok(())
    }
}
