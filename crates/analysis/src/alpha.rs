//! GAN Dissection eq. 6 on the candle backend (it has gradients): the per-unit insertion
//! strengths `alpha in [0, 1]^C` that best turn a concept on,
//! `alpha* = argmin -delta(alpha) + lambda |alpha|^2`, with
//! `delta = E[s_c(x_insert(alpha))] - E[s_c(x_ablate(alpha))]`, where insertion sets
//! `r' = (1 - alpha) r + alpha k` and ablation `r' = (1 - alpha) r` at every cell of the site.
//!
//! The rule segmenter's stroke mask is a hard threshold; here it is relaxed to
//! `sigmoid((brightest channel - threshold) / temperature)` so the share has a gradient.
//! The optimiser is Adam, projected onto [0, 1] after each step; each step draws a fresh
//! batch of samples.

use candle_core::{Tensor, Var};
use ganscope_model::candle_backend::CandleBackend;
use ganscope_model::generator::Generator;
use ganscope_model::sample::{latents, random_paths};
use serde::Serialize;

use crate::{opts, Result};

/// The two concepts with a soft version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum SoftConcept {
    /// Pixels brighter than the threshold.
    Stroke,
    /// The rest.
    Background,
}

/// Settings of the optimisation.
#[derive(Clone, Debug)]
pub struct AlphaOptions {
    /// Adam steps.
    pub steps: usize,
    /// Samples per step.
    pub batch: usize,
    /// Learning rate.
    pub lr: f64,
    /// Weight of the L2 penalty on alpha.
    pub lambda: f64,
    /// Stroke threshold in [-1, 1] (the rule segmenter's).
    pub threshold: f64,
    /// Softness of the relaxed mask.
    pub temperature: f64,
    /// Seed of the samples.
    pub seed: u64,
}

impl Default for AlphaOptions {
    fn default() -> Self {
        AlphaOptions {
            steps: 60,
            batch: 16,
            lr: 0.05,
            lambda: 0.01,
            threshold: 0.0,
            temperature: 0.1,
            seed: 0,
        }
    }
}

/// The optimised strengths and the objective along the way.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AlphaResult {
    /// `[C]` strengths in [0, 1].
    pub alpha: Vec<f32>,
    /// `delta` (soft) at each step.
    pub delta: Vec<f32>,
}

fn sigmoid(x: &Tensor) -> candle_core::Result<Tensor> {
    ((x * 0.5)?.tanh()? + 1.0)? * 0.5
}

/// Optimises eq. 6 for `concept` at `site` with insertion values `values` (one per unit).
pub fn optimise_alpha(
    g: &Generator<Tensor>,
    site: usize,
    values: &[f32],
    concept: SoftConcept,
    o: &AlphaOptions,
) -> Result<AlphaResult> {
    let cfg = &g.config;
    let shapes = ganscope_model::generator::site_shapes(cfg);
    let c = shapes
        .get(site)
        .ok_or_else(|| opts(format!("site index {site}")))?
        .1[0];
    if values.len() != c {
        return Err(opts(format!(
            "{} insertion values for {c} units",
            values.len()
        )));
    }
    if o.batch == 0 || o.temperature <= 0.0 {
        return Err(opts(
            "alpha optimisation needs a batch and a positive temperature",
        ));
    }
    let b = CandleBackend::cpu();
    let dev = &b.device;
    let alpha = Var::from_tensor(&Tensor::full(0.5f32, (1, c, 1, 1), dev)?)?; // [1, C, 1, 1]
    let k = Tensor::from_vec(values.to_vec(), (1, c, 1, 1), dev)?; // [1, C, 1, 1]
    let (mut m, mut v) = (vec![0f64; c], vec![0f64; c]);
    let (b1, b2) = (0.9f64, 0.999f64);
    let mut delta = Vec::with_capacity(o.steps);
    for step in 0..o.steps {
        let seed = o.seed.wrapping_add(step as u64);
        let paths = random_paths(seed, o.batch, &cfg.blocks());
        let z = match g.constant {
            Some(_) => None,
            None => Some(Tensor::from_vec(
                latents(seed, o.batch, cfg.latent_dim),
                (o.batch, cfg.latent_dim),
                dev,
            )?),
        };
        let share = |insert: bool| -> Result<Tensor> {
            let a = alpha.as_tensor();
            let mut hook = |s: usize, x: Tensor| -> ganscope_model::Result<Tensor> {
                if s != site {
                    return Ok(x);
                }
                let kept = x.broadcast_mul(&(1.0 - a)?)?; // [N, C, H, W]
                Ok(if insert {
                    kept.broadcast_add(&a.broadcast_mul(&k)?)?
                } else {
                    kept
                })
            };
            let y = g.forward(&b, z.as_ref(), &paths, &mut hook)?; // [N, C, S, S]
            let bright = y.max_keepdim(1)?; // [N, 1, S, S]
            let soft = sigmoid(&((bright - o.threshold)? / o.temperature)?)?;
            let soft = match concept {
                SoftConcept::Stroke => soft,
                SoftConcept::Background => (1.0 - soft)?,
            };
            Ok(soft.mean_all()?)
        };
        let d = (share(true)? - share(false)?)?; // scalar
        let penalty = (alpha.as_tensor().sqr()?.sum_all()? * o.lambda)?;
        let loss = (penalty - &d)?;
        delta.push(d.to_scalar::<f32>()?);
        let grads = loss.backward()?;
        let gr = grads
            .get(alpha.as_tensor())
            .ok_or_else(|| opts("no gradient reached alpha"))?
            .flatten_all()?
            .to_vec1::<f32>()?;
        let mut a = alpha.as_tensor().flatten_all()?.to_vec1::<f32>()?;
        let t = (step + 1) as i32;
        for i in 0..c {
            let gi = f64::from(gr[i]);
            m[i] = b1 * m[i] + (1.0 - b1) * gi;
            v[i] = b2 * v[i] + (1.0 - b2) * gi * gi;
            let (mh, vh) = (m[i] / (1.0 - b1.powi(t)), v[i] / (1.0 - b2.powi(t)));
            a[i] = (f64::from(a[i]) - o.lr * mh / (vh.sqrt() + 1e-8)).clamp(0.0, 1.0) as f32;
        }
        alpha.set(&Tensor::from_vec(a, (1, c, 1, 1), dev)?)?;
    }
    Ok(AlphaResult {
        alpha: alpha.as_tensor().flatten_all()?.to_vec1::<f32>()?,
        delta,
    })
}
