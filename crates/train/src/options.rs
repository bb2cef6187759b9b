//! Training options: what `ganscope train` was asked to do, stored in every checkpoint.

use ganscope_model::config::{DNorm, DiscriminatorConfig, Family, GeneratorConfig, Rpgan};
use serde::{Deserialize, Serialize};

/// The adversarial loss.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Loss {
    /// Hinge loss (Lim & Ye; Miyato et al.): the default.
    Hinge,
    /// Non-saturating loss (Goodfellow et al.).
    Ns,
    /// Wasserstein loss with gradient penalty (Gulrajani et al.).
    WganGp,
}

impl Loss {
    /// The loss's name.
    pub fn name(self) -> &'static str {
        match self {
            Loss::Hinge => "hinge",
            Loss::Ns => "ns",
            Loss::WganGp => "wgan-gp",
        }
    }
}

/// Incremental learning (RPGAN paper, sec. 4.3): a run that adds blocks to buckets of a
/// trained RPGAN and trains only them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Extension {
    /// The extended run's folder (absolute); its checkpoint gives the old blocks' weights.
    pub from: String,
    /// Blocks of each bucket in the extended run: blocks `0..old_blocks[i]` of bucket i are
    /// frozen, the ones after them are new and trained.
    pub old_blocks: Vec<usize>,
    /// Generator steps of the extended run.
    pub old_steps: u64,
    /// Seconds of training of the extended run.
    pub old_seconds: f64,
}

impl Extension {
    /// Name prefixes of the frozen generator parameters: the old blocks and the constant.
    pub fn frozen_prefixes(&self) -> Vec<String> {
        let mut p = vec!["g.z".to_string()];
        for (i, &m) in self.old_blocks.iter().enumerate() {
            p.extend((0..m).map(|j| format!("g.bucket{}.block{j}.", i + 1)));
        }
        p
    }
}

/// Parses class lists like `0-6`, `7,8,9` or `0-3,5`.
pub fn parse_classes(s: &str) -> Result<Vec<u32>, String> {
    let bad = || format!("`{s}` is not a class list (e.g. 0-6, or 7,8,9)");
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim) {
        let (a, b) = part.split_once('-').unwrap_or((part, part));
        let (a, b): (u32, u32) = (
            a.trim().parse().map_err(|_| bad())?,
            b.trim().parse().map_err(|_| bad())?,
        );
        if a > b || b > 1000 {
            return Err(bad());
        }
        out.extend(a..=b);
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

/// Every option of a training run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainOptions {
    /// `mnist:DIR`, `cifar10:DIR` or `folder:DIR`.
    pub data: String,
    /// Colored MNIST (random colour per digit).
    pub colored: bool,
    /// Use only the first N training images.
    pub limit: Option<usize>,
    /// Keep only the images of these classes (label indices, e.g. MNIST digits 0-6).
    #[serde(default)]
    pub classes: Option<Vec<u32>>,
    /// Incremental learning: the run this one extends with new blocks (its blocks frozen).
    #[serde(default)]
    pub extend: Option<Extension>,
    /// Interpretable training (Li et al.): the filters of one site learn groups.
    #[serde(default)]
    pub interpret: Option<crate::interpret::InterpretOptions>,
    /// Backbone.
    pub arch: Family,
    /// Image side.
    pub image_size: usize,
    /// Image channels.
    pub channels: usize,
    /// Generator width (see `GeneratorConfig::new`).
    pub width: usize,
    /// Discriminator width.
    pub d_width: usize,
    /// Discriminator normalisation (runs written before it was a choice: spectral).
    #[serde(default)]
    pub d_norm: DNorm,
    /// Latent size.
    pub latent_dim: usize,
    /// RPGAN buckets and blocks per bucket; `None` for a standard GAN.
    pub rpgan: Option<Rpgan>,
    /// RPGAN blocks of each bucket, when they differ (replaces `rpgan`'s count).
    #[serde(default)]
    pub blocks: Option<Vec<usize>>,
    /// Adversarial loss.
    pub loss: Loss,
    /// Generator steps in all.
    pub steps: u64,
    /// Batch size.
    pub batch: usize,
    /// Discriminator steps per generator step.
    pub d_steps: usize,
    /// Adam learning rate (the generator's, and the discriminator's unless `lr_d` is set).
    pub lr: f64,
    /// Discriminator learning rate (two time-scale training); `None`: `lr`.
    #[serde(default)]
    pub lr_d: Option<f64>,
    /// Adam beta1.
    pub beta1: f64,
    /// Adam beta2.
    pub beta2: f64,
    /// Decay of an exponential moving average of the generator weights (e.g. 0.999).
    pub ema: Option<f64>,
    /// Scale of the RPGAN diversity term (0 turns it off).
    pub diversity: f64,
    /// Weight of the WGAN-GP gradient penalty.
    pub gp_weight: f64,
    /// Seed of everything random (init, data order, latents, paths).
    pub seed: u64,
    /// Steps between checkpoints.
    pub checkpoint_every: u64,
    /// Steps between sample grids.
    pub sample_every: u64,
    /// Steps between metrics lines.
    pub log_every: u64,
    /// `cpu` or `cuda`.
    pub device: String,
}

/// The MNIST files that ship with the project: `./data/mnist` when run from the repository
/// root, else the copy next to this crate.
pub fn bundled_mnist() -> String {
    let local = std::path::Path::new("data/mnist");
    let dir = if local.exists() {
        local.to_path_buf()
    } else {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/mnist")
    };
    format!("mnist:{}", dir.display())
}

impl TrainOptions {
    /// Checks the optimiser and schedule numbers, and that the loss suits the discriminator
    /// normalisation (the architecture is checked by its config).
    pub fn validate(&self) -> Result<(), String> {
        let unit = |v: f64| v.is_finite() && (0.0..1.0).contains(&v);
        let positive = |v: f64| v.is_finite() && v > 0.0;
        if !positive(self.lr) || !self.lr_d.is_none_or(positive) {
            return Err("learning rates must be positive numbers".into());
        }
        if !unit(self.beta1) || !unit(self.beta2) {
            return Err(format!(
                "Adam betas must be in [0, 1), not {} and {}",
                self.beta1, self.beta2
            ));
        }
        if !self.ema.is_none_or(unit) {
            return Err("the EMA decay must be in [0, 1)".into());
        }
        let non_negative = |v: f64| v.is_finite() && v >= 0.0;
        if !(non_negative(self.diversity) && non_negative(self.gp_weight)) {
            return Err("--diversity and --gp-weight must be numbers >= 0".into());
        }
        if self.batch == 0 || self.d_steps == 0 {
            return Err("--batch and --d-steps must be at least 1".into());
        }
        if self.d_norm == DNorm::Batch && self.loss == Loss::WganGp {
            return Err(
                "the gradient penalty is per image, which BatchNorm's batch statistics \
                 break: use --d-norm spectral with --loss wgan-gp"
                    .into(),
            );
        }
        if let Some(io) = &self.interpret {
            if !(non_negative(io.weight) && non_negative(io.exclusive)) || io.every == 0 {
                return Err(
                    "--group-weight and --group-exclusive must be numbers >= 0, --group-every at least 1"
                        .into(),
                );
            }
            if io.groups < 2 {
                return Err("--groups must be at least 2".into());
            }
        }
        Ok(())
    }

    /// The generator architecture these options describe.
    pub fn generator(&self) -> ganscope_model::Result<GeneratorConfig> {
        let mut g = GeneratorConfig::new(
            self.arch,
            self.image_size,
            self.channels,
            self.width,
            self.rpgan,
        )?;
        g.latent_dim = self.latent_dim;
        if let Some(blocks) = &self.blocks {
            if blocks.len() != g.buckets.len() {
                return Err(ganscope_model::Error::InvalidConfig(format!(
                    "{} block counts for {} buckets",
                    blocks.len(),
                    g.buckets.len()
                )));
            }
            for (b, &m) in g.buckets.iter_mut().zip(blocks) {
                b.blocks = m;
            }
        }
        g.validate()?;
        Ok(g)
    }

    /// The discriminator normalisation a run gets when none is asked for: DCGAN's BatchNorm
    /// for a standard dcgan GAN under the hinge or non-saturating loss (with spectral norm it
    /// drew a few shapes on colored MNIST, `docs/training.md`), spectral norm otherwise
    /// (RPGANs, snresnet, and WGAN-GP, whose penalty BatchNorm breaks).
    pub fn default_d_norm(arch: Family, rpgan: bool, loss: Loss) -> DNorm {
        match (arch, rpgan, loss) {
            (Family::Dcgan, false, Loss::Hinge | Loss::Ns) => DNorm::Batch,
            _ => DNorm::Spectral,
        }
    }

    /// The discriminator architecture.
    pub fn discriminator(&self) -> ganscope_model::Result<DiscriminatorConfig> {
        let mut d =
            DiscriminatorConfig::new(self.arch, self.image_size, self.channels, self.d_width)?;
        d.norm = self.d_norm;
        d.validate()?;
        Ok(d)
    }
}

impl Default for TrainOptions {
    /// The CLI's defaults: a 32x32 dcgan standard GAN of width 32 (discriminator widths
    /// 32-64-128, spectrally normalised here; the CLI takes BatchNorm for a standard dcgan
    /// GAN under the hinge or non-saturating loss) on the bundled MNIST, hinge loss,
    /// Adam 2.5e-4 (0.5, 0.999), batch 64, 2000 steps, on the CPU.
    fn default() -> Self {
        TrainOptions {
            data: bundled_mnist(),
            colored: false,
            limit: None,
            classes: None,
            extend: None,
            interpret: None,
            arch: Family::Dcgan,
            image_size: 32,
            channels: 1,
            width: 32,
            d_width: 32,
            d_norm: DNorm::Spectral,
            latent_dim: 128,
            rpgan: None,
            blocks: None,
            loss: Loss::Hinge,
            steps: 2000,
            batch: 64,
            d_steps: 1,
            lr: 2.5e-4,
            lr_d: None,
            beta1: 0.5,
            beta2: 0.999,
            ema: None,
            diversity: 1.0,
            gp_weight: 10.0,
            seed: 0,
            checkpoint_every: 200,
            sample_every: 200,
            log_every: 10,
            device: "cpu".into(),
        }
    }
}

/// Every option of `ganscope classifier` (a digit classifier, the feature network of the
/// analysis crate), stored in the classifier file's metadata.
/// `Default` holds the defaults of the command line.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClassifierOptions {
    /// Training data: mnist:DIR, cifar10:DIR or folder:DIR (it needs a test split).
    /// Default: the MNIST files bundled in data/mnist.
    pub data: Option<String>,
    /// Randomly colored MNIST; the colours are drawn from seeds of their own (not the GANs'
    /// seed 0, and other ones for the test images), so colour tells nothing of the digit.
    pub colored: bool,
    /// Use only the first N training images.
    pub limit: Option<usize>,
    /// Evaluate on only the first N test images.
    pub test_limit: Option<usize>,
    /// Image side: 28, 32 or 64 (MNIST is padded to 32 by default).
    pub size: usize,
    /// Width: the dcgan discriminator's convs have w, 2w, 4w channels (at 32x32).
    pub width: usize,
    /// Steps in all.
    pub steps: u64,
    /// Batch size.
    pub batch: usize,
    /// Adam learning rate at the start (cosine decay to a twentieth of it at the end).
    pub lr: f64,
    /// Seed of the initial weights, the data order and the colours.
    pub seed: u64,
    /// cpu, or cuda (needs a build with --features cuda).
    pub device: String,
}

impl Default for ClassifierOptions {
    fn default() -> Self {
        ClassifierOptions {
            data: None,
            colored: false,
            limit: None,
            test_limit: None,
            size: 32,
            width: 16,
            steps: 3000,
            batch: 128,
            lr: 1e-3,
            seed: 1,
            device: "cpu".into(),
        }
    }
}

impl ClassifierOptions {
    /// The data source: `--data`, or the bundled MNIST.
    pub fn source(&self) -> String {
        self.data.clone().unwrap_or_else(bundled_mnist)
    }

    /// Image channels: 1 for plain MNIST, 3 for colored MNIST and other sources.
    pub fn channels(&self) -> usize {
        if self.source().starts_with("mnist:") && !self.colored {
            1
        } else {
            3
        }
    }

    /// Checks the numbers (the architecture is checked by its config).
    pub fn validate(&self) -> Result<(), String> {
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return Err("--lr must be a positive number".into());
        }
        if self.batch == 0 || self.steps == 0 {
            return Err("--batch and --steps must be at least 1".into());
        }
        if self.limit == Some(0) || self.test_limit == Some(0) {
            return Err("--limit and --test-limit must be at least 1".into());
        }
        Ok(())
    }
}
