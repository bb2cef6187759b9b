//! Artifact units (GAN Dissection sec. 4.2, S-6.1) and the RPGAN paper's noise-injection
//! baseline (appendix B), both for standard generators.
//!
//! Artifact units: each unit of a site is scored by the discriminator's mean realism score
//! on its top-activating samples (the tenth of the sample where the unit's peak is
//! highest); the `ablate` lowest-scoring units are ablated everywhere and the quality (FD of
//! classifier features against real images) compared with ablating as many random units
//! and with no ablation.
//!
//! Noise injection: a copy of the model whose one layer's weights get Gaussian noise of
//! `std` times that weight tensor's own standard deviation.

use candle_core::Tensor;
use ganscope_model::candle_backend::{load_candle, CandleBackend};
use ganscope_model::discriminator::Discriminator;
use ganscope_model::format::{to_bytes, ModelFile, NamedTensor};
use ganscope_model::generator::site_name;
use ganscope_model::intervention::{Interventions, PerUnit, UnitEdit};
use rand::rngs::StdRng;
use rand::seq::index::sample as pick;
use rand::SeedableRng;
use rand_distr::{Distribution, Normal};
use serde::Serialize;

use crate::dissect::{sample, unit_stats};
use crate::metrics::{frechet, Features};
use crate::renderer::Renderer;
use crate::{opts, Result};

/// A model file's discriminator on candle: the realism score of images.
pub struct Critic {
    d: Discriminator<Tensor>,
    b: CandleBackend,
}

impl Critic {
    /// The discriminator of a model file, if it carries one.
    pub fn load(bytes: &[u8]) -> Result<Option<Critic>> {
        let b = CandleBackend::cpu();
        let m = load_candle(bytes, &b.device)?;
        Ok(m.discriminator.map(|d| Critic { d, b }))
    }

    /// The discriminator's logit for each of `n` `[C, S, S]` images.
    pub fn scores(&self, images: &[f32], n: usize) -> Result<Vec<f32>> {
        let per = images.len() / n.max(1);
        let mut out = Vec::with_capacity(n);
        for a in (0..n).step_by(256) {
            let b = (a + 256).min(n);
            let side = ((per / self.d.config.channels) as f64).sqrt() as usize;
            let x = Tensor::from_vec(
                images[a * per..b * per].to_vec(),
                (b - a, self.d.config.channels, side, side),
                &self.b.device,
            )?; // [n, C, S, S]
            let (logits, _) = self.d.forward(&self.b, &x)?; // [n, 1]
            out.extend(logits.flatten_all()?.to_vec1::<f32>()?);
        }
        Ok(out)
    }
}

/// What ablating artifact units does to quality.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Artifacts {
    /// Site index.
    pub site: usize,
    /// Each unit's mean realism score on its top-activating samples.
    pub scores: Vec<f32>,
    /// The lowest-scoring units, worst first.
    pub worst: Vec<usize>,
    /// The random units ablated for comparison.
    pub random: Vec<usize>,
    /// FD to the real features with no ablation.
    pub fd_base: f64,
    /// FD with the worst units ablated.
    pub fd_worst: f64,
    /// FD with the random units ablated.
    pub fd_random: f64,
    /// Samples per FD.
    pub samples: usize,
}

/// Checks the number of units to ablate against the site (before any work).
pub fn check_ablate(
    cfg: &ganscope_model::config::GeneratorConfig,
    site: usize,
    ablate: usize,
) -> Result<()> {
    let c = ganscope_model::generator::site_shapes(cfg)
        .get(site)
        .ok_or_else(|| opts(format!("site index {site}")))?
        .1[0];
    if ablate == 0 || 2 * ablate > c {
        return Err(opts(format!(
            "ablating {ablate} units of a site with {c}: use 1..={}",
            c / 2
        )));
    }
    Ok(())
}

/// Finds the `ablate` artifact units of `site` over `n` samples and measures the quality of
/// ablating them against `real` features (`[m, features.dim()]`).
#[allow(clippy::too_many_arguments)]
pub async fn artifact_units(
    r: &mut dyn Renderer,
    critic: &Critic,
    features: &dyn Features,
    real: &[f32],
    site: usize,
    ablate: usize,
    n: usize,
    seed: u64,
) -> Result<Artifacts> {
    check_ablate(r.config(), site, ablate)?;
    let s = sample(r, site, n, seed, &Interventions::default()).await?;
    let c = s.shape[0];
    let realism = critic.scores(&s.frames.images, n)?;
    let top = (n / 10).max(1);
    let scores: Vec<f32> = unit_stats(&s, top, 0.99)
        .iter()
        .map(|u| u.top.iter().map(|&i| realism[i]).sum::<f32>() / top as f32)
        .collect();
    let mut order: Vec<usize> = (0..c).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let worst = order[..ablate].to_vec();
    let mut rng = StdRng::seed_from_u64(seed ^ 0xa11);
    let random = pick(&mut rng, c, ablate).into_vec();
    let d = features.dim();
    // FD with nothing, the worst units and random units ablated
    let mut fds = [0.0; 3];
    for (k, units) in [&[][..], &worst[..], &random[..]].into_iter().enumerate() {
        let iv = Interventions {
            edits: if units.is_empty() {
                vec![]
            } else {
                vec![UnitEdit {
                    site: site_name(site),
                    units: units.to_vec(),
                    strength: PerUnit::All(1.0),
                    value: PerUnit::All(0.0),
                    region: None,
                }]
            },
            ..Default::default()
        };
        let g = sample(r, site, n, seed.wrapping_add(1), &iv).await?;
        fds[k] = frechet(real, &features.features(&g.frames.images, n)?, d)?;
    }
    let [fd_base, fd_worst, fd_random] = fds;
    Ok(Artifacts {
        site,
        fd_base,
        fd_worst,
        fd_random,
        scores,
        worst,
        random,
        samples: n,
    })
}

/// The model file `bytes` with Gaussian noise added to the weights of layer group `bucket`
/// (every `.weight` tensor under `g.bucket{bucket+1}.`): `w + std * sd(w) * N(0, 1)`.
pub fn inject_noise(bytes: &[u8], bucket: usize, std: f32, seed: u64) -> Result<Vec<u8>> {
    let file = ModelFile::parse(bytes)?;
    if !(std.is_finite() && std >= 0.0) {
        return Err(opts(format!("a noise std of {std}")));
    }
    let prefix = format!("g.bucket{}.", bucket + 1);
    let mut rng = StdRng::seed_from_u64(seed);
    let normal = Normal::new(0.0f32, 1.0).map_err(|e| opts(e.to_string()))?;
    let mut hit = false;
    let mut tensors: Vec<NamedTensor> = Vec::with_capacity(file.tensors.len());
    for (name, raw) in &file.tensors {
        let mut data = file.data(name)?;
        if name.starts_with(&prefix) && name.ends_with(".weight") && !name.contains(".bn") {
            hit = true;
            let m = data.iter().sum::<f32>() / data.len().max(1) as f32;
            let sd = (data.iter().map(|v| (v - m).powi(2)).sum::<f32>() / data.len().max(1) as f32)
                .sqrt();
            for v in &mut data {
                *v += std * sd * normal.sample(&mut rng);
            }
        }
        tensors.push((name.clone(), raw.shape.clone(), data));
    }
    if !hit {
        return Err(opts(format!("the model has no weights under {prefix}")));
    }
    Ok(to_bytes(&file.meta, &tensors, false)?)
}
