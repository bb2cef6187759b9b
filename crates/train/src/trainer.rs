//! The training loop's state and one step: `d_steps` discriminator updates, then one
//! generator update (with the RPGAN diversity term), Adam on both, optional EMA.
//!
//! Everything random derives from `(seed, step)`, so a resumed run draws the same data
//! order, latents and paths as an uninterrupted one.

use crate::adam::Adam;
use crate::diversity::pair_term;
use crate::options::{Loss, TrainOptions};
use crate::spectral::SpectralSource;
use crate::store::ParamStore;
use crate::{Result, TrainError};
use candle_core::backprop::GradStore;
use candle_core::{Device, Tensor, Var, D};
use ganscope_data::Dataset;
use ganscope_model::candle_backend::CandleBackend;
use ganscope_model::config::{DNorm, DiscriminatorConfig, GeneratorConfig};
use ganscope_model::discriminator::Discriminator;
use ganscope_model::generator::Generator;
use ganscope_model::grouped::GradSink;
use ganscope_model::sample::{latents, random_paths};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Losses and timing of one step.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StepStats {
    /// Generator steps done after this one.
    pub step: u64,
    /// Discriminator loss (last D step).
    pub d_loss: f32,
    /// Generator adversarial loss.
    pub g_loss: f32,
    /// RPGAN diversity term (subtracted, scaled, from the generator loss).
    pub diversity: f32,
    /// WGAN-GP gradient penalty (before weighting).
    pub gp: f32,
    /// Interpretable training: the group loss's pull term (filters to their group's map).
    #[serde(default)]
    pub group_pull: f32,
    /// Interpretable training: the group loss's push term (overlap of different groups).
    #[serde(default)]
    pub group_push: f32,
    /// Wall-clock seconds of training so far.
    pub seconds: f64,
}

/// Step of the finite difference in the gradient penalty (see [`gp_surrogate`]): small
/// enough that a step rarely crosses an activation kink of the piecewise-linear
/// discriminator, large enough for f32 (round-off about 1e-4 relative).
pub const GP_H: f64 = 1e-3;

/// The gradient penalty `mean_i (|grad_x D(x_i)| - 1)^2` at random interpolates `x_i` of
/// `real` and `fake`, as a surrogate whose parameter gradient equals the penalty's: candle
/// 0.11 has no second-order autograd, so `d|g_i|/dθ = d/dθ [v_i · grad_x D(x_i)]` (v_i =
/// g_i/|g_i| held constant) is taken as the central difference
/// `d/dθ [(D(x_i + h v_i) - D(x_i - h v_i)) / 2h]`. The discriminator is piecewise linear,
/// so this is exact when no activation changes sign within `h`; a unit crossing its kink
/// contributes a local error (tested in f64 with a tiny `h` in `tests/gradients.rs`).
/// Returns (surrogate, penalty value).
pub fn gp_surrogate(
    d: &Discriminator<Tensor>,
    real: &Tensor,
    fake: &Tensor,
    seed: u64,
    h: f64,
) -> Result<(Tensor, f64)> {
    let be = CandleBackend {
        device: real.device().clone(),
        train: true,
        sink: None,
    };
    let n = real.dim(0)?;
    let mut rng = StdRng::seed_from_u64(seed);
    let eps: Vec<f32> = (0..n).map(|_| rng.random()).collect();
    let eps = Tensor::from_vec(eps, (n, 1, 1, 1), real.device())?.to_dtype(real.dtype())?;
    let xhat = (real.broadcast_mul(&eps)? + fake.broadcast_mul(&eps.affine(-1.0, 1.0)?)?)?.detach();
    let xv = Var::from_tensor(&xhat)?;
    let (dh, _) = d.forward(&be, xv.as_tensor())?; // [N, 1]
    let grads = dh.sum_all()?.backward()?;
    let g = grads
        .get(xv.as_tensor())
        .ok_or_else(|| TrainError::Options("no input gradient for the gradient penalty".into()))?
        .detach(); // [N, C, S, S]
    let norms = g.sqr()?.flatten_from(1)?.sum(D::Minus1)?.sqrt()?; // [N]
    let gp = norms
        .affine(1.0, -1.0)?
        .sqr()?
        .mean_all()?
        .to_dtype(candle_core::DType::F64)?
        .to_scalar::<f64>()?;
    let v = g.broadcast_div(&(norms.clone() + 1e-12)?.reshape((n, 1, 1, 1))?)?;
    let c = norms.affine(2.0, -2.0)?; // d(|g|-1)^2/d|g|, [N]
    let (dp, _) = d.forward(&be, &(&xhat + (&v * h)?)?)?;
    let (dm, _) = d.forward(&be, &(&xhat - (&v * h)?)?)?;
    let dirder = ((dp - dm)? / (2.0 * h))?.flatten_all()?; // [N]
    Ok(((dirder * c)?.mean_all()?, gp))
}

/// A training run in memory.
pub struct Trainer {
    /// The options.
    pub opts: TrainOptions,
    /// Generator architecture.
    pub gcfg: GeneratorConfig,
    /// Discriminator architecture.
    pub dcfg: DiscriminatorConfig,
    /// Device of every tensor.
    pub device: Device,
    /// Every variable.
    pub store: ParamStore,
    /// The generator (its tensors are the store's variables).
    pub g: Generator<Tensor>,
    /// Generator optimiser.
    pub adam_g: Adam,
    /// Discriminator optimiser.
    pub adam_d: Adam,
    /// EMA of the generator's trainable weights.
    pub ema: Option<BTreeMap<String, Tensor>>,
    /// Training images.
    pub data: Dataset,
    /// Generator steps done.
    pub step: u64,
    /// Seconds of training before this process.
    pub elapsed: f64,
    /// The last step's numbers.
    pub last: StepStats,
    /// Interpretable training: the current partition of the site's filters into groups.
    pub groups: Option<Vec<usize>>,
    perm: Option<(u64, Vec<usize>)>,
    /// The gradients that this trainer's forwards hand aside during a backward (the grouped
    /// buckets' parameters: [`GradSink`]), merged by [`Trainer::backward`].
    sink: GradSink,
}

/// The draw index of the generator step's fakes (D step k draws its fakes with index k).
pub const G_DRAW: u64 = 1000;
/// The draw index of the diversity term's block pairs.
pub const PAIRS_DRAW: u64 = 2000;
/// The draw index of the interpretable training's partition (k-means seeds).
pub const GROUPS_DRAW: u64 = 3000;

/// A seed for draw `k` of step `step`.
pub fn step_seed(seed: u64, step: u64, k: u64) -> u64 {
    crate::store::name_hash(&format!("{seed}/{step}/{k}"))
}

/// Data indices of batch `k` (a running index over epochs) of `batch` images out of `n`: each
/// epoch is a permutation seeded by `(seed, epoch)`; `perm` caches the current one.
pub fn epoch_batch(
    perm: &mut Option<(u64, Vec<usize>)>,
    seed: u64,
    n: usize,
    batch: usize,
    k: u64,
) -> Vec<usize> {
    let (n, b) = (n as u64, batch as u64);
    let mut idx = Vec::with_capacity(batch);
    for i in k * b..(k + 1) * b {
        let epoch = i / n;
        if perm.as_ref().map(|p| p.0) != Some(epoch) {
            let mut p: Vec<usize> = (0..n as usize).collect();
            p.shuffle(&mut StdRng::seed_from_u64(step_seed(seed, epoch, u64::MAX)));
            *perm = Some((epoch, p));
        }
        if let Some((_, p)) = perm {
            idx.push(p[(i % n) as usize]);
        }
    }
    idx
}

/// The device named by `--device`.
pub fn device(name: &str) -> Result<Device> {
    match name {
        "cpu" => Ok(Device::Cpu),
        "cuda" if cfg!(feature = "cuda") => Ok(Device::new_cuda(0)?),
        "cuda" => Err(TrainError::Options(
            "this build has no CUDA support; rebuild with `--features cuda`".into(),
        )),
        other => Err(TrainError::Options(format!(
            "unknown device `{other}` (use cpu or cuda)"
        ))),
    }
}

fn softplus(x: &Tensor) -> candle_core::Result<Tensor> {
    // log(1 + e^x) = max(x, 0) + log(1 + e^-|x|)
    x.relu()? + (x.abs()?.neg()?.exp()? + 1.0)?.log()?
}

impl Trainer {
    /// A fresh run: variables initialised from the seed.
    pub fn new(opts: TrainOptions, data: Dataset) -> Result<Self> {
        opts.validate().map_err(TrainError::Options)?;
        let gcfg = opts.generator()?;
        let dcfg = opts.discriminator()?;
        if let Some(io) = &opts.interpret {
            let sites = ganscope_model::generator::site_shapes(&gcfg);
            let Some((name, [c, ..])) = sites.get(io.site) else {
                return Err(TrainError::Options(format!(
                    "site b{} does not exist: the generator has sites b1..=b{}",
                    io.site + 1,
                    sites.len()
                )));
            };
            if io.groups > *c {
                return Err(TrainError::Options(format!(
                    "{} groups of site {name}, which has {c} filters",
                    io.groups
                )));
            }
        }
        if data.channels != gcfg.channels || data.size != gcfg.image_size {
            return Err(TrainError::Options(format!(
                "the data is {}x{}x{} but the model makes {}x{}x{}",
                data.channels,
                data.size,
                data.size,
                gcfg.channels,
                gcfg.image_size,
                gcfg.image_size
            )));
        }
        let device = device(&opts.device)?;
        let mut store = ParamStore::new(opts.seed, &device);
        if let Some(ext) = &opts.extend {
            store.freeze(ext.frozen_prefixes());
        }
        let g = Generator::new(&gcfg, &mut store)?;
        Discriminator::new(&dcfg, &mut SpectralSource::new(&mut store, &dcfg, false))?;
        if let Some(ext) = &opts.extend {
            crate::extend::load_extended(&mut store, ext)?;
        }
        let adam_g = Adam::new(store.trainable_with("g."), opts.lr, opts.beta1, opts.beta2)?;
        let lr_d = opts.lr_d.unwrap_or(opts.lr);
        let adam_d = Adam::new(store.trainable_with("d."), lr_d, opts.beta1, opts.beta2)?;
        let ema = match opts.ema {
            Some(_) => Some(
                store
                    .trainable_with("g.")
                    .into_iter()
                    .map(|(n, v)| Ok((n, v.as_tensor().copy()?)))
                    .collect::<candle_core::Result<_>>()?,
            ),
            None => None,
        };
        Ok(Trainer {
            opts,
            gcfg,
            dcfg,
            device,
            store,
            g,
            adam_g,
            adam_d,
            ema,
            data,
            step: 0,
            elapsed: 0.0,
            last: StepStats::default(),
            groups: None,
            perm: None,
            sink: GradSink::default(),
        })
    }

    /// Real images for D step `k` of step `step`: `[B, C, S, S]`.
    pub(crate) fn real_for(&mut self, step: u64, k: u64) -> Result<Tensor> {
        self.real_batch(step * self.opts.d_steps as u64 + k)
    }

    /// Real images for draw `k` (a running index over epochs): `[B, C, S, S]`.
    fn real_batch(&mut self, k: u64) -> Result<Tensor> {
        let idx = epoch_batch(
            &mut self.perm,
            self.opts.seed,
            self.data.len(),
            self.opts.batch,
            k,
        );
        let s = self.gcfg.image_size;
        Ok(Tensor::from_vec(
            self.data.batch(&idx),
            (idx.len(), self.gcfg.channels, s, s),
            &self.device,
        )?)
    }

    /// What a generator draw of `seed` feeds the generator: latents `[n, latent_dim]` on
    /// `device` (none for a constant input) and one path per sample.
    pub fn draw(
        &self,
        seed: u64,
        n: usize,
        device: &Device,
    ) -> Result<(Option<Tensor>, Vec<Vec<usize>>)> {
        let paths = random_paths(seed, n, &self.gcfg.blocks());
        let z = (!self.gcfg.constant_input)
            .then(|| {
                Tensor::from_vec(
                    latents(seed, n, self.gcfg.latent_dim),
                    (n, self.gcfg.latent_dim),
                    device,
                )
            })
            .transpose()?;
        Ok((z, paths))
    }

    /// The discriminator as a step uses it: with spectral norm, every weight after one power
    /// iteration (`update` stores the new vector, as a discriminator step does).
    pub fn discriminator(&mut self, update: bool) -> Result<Discriminator<Tensor>> {
        Ok(Discriminator::new(
            &self.dcfg,
            &mut SpectralSource::new(&mut self.store, &self.dcfg, update),
        )?)
    }

    /// The discriminator as a generator step uses it: every parameter detached, so the
    /// backward computes the gradient with respect to its input and none for its weights.
    pub fn detached_discriminator(&mut self) -> Result<Discriminator<Tensor>> {
        let mut source = SpectralSource {
            detached: true,
            ..SpectralSource::new(&mut self.store, &self.dcfg, false)
        };
        Ok(Discriminator::new(&self.dcfg, &mut source)?)
    }

    /// The backend of this trainer's forwards (`train`: BatchNorm on batch statistics), with
    /// its sink: a backward of anything it computes must go through [`Trainer::backward`], or
    /// an RPGAN's blocks get no gradient.
    pub fn backend(&self, train: bool) -> CandleBackend {
        CandleBackend {
            device: self.device.clone(),
            train,
            sink: Some(self.sink.clone()),
        }
    }

    /// Generated images for a seed, in training mode: `[B, C, S, S]` ([`Trainer::backend`]:
    /// their backward goes through [`Trainer::backward`]).
    pub fn fake(&self, seed: u64, n: usize, train: bool) -> Result<Tensor> {
        Ok(self.fake_observed(seed, n, train, None)?.0)
    }

    /// Generated images `[B, C, S, S]` and the activation at `site` (bucket index).
    pub fn fake_observed(
        &self,
        seed: u64,
        n: usize,
        train: bool,
        site: Option<usize>,
    ) -> Result<(Tensor, Option<Tensor>)> {
        let be = self.backend(train);
        let (z, paths) = self.draw(seed, n, &self.device)?;
        let mut seen = None;
        let y = self.g.forward(&be, z.as_ref(), &paths, &mut |i, x| {
            if Some(i) == site {
                seen = Some(x.clone());
            }
            Ok(x)
        })?;
        Ok((y, seen))
    }

    fn d_losses(&self, dr: &Tensor, df: &Tensor) -> candle_core::Result<Tensor> {
        match self.opts.loss {
            Loss::Hinge => {
                dr.affine(-1.0, 1.0)?.relu()?.mean_all()?
                    + df.affine(1.0, 1.0)?.relu()?.mean_all()?
            }
            Loss::Ns => softplus(&dr.neg()?)?.mean_all()? + softplus(df)?.mean_all()?,
            Loss::WganGp => df.mean_all()? - dr.mean_all()?,
        }
    }

    /// The diversity term's random pair of blocks of each bucket (`None` for a bucket of one
    /// block).
    pub fn diversity_pairs(&self, seed: u64) -> Vec<Option<(usize, usize)>> {
        let mut rng = StdRng::seed_from_u64(seed);
        self.gcfg
            .buckets
            .iter()
            .map(|bc| {
                (bc.blocks >= 2).then(|| {
                    let i = rng.random_range(0..bc.blocks);
                    (i, (i + rng.random_range(1..bc.blocks)) % bc.blocks)
                })
            })
            .collect()
    }

    /// The diversity term for one random pair of blocks per bucket (see [`crate::diversity`]).
    pub fn diversity_term(&self, seed: u64) -> Result<Option<Tensor>> {
        let mut buckets = Vec::new();
        for (bi, pair) in self.diversity_pairs(seed).into_iter().enumerate() {
            let Some((i, j)) = pair else { continue };
            let (pi, pj) = (
                format!("g.bucket{}.block{i}.", bi + 1),
                format!("g.bucket{}.block{j}.", bi + 1),
            );
            let mut terms = Vec::new();
            // frozen blocks (incremental learning) count too: new blocks must differ from them
            for name in self
                .store
                .trainable
                .iter()
                .chain(&self.store.frozen)
                .filter(|n| n.starts_with(&pi) && !n.contains(".bn"))
            {
                let other = name.replacen(&pi, &pj, 1);
                if let (Some(a), Some(b)) = (self.store.vars.get(name), self.store.vars.get(&other))
                {
                    terms.push(pair_term(a.as_tensor(), b.as_tensor())?);
                }
            }
            if !terms.is_empty() {
                buckets.push(Tensor::stack(&terms, 0)?.mean_all()?);
            }
        }
        Ok(if buckets.is_empty() {
            None
        } else {
            Some(Tensor::stack(&buckets, 0)?.mean_all()?)
        })
    }

    /// The gradients of `loss`, a function of this trainer's training-mode forwards: the
    /// backward, with the gradients that the grouped buckets handed to the sink merged in
    /// ([`GradSink`]).
    pub fn backward(&self, loss: &Tensor) -> Result<GradStore> {
        self.sink.clear();
        let mut grads = loss.backward()?;
        self.sink.merge_into(&mut grads)?;
        Ok(grads)
    }

    /// One generator step (after `d_steps` discriminator steps).
    pub fn train_step(&mut self) -> Result<StepStats> {
        let t0 = std::time::Instant::now();
        let be = self.backend(true);
        let (seed, step, b) = (self.opts.seed, self.step, self.opts.batch);
        let mut stats = StepStats {
            step: step + 1,
            ..StepStats::default()
        };
        for k in 0..self.opts.d_steps as u64 {
            let real = self.real_for(step, k)?; // [B, C, S, S]
            let fake = self.fake(step_seed(seed, step, k), b, true)?.detach(); // [B, C, S, S]
            let d = self.discriminator(true)?;
            let (dr, df) = match self.dcfg.norm {
                // one batch of both
                DNorm::Spectral => {
                    let (logits, _) = d.forward(&be, &Tensor::cat(&[&real, &fake], 0)?)?; // [2B, 1]
                    (logits.narrow(0, 0, b)?, logits.narrow(0, b, b)?)
                }
                // BatchNorm: real and fake as batches of their own, as DCGAN trains
                DNorm::Batch => (d.forward(&be, &real)?.0, d.forward(&be, &fake)?.0), // [B, 1]
            };
            let mut loss = self.d_losses(&dr, &df)?;
            stats.d_loss = loss.to_scalar::<f32>()?;
            if self.opts.loss == Loss::WganGp {
                let (sur, gp) =
                    gp_surrogate(&d, &real, &fake, step_seed(seed, step, 100 + k), GP_H)?;
                loss = (loss + (sur * self.opts.gp_weight)?)?;
                stats.gp = gp as f32;
                stats.d_loss += (self.opts.gp_weight * gp) as f32;
            }
            if !stats.d_loss.is_finite() {
                return Err(TrainError::NonFinite {
                    step: step + 1,
                    what: "discriminator loss",
                });
            }
            self.adam_d.step(&self.backward(&loss)?)?;
        }
        let site = self.opts.interpret.as_ref().map(|i| i.site);
        let (fake, act) = self.fake_observed(step_seed(seed, step, G_DRAW), b, true, site)?; // [B, C, S, S]
        let (df, _) = self.detached_discriminator()?.forward(&be, &fake)?; // [B, 1]
        let adv = match self.opts.loss {
            Loss::Hinge | Loss::WganGp => df.mean_all()?.neg()?,
            Loss::Ns => softplus(&df.neg()?)?.mean_all()?,
        };
        stats.g_loss = adv.to_scalar::<f32>()?;
        let mut loss = adv;
        if self.opts.diversity > 0.0 {
            if let Some(div) = self.diversity_term(step_seed(seed, step, PAIRS_DRAW))? {
                stats.diversity = div.to_scalar::<f32>()?;
                loss = (loss - (div * self.opts.diversity)?)?;
            }
        }
        if let (Some(io), Some(act)) = (&self.opts.interpret, act) {
            if self.groups.is_none() || step % io.every.max(1) == 0 {
                let seed = step_seed(seed, step, GROUPS_DRAW);
                self.groups = Some(crate::interpret::partition(&act, io.groups, seed)?);
            }
            if let Some(labels) = &self.groups {
                let (gl, pull, push) =
                    crate::interpret::group_loss(&act, labels, io.groups, io.exclusive)?;
                (stats.group_pull, stats.group_push) = (pull, push);
                loss = (loss + (gl * io.weight)?)?;
            }
        }
        if !stats.g_loss.is_finite() || !stats.diversity.is_finite() {
            return Err(TrainError::NonFinite {
                step: step + 1,
                what: "generator loss",
            });
        }
        self.adam_g.step(&self.backward(&loss)?)?;
        if let (Some(ema), Some(decay)) = (&mut self.ema, self.opts.ema) {
            for (name, var) in self.store.trainable_with("g.") {
                if let Some(e) = ema.get_mut(&name) {
                    *e = ((&*e * decay)? + (var.as_tensor() * (1.0 - decay))?)?;
                }
            }
        }
        self.step += 1;
        self.elapsed += t0.elapsed().as_secs_f64();
        stats.seconds = self.elapsed;
        self.last = stats;
        Ok(stats)
    }
}
