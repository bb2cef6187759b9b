//! `ganscope train`: the training options from the command line, then a run with a
//! progress bar.

use anyhow::{bail, Context, Result};
use clap::Args;
use ganscope_model::config::{DNorm, Family, Rpgan};
use ganscope_train::extend::ExtendOn;
use ganscope_train::options::{bundled_mnist, Loss, TrainOptions};
use std::path::PathBuf;

/// The training defaults, shared with the library (`TrainOptions::default`).
static D: std::sync::LazyLock<TrainOptions> = std::sync::LazyLock::new(TrainOptions::default);

/// The adversarial loss (the library's [`Loss`], as a command-line value).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LossArg {
    /// Hinge loss (Lim & Ye; Miyato et al.): the default.
    Hinge,
    /// Non-saturating loss (Goodfellow et al.).
    Ns,
    /// Wasserstein loss with gradient penalty (Gulrajani et al.).
    WganGp,
}

impl From<Loss> for LossArg {
    fn from(l: Loss) -> Self {
        match l {
            Loss::Hinge => LossArg::Hinge,
            Loss::Ns => LossArg::Ns,
            Loss::WganGp => LossArg::WganGp,
        }
    }
}

impl From<LossArg> for Loss {
    fn from(l: LossArg) -> Self {
        match l {
            LossArg::Hinge => Loss::Hinge,
            LossArg::Ns => Loss::Ns,
            LossArg::WganGp => Loss::WganGp,
        }
    }
}

/// Which data an extension trains on (the library's [`ExtendOn`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ExtendOnArg {
    /// The extended run's data and the new data together.
    Union,
    /// The new data only.
    New,
}

impl From<ExtendOnArg> for ExtendOn {
    fn from(e: ExtendOnArg) -> Self {
        match e {
            ExtendOnArg::Union => ExtendOn::Union,
            ExtendOnArg::New => ExtendOn::New,
        }
    }
}

/// The options of `train` (and of `bench-train`).
#[derive(Args)]
pub struct TrainArgs {
    /// Training data: mnist:DIR, cifar10:DIR (the extracted JPEG folder) or folder:DIR.
    /// Default: the MNIST files bundled in data/mnist.
    #[arg(long)]
    data: Option<String>,
    /// Colored MNIST: each digit in a random colour (RPGAN paper).
    #[arg(long)]
    colored: bool,
    /// Use only the first N training images.
    #[arg(long)]
    limit: Option<usize>,
    /// Keep only these classes (label indices), e.g. 0-6 or 7,8,9.
    #[arg(long)]
    classes: Option<String>,
    /// Incremental learning (RPGAN paper, sec. 4.3): extend the RPGAN run in this folder
    /// with --add-blocks and train only the new blocks. Architecture, loss and data source
    /// come from that run; --data/--classes name the new data.
    #[arg(long, requires = "add_blocks")]
    extend: Option<PathBuf>,
    /// With --extend: blocks to add, bucket:count pairs (buckets 1-based), e.g. 1:4,2:4.
    #[arg(long, requires = "extend")]
    add_blocks: Option<String>,
    /// With --extend: train on the union of the old and the new data, or on the new only.
    #[arg(long, value_enum, default_value_t = ExtendOnArg::Union)]
    extend_on: ExtendOnArg,
    /// Interpretable training (Li et al., AAAI 2022): the filters of this site (b1..bn)
    /// learn --groups groups, each generating one consistent region; export records them.
    #[arg(long)]
    interpret: Option<String>,
    /// With --interpret: the number of filter groups.
    #[arg(long, default_value_t = 4)]
    groups: usize,
    /// With --interpret: weight of the group loss in the generator loss.
    #[arg(long, default_value_t = 1.0)]
    group_weight: f64,
    /// With --interpret: weight of the exclusivity (overlap of different groups) term.
    #[arg(long, default_value_t = 1.0)]
    group_exclusive: f64,
    /// With --interpret: steps between re-partitions of the filters.
    #[arg(long, default_value_t = 50)]
    group_every: u64,
    /// Backbone.
    /// (`linear`: fully connected layers without nonlinearities, tanh at the end, RPGAN
    /// paper Table 3; its buckets can be merged by `ganscope compress`.)
    #[arg(long, value_parser = ["dcgan", "snresnet", "linear"], default_value = "dcgan")]
    arch: String,
    /// Image side: 28, 32 or 64 (MNIST is padded to 32 by default).
    #[arg(long, default_value_t = D.image_size)]
    image_size: usize,
    /// Generator width: dcgan's last hidden layer has w channels and each earlier one twice
    /// as many (4w, 2w, w at 32x32); snresnet w everywhere; linear w, 2w, 4w, 8w. Default
    /// dcgan 32, snresnet 64, linear 128.
    #[arg(long)]
    width: Option<usize>,
    /// Discriminator width: dcgan's first conv has w channels and each later one twice as
    /// many (w, 2w, 4w at 32x32); snresnet w everywhere. Default: --width (32 for --arch
    /// linear).
    #[arg(long)]
    d_width: Option<usize>,
    /// Discriminator normalisation: `spectral` (every weight, Miyato et al.) or `batch`
    /// (DCGAN's BatchNorm after every conv but the first; dcgan only, not with wgan-gp).
    /// Default: batch for a standard dcgan GAN under the hinge or non-saturating loss (with
    /// spectral norm it drew few shapes on colored MNIST, docs/training.md), spectral
    /// otherwise.
    #[arg(long, value_parser = ["spectral", "batch"])]
    d_norm: Option<String>,
    /// Latent size (noise z, or the RPGAN constant Z).
    #[arg(long, default_value_t = D.latent_dim)]
    latent_dim: usize,
    /// Random-Path GAN: buckets of independent blocks, a learned constant input.
    #[arg(long)]
    rpgan: bool,
    /// RPGAN buckets (default: one per layer).
    #[arg(long)]
    buckets: Option<usize>,
    /// RPGAN blocks per bucket: one count for every bucket, or one per bucket
    /// (e.g. 32,32,32,16,16; then --buckets defaults to their number).
    #[arg(long, value_delimiter = ',', default_values_t = [8usize])]
    blocks: Vec<usize>,
    /// Adversarial loss.
    #[arg(long, value_enum, default_value_t = LossArg::from(D.loss))]
    loss: LossArg,
    /// Generator steps in all (default 2000; with --resume, default: the run's own target).
    #[arg(long)]
    steps: Option<u64>,
    /// Batch size.
    #[arg(long, default_value_t = D.batch)]
    batch: usize,
    /// Discriminator steps per generator step.
    #[arg(long, default_value_t = D.d_steps)]
    d_steps: usize,
    /// Adam learning rate (generator; discriminator too unless --lr-d is given).
    #[arg(long, default_value_t = D.lr)]
    lr: f64,
    /// Discriminator learning rate, for two time-scale training (e.g. --lr 1e-4 --lr-d 4e-4).
    #[arg(long)]
    lr_d: Option<f64>,
    /// Adam beta1.
    #[arg(long, default_value_t = D.beta1)]
    beta1: f64,
    /// Adam beta2.
    #[arg(long, default_value_t = D.beta2)]
    beta2: f64,
    /// Keep an EMA of the generator weights with this decay (e.g. 0.999); export uses it.
    #[arg(long)]
    ema: Option<f64>,
    /// Scale of the RPGAN block-diversity term.
    #[arg(long, default_value_t = D.diversity)]
    diversity: f64,
    /// WGAN-GP penalty weight.
    #[arg(long, default_value_t = D.gp_weight)]
    gp_weight: f64,
    /// Seed of everything random.
    #[arg(long, default_value_t = D.seed)]
    seed: u64,
    /// Steps between checkpoints.
    #[arg(long, default_value_t = D.checkpoint_every)]
    checkpoint_every: u64,
    /// Steps between sample grids.
    #[arg(long, default_value_t = D.sample_every)]
    sample_every: u64,
    /// Steps between metrics lines.
    #[arg(long, default_value_t = D.log_every)]
    log_every: u64,
    /// cpu, or cuda (needs a build with --features cuda).
    #[arg(long, default_value_t = D.device.clone())]
    device: String,
    /// The run folder.
    #[arg(long)]
    pub out: PathBuf,
    /// Continue the run in --out from its checkpoint (--steps may raise the target).
    #[arg(long)]
    resume: bool,
}

fn train_options(a: &TrainArgs) -> Result<TrainOptions> {
    let arch = match a.arch.as_str() {
        "snresnet" => Family::SnResnet,
        "linear" => Family::Linear,
        _ => Family::Dcgan,
    };
    let data = a.data.clone().unwrap_or_else(bundled_mnist);
    let grey = data.starts_with("mnist:") && !a.colored;
    let width = a.width.unwrap_or(match arch {
        Family::Dcgan | Family::Program => D.width,
        Family::SnResnet => 64,
        Family::Linear => 128,
    });
    let default_d_width = match arch {
        Family::Linear => D.d_width,
        Family::Dcgan | Family::Program | Family::SnResnet => width,
    };
    let (rpgan, blocks) = if a.rpgan {
        let layers = ganscope_model::config::layer_count(arch, a.image_size)?.0;
        match a.blocks[..] {
            [m] => (Some(Rpgan::new(a.buckets.unwrap_or(layers), m)), None),
            _ => {
                let n = a.buckets.unwrap_or(a.blocks.len());
                if n != a.blocks.len() {
                    bail!("--blocks gives {} counts for {n} buckets", a.blocks.len());
                }
                (Some(Rpgan::new(n, 1)), Some(a.blocks.clone()))
            }
        }
    } else {
        if a.buckets.is_some() {
            bail!("--buckets needs --rpgan");
        }
        (None, None)
    };
    Ok(TrainOptions {
        data,
        colored: a.colored,
        limit: a.limit,
        classes: a
            .classes
            .as_deref()
            .map(ganscope_train::options::parse_classes)
            .transpose()
            .map_err(anyhow::Error::msg)?,
        extend: None,
        interpret: match &a.interpret {
            None => None,
            Some(site) => Some(ganscope_train::interpret::InterpretOptions {
                site: site
                    .strip_prefix('b')
                    .and_then(|i| i.parse::<usize>().ok())
                    .and_then(|i| i.checked_sub(1))
                    .with_context(|| {
                        format!("--interpret takes a site such as b2, not `{site}`")
                    })?,
                groups: a.groups,
                weight: a.group_weight,
                exclusive: a.group_exclusive,
                every: a.group_every,
            }),
        },
        arch,
        image_size: a.image_size,
        channels: if grey { 1 } else { 3 },
        width,
        d_width: a.d_width.unwrap_or(default_d_width).max(1),
        d_norm: match a.d_norm.as_deref() {
            Some("batch") => DNorm::Batch,
            Some(_) => DNorm::Spectral,
            None => TrainOptions::default_d_norm(arch, rpgan.is_some(), a.loss.into()),
        },
        latent_dim: a.latent_dim,
        rpgan,
        blocks,
        loss: a.loss.into(),
        steps: a.steps.unwrap_or(D.steps),
        batch: a.batch,
        d_steps: a.d_steps,
        lr: a.lr,
        lr_d: a.lr_d,
        beta1: a.beta1,
        beta2: a.beta2,
        ema: a.ema,
        diversity: a.diversity,
        gp_weight: a.gp_weight,
        seed: a.seed,
        checkpoint_every: a.checkpoint_every,
        sample_every: a.sample_every,
        log_every: a.log_every,
        device: a.device.clone(),
    })
}

/// The options of `train` and `bench-train`: the command's, or with `--extend` the extended
/// run's architecture and data with the command's schedule; checked before data is loaded
/// (`Trainer::new` checks them again).
pub fn resolved_options(a: &TrainArgs) -> Result<TrainOptions> {
    let mut opts = train_options(a)?;
    if let (Some(from), Some(add)) = (&a.extend, &a.add_blocks) {
        if a.resume {
            bail!("--resume continues a run (extended or not); leave out --extend");
        }
        use ganscope_train::extend::{extension_options, parse_add_blocks};
        opts = extension_options(
            &opts,
            from,
            &parse_add_blocks(add)?,
            a.data.clone(),
            opts.classes.clone(),
            a.extend_on.into(),
        )?;
    }
    opts.validate().map_err(anyhow::Error::msg)?;
    opts.generator()?;
    Ok(opts)
}

/// Runs `ganscope train`.
pub fn run(a: &TrainArgs) -> Result<()> {
    let opts = resolved_options(a)?;
    let mut tr = ganscope_train::run::open(opts, &a.out, a.resume, a.steps)?;
    eprintln!(
        "training {} ({} images) on {}: {} steps from step {}, {} generator / {} discriminator parameters",
        tr.data.name,
        tr.data.len(),
        tr.opts.device,
        tr.opts.steps,
        tr.step,
        count(&tr, "g."),
        count(&tr, "d."),
    );
    let bar = crate::progress::steps(tr.opts.steps, tr.step);
    ganscope_train::run::train(&mut tr, &a.out, &mut |s| {
        bar.set_position(s.step);
        bar.set_message(format!(
            "D {:.3} G {:.3} div {:.3}",
            s.d_loss, s.g_loss, s.diversity
        ));
    })?;
    bar.finish();
    eprintln!(
        "done: {} steps in {:.0} s; run folder {}",
        tr.step,
        tr.elapsed,
        a.out.display()
    );
    for d in ganscope_train::health::dead_blocks(&tr, tr.opts.seed)? {
        eprintln!(
            "warning: bucket {} block {} draws a flat image (every pixel {:.2}) whatever the rest of the \
             path is: a dead block (its activation saturated, so it gets no gradient); every \
             path through it draws nothing (docs/training.md)",
            d.bucket + 1,
            d.block,
            d.value
        );
    }
    Ok(())
}

fn count(tr: &ganscope_train::trainer::Trainer, prefix: &str) -> usize {
    tr.store
        .trainable_with(prefix)
        .iter()
        .map(|(_, v)| v.elem_count())
        .sum()
}
