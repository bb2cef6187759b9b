//! The RPGAN block-diversity loss (Voynov & Babenko, RPGAN sec. 3.2).
//!
//! For every parameter w with instances w(1..m) across a bucket's blocks, the paper
//! subtracts the mean over i != j of MSE(w(i), w(j)) / s_w (s_w the std of all instances)
//! from the generator loss. [`pair_term`] is the authors' cheap variant used in training:
//! each step one random pair per bucket, standardised by the pair's joint mean/std, a pair
//! term above the margin (1.5) not counted. [`full_term`] is the paper's formula. Gradients
//! flow through s too: both terms are the exact derivative of what they compute.

use candle_core::{Result, Tensor};

/// Margin above which a pair is diverse enough and contributes nothing.
pub const MARGIN: f64 = 1.5;

fn joint_std(parts: &[&Tensor]) -> Result<Tensor> {
    let all = Tensor::cat(
        &parts
            .iter()
            .map(|t| t.flatten_all())
            .collect::<Result<Vec<_>>>()?,
        0,
    )?;
    let mean = all.mean_all()?;
    let var = all.broadcast_sub(&mean)?.sqr()?.mean_all()?;
    (var + 1e-8)?.sqrt()
}

/// `MSE(a, b) / s^2` with s the joint std of a and b (the MSE of the jointly standardised
/// pair, so the term is scale-invariant); 0 when above [`MARGIN`].
pub fn pair_term(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    let s = joint_std(&[a, b])?;
    let mse = (a - b)?.sqr()?.mean_all()?.broadcast_div(&s.sqr()?)?;
    if mse.to_dtype(candle_core::DType::F64)?.to_scalar::<f64>()? > MARGIN {
        return mse.zeros_like();
    }
    Ok(mse)
}

/// The paper's term: mean over ordered pairs i != j of MSE(w_i, w_j) / s_w.
pub fn full_term(ws: &[Tensor]) -> Result<Tensor> {
    let refs: Vec<&Tensor> = ws.iter().collect();
    let s = joint_std(&refs)?;
    let mut terms = Vec::new();
    for i in 0..ws.len() {
        for j in 0..ws.len() {
            if i != j {
                terms.push((&ws[i] - &ws[j])?.sqr()?.mean_all()?);
            }
        }
    }
    Tensor::stack(&terms, 0)?.mean_all()?.broadcast_div(&s)
}
