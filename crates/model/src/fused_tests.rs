//! The fused ops against candle's own ops (`candle_backend::{batch_norm_ops,
//! activation_ops}`): outputs, every gradient and the running statistics, on seeded random
//! tensors of odd shapes, for every activation.

use crate::backend::{Activation, Backend, BatchNormParams};
use crate::candle_backend::{activation_ops, batch_norm_ops, CandleBackend};
use crate::Result;
use candle_core::{Device, Tensor, Var};

fn rand(shape: &[usize], seed: u64, scale: f32, shift: f32) -> Tensor {
    let v: Vec<f32> = crate::sample::latents(seed, shape.iter().product(), 1)
        .into_iter()
        .map(|x| x * scale + shift)
        .collect();
    Tensor::from_vec(v, shape, &Device::Cpu).expect("tensor")
}

fn max_diff(a: &Tensor, b: &Tensor) -> f32 {
    assert_eq!(a.dims(), b.dims());
    (a - b)
        .and_then(|d| d.abs()?.flatten_all()?.max(0)?.to_scalar::<f32>())
        .expect("diff")
}

const ACTS: [Option<Activation>; 5] = [
    None,
    Some(Activation::Relu),
    Some(Activation::LeakyRelu(0.2)),
    Some(Activation::Tanh),
    Some(Activation::Sigmoid),
];

fn params(c: usize, seed: u64) -> Result<BatchNormParams<Tensor>> {
    Ok(BatchNormParams {
        weight: Var::from_tensor(&rand(&[c], seed, 0.5, 1.0))?
            .as_tensor()
            .clone(),
        bias: Var::from_tensor(&rand(&[c], seed + 1, 0.5, 0.0))?
            .as_tensor()
            .clone(),
        running_mean: Var::from_tensor(&rand(&[c], seed + 2, 0.3, 0.1))?
            .as_tensor()
            .clone(),
        running_var: Var::from_tensor(&rand(&[c], seed + 3, 0.2, 1.0))?
            .as_tensor()
            .clone(),
    })
}

fn copy(p: &BatchNormParams<Tensor>) -> Result<BatchNormParams<Tensor>> {
    let v =
        |t: &Tensor| -> Result<Tensor> { Ok(Var::from_tensor(&t.copy()?)?.as_tensor().clone()) };
    Ok(BatchNormParams {
        weight: v(&p.weight)?,
        bias: v(&p.bias)?,
        running_mean: v(&p.running_mean)?,
        running_var: v(&p.running_var)?,
    })
}

/// BatchNorm then each activation, training and inference: the same output, gradients of
/// x, weight and bias, and running statistics as candle's ops.
#[test]
fn batch_norm_matches_candle_ops() -> Result<()> {
    for (shape, seed) in [
        ([3usize, 5, 7, 9], 1u64),
        ([2, 4, 1, 1], 2),
        ([4, 3, 4, 4], 3),
    ] {
        for train in [true, false] {
            for act in ACTS {
                let x = Var::from_tensor(&rand(&shape, seed, 2.0, 0.7))?;
                let ours = params(shape[1], seed + 10)?;
                let theirs = copy(&ours)?;
                let be = CandleBackend {
                    device: Device::Cpu,
                    train,
                    sink: None,
                };
                let y1 = match act {
                    Some(a) => be.batch_norm_act(&x, &ours, a)?,
                    None => be.batch_norm(&x, &ours)?,
                };
                let h = batch_norm_ops(&x, &theirs, train)?;
                let y2 = match act {
                    Some(a) => activation_ops(&h, a)?,
                    None => h,
                };
                let what = format!("{shape:?} train {train} {act:?}");
                assert!(max_diff(&y1, &y2) < 1e-5, "forward {what}");
                for (a, b) in [
                    (&ours.running_mean, &theirs.running_mean),
                    (&ours.running_var, &theirs.running_var),
                ] {
                    assert!(max_diff(a, b) < 1e-6, "running statistics {what}");
                }
                let r = rand(&shape, seed + 20, 1.0, 0.0);
                let (g1, g2) = (
                    (y1 * &r)?.sum_all()?.backward()?,
                    (y2 * &r)?.sum_all()?.backward()?,
                );
                for (a, b) in [
                    (x.as_tensor(), x.as_tensor()),
                    (&ours.weight, &theirs.weight),
                    (&ours.bias, &theirs.bias),
                ] {
                    let (da, db) = (g1.get(a).expect("grad"), g2.get(b).expect("grad"));
                    let tol = 1e-4
                        * (1.0
                            + db.abs()?
                                .max_keepdim(0)?
                                .flatten_all()?
                                .max(0)?
                                .to_scalar::<f32>()?);
                    assert!(max_diff(da, db) < tol, "gradient {what}");
                }
            }
        }
    }
    Ok(())
}

/// A bias added per channel, on `[N, C, H, W]` and `[N, C]`, and each activation alone:
/// the same output and gradients as candle's ops.
#[test]
fn bias_and_activations_match_candle_ops() -> Result<()> {
    let be = CandleBackend::cpu();
    for (shape, seed) in [(vec![3usize, 5, 6, 7], 4u64), (vec![5, 11], 5)] {
        let x = Var::from_tensor(&rand(&shape, seed, 1.5, 0.0))?;
        let w = Var::from_tensor(&rand(&[shape[1], shape[1]], seed + 1, 0.3, 0.0))?;
        let b = Var::from_tensor(&rand(&[shape[1]], seed + 2, 1.0, 0.0))?;
        let ours = if shape.len() == 2 {
            be.linear(&x, &w, Some(&b))?
        } else {
            be.conv2d(&x, &w.reshape((shape[1], shape[1], 1, 1))?, Some(&b), 1, 0)?
        };
        let mut bshape = vec![1; shape.len()];
        bshape[1] = shape[1];
        let plain = if shape.len() == 2 {
            be.linear(&x, &w, None)?
        } else {
            be.conv2d(&x, &w.reshape((shape[1], shape[1], 1, 1))?, None, 1, 0)?
        };
        let theirs = plain.broadcast_add(&b.reshape(bshape)?)?;
        assert!(max_diff(&ours, &theirs) < 1e-5, "bias forward {shape:?}");
        for act in ACTS.into_iter().flatten() {
            let y1 = be.activation(&ours, act)?;
            let y2 = activation_ops(&theirs, act)?;
            assert!(max_diff(&y1, &y2) < 1e-5, "{act:?} forward {shape:?}");
            let r = rand(y1.dims(), seed + 3, 1.0, 0.0);
            let (g1, g2) = (
                (y1 * &r)?.sum_all()?.backward()?,
                (y2 * &r)?.sum_all()?.backward()?,
            );
            for v in [x.as_tensor(), w.as_tensor(), b.as_tensor()] {
                let (da, db) = (g1.get(v).expect("grad"), g2.get(v).expect("grad"));
                assert!(max_diff(da, db) < 1e-4, "{act:?} gradient {shape:?}");
            }
        }
    }
    Ok(())
}
