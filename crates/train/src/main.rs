//! `ganscope`: train, export, sample and inspect GAN generators.

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use ganscope_model::candle_backend::load_candle;
use ganscope_model::config::Family;
use ganscope_model::intervention::{Interventions, Resolved};
use ganscope_model::sample::{render, Batch};
use ganscope_train::export::{export, ExportOptions};
use ganscope_train::images::{grid, save_png};
use ganscope_train::options::{bundled_mnist, ClassifierOptions, Loss, TrainOptions};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::{Path, PathBuf};

#[derive(Parser)]
#[command(
    name = "ganscope",
    version,
    about = "Train GAN and Random-Path GAN generators and look inside them"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Train a generator (standard GAN or RPGAN) and its discriminator.
    Train(Box<TrainArgs>),
    /// Write a run's generator (and discriminator) as one .safetensors model file.
    Export {
        /// The run folder (`train --out`).
        run: PathBuf,
        /// The model file to write.
        #[arg(long)]
        out: PathBuf,
        /// Store tensors as f16 (half the download).
        #[arg(long)]
        f16: bool,
        /// Export the raw generator weights even when the run kept an EMA.
        #[arg(long)]
        no_ema: bool,
        /// Leave the discriminator out.
        #[arg(long)]
        no_disc: bool,
    },
    /// Render a grid of samples, with paths and interventions.
    Sample {
        /// The model file.
        model: PathBuf,
        /// How many samples.
        #[arg(long, default_value_t = 64)]
        n: usize,
        /// The PNG to write.
        #[arg(long)]
        out: PathBuf,
        /// Seed of latents and random paths.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// RPGAN path: one block index per bucket, e.g. 3,0,7,1 (every sample takes it).
        #[arg(long, value_delimiter = ',')]
        path: Option<Vec<usize>>,
        /// A JSON file of interventions: {"path": [...], "edits": [...], "hybrid": {...}}.
        #[arg(long)]
        interventions: Option<PathBuf>,
        /// Images per grid row.
        #[arg(long, default_value_t = 8)]
        nrow: usize,
        /// RPGAN path grid instead (RPGAN paper, Figure 3): from --path (or a random path
        /// of --seed), row i varies bucket i over all its blocks; --n and --nrow are ignored.
        #[arg(long)]
        vary_buckets: bool,
        /// Where to run the generator: candle on the CPU, or wgpu on the default GPU adapter
        /// (`WGPU_BACKEND=vulkan|metal|dx12` picks one).
        #[arg(long, value_enum, default_value_t = BackendArg::Cpu)]
        backend: BackendArg,
        /// Also write the images as raw little-endian f32 values, `[n, C, S, S]`.
        #[arg(long)]
        raw: Option<PathBuf>,
    },
    /// Time the forward on candle (CPU) and on wgpu in one run: latency at batch 1,
    /// throughput at larger batches, and the ratio, with the adapter's name.
    Bench {
        /// The model file.
        model: PathBuf,
        /// Batch sizes.
        #[arg(long, value_delimiter = ',', default_values_t = [1usize, 64, 256])]
        batches: Vec<usize>,
        /// Seconds to keep repeating each measurement (the median is printed).
        #[arg(long, default_value_t = 2.0)]
        min_time: f64,
        /// Also time this model file in the same run and print the speed-up of MODEL over
        /// it (e.g. a compressed model against its original).
        #[arg(long)]
        against: Option<PathBuf>,
    },
    /// Time training steps on a device (whole steps and their phases) and write one step
    /// out (variables before and after, its inputs, its losses) into --out, for the PyTorch
    /// twin `tests/torch/train_twin.py` to replay and time on the same machine.
    BenchTrain {
        #[command(flatten)]
        train: Box<TrainArgs>,
        /// Untimed steps first (after the written-out one).
        #[arg(long, default_value_t = 3)]
        warmup: usize,
        /// Timed steps.
        #[arg(long, default_value_t = 10)]
        timed: usize,
    },
    /// Measure what the papers measure (RPGAN buckets, GAN Dissection, influence maps and
    /// modules, concept groups, quality) and write figures, JSON and an HTML report.
    Analyze(Box<ganscope_train::analyze::AnalyzeArgs>),
    /// Train a small image classifier on the dataset's labels (the feature network of
    /// semantic distances between generated images) and write it as one .safetensors file.
    Classifier {
        #[command(flatten)]
        opts: ClassifierOptions,
        /// The classifier file to write.
        #[arg(long)]
        out: PathBuf,
        /// Store tensors as f16 (half the download).
        #[arg(long)]
        f16: bool,
    },
    /// Merge consecutive buckets of a linear RPGAN (`train --arch linear`) into one bucket
    /// whose blocks are products of the merged blocks (RPGAN paper, sec. 4.4): one matrix
    /// product instead of several per sample.
    Compress {
        /// The linear model file.
        model: PathBuf,
        /// The buckets to merge, 1-based and inclusive, e.g. 3-5.
        #[arg(long)]
        merge: String,
        /// Blocks of the merged bucket: distinct random tuples of the merged blocks.
        #[arg(long)]
        blocks: usize,
        /// Seed of the tuples.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// The model file to write.
        #[arg(long)]
        out: PathBuf,
        /// Store tensors as f16.
        #[arg(long)]
        f16: bool,
    },
    /// Print a model file's architecture, sites, parameters and training summary.
    Info {
        /// The model file.
        model: PathBuf,
    },
}

/// The training defaults, shared with the library (`TrainOptions::default`).
static D: std::sync::LazyLock<TrainOptions> = std::sync::LazyLock::new(TrainOptions::default);

/// Where `sample` runs the generator.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum BackendArg {
    /// candle on the CPU.
    Cpu,
    /// wgpu (Vulkan, Metal, DX12; lavapipe without a GPU).
    Gpu,
}

#[derive(Args)]
struct TrainArgs {
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
    #[arg(long, value_enum, default_value_t = ganscope_train::extend::ExtendOn::Union)]
    extend_on: ganscope_train::extend::ExtendOn,
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
    /// many (w, 2w, 4w at 32x32); snresnet w everywhere. Default: dcgan half of --width,
    /// snresnet --width.
    #[arg(long)]
    d_width: Option<usize>,
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
    #[arg(long, value_enum, default_value_t = D.loss)]
    loss: Loss,
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
    out: PathBuf,
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
        Family::Dcgan => D.width,
        Family::SnResnet => 64,
        Family::Linear => 128,
    });
    let default_d_width = match arch {
        Family::Dcgan => width / 2,
        Family::SnResnet => width,
        Family::Linear => D.d_width,
    };
    let (rpgan, blocks) = if a.rpgan {
        let layers = ganscope_model::config::layer_count(arch, a.image_size)?.0;
        match a.blocks[..] {
            [m] => (Some((a.buckets.unwrap_or(layers), m)), None),
            _ => {
                let n = a.buckets.unwrap_or(a.blocks.len());
                if n != a.blocks.len() {
                    bail!("--blocks gives {} counts for {n} buckets", a.blocks.len());
                }
                (Some((n, 1)), Some(a.blocks.clone()))
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
        latent_dim: a.latent_dim,
        rpgan,
        blocks,
        loss: a.loss,
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
fn resolved_options(a: &TrainArgs) -> Result<TrainOptions> {
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
            a.extend_on,
        )?;
    }
    opts.validate().map_err(anyhow::Error::msg)?;
    opts.generator()?;
    Ok(opts)
}

fn cmd_train(a: &TrainArgs) -> Result<()> {
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
    let bar = ProgressBar::new(tr.opts.steps).with_position(tr.step);
    bar.set_style(ProgressStyle::with_template(
        "{bar:30} {pos}/{len} [{elapsed_precise} < {eta_precise}] {per_sec} {msg}",
    )?);
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
    Ok(())
}

fn cmd_compress(
    model: &Path,
    merge: &str,
    blocks: usize,
    seed: u64,
    out: &Path,
    f16: bool,
) -> Result<()> {
    let range = merge
        .split_once('-')
        .and_then(|(a, b)| {
            Some((
                a.trim().parse::<usize>().ok()?,
                b.trim().parse::<usize>().ok()?,
            ))
        })
        .filter(|&(a, b)| a >= 1 && b >= 1);
    let Some((first, last)) = range else {
        bail!("--merge takes two 1-based bucket numbers, e.g. 3-5 (got `{merge}`)");
    };
    let bytes = std::fs::read(model).with_context(|| format!("reading {}", model.display()))?;
    let opts = ganscope_train::compress::CompressOptions {
        first: first - 1,
        last: last - 1,
        blocks,
        seed,
        f16,
    };
    let (meta, out_bytes) = ganscope_train::compress::compress(&bytes, &opts)?;
    ganscope_model::format::write_atomic(out, &out_bytes)?;
    let blocks: Vec<String> = meta
        .generator
        .blocks()
        .iter()
        .map(|b| b.to_string())
        .collect();
    eprintln!(
        "wrote {} ({} bytes): buckets {first}-{last} merged; blocks per bucket now {}",
        out.display(),
        out_bytes.len(),
        blocks.join(", ")
    );
    Ok(())
}

fn cmd_bench_train(a: &TrainArgs, warmup: usize, timed: usize) -> Result<()> {
    use ganscope_train::bench_train::{dump_step, time_steps};
    let opts = resolved_options(a)?;
    if timed == 0 {
        bail!("--timed must be at least 1");
    }
    let data = ganscope_train::run::load_data(&opts)?;
    let mut tr = ganscope_train::trainer::Trainer::new(opts, data)?;
    let stats = dump_step(&mut tr, &a.out)?;
    eprintln!(
        "step 1 written to {}: D {:.4} G {:.4} diversity {:.4}",
        a.out.display(),
        stats.d_loss,
        stats.g_loss,
        stats.diversity
    );
    let t = time_steps(&mut tr, warmup, timed)?;
    println!(
        "ganscope (candle) on {}, batch {}: {:.2} ms per training step (median of {}; mean {:.2})",
        t.device, t.batch, t.step_ms_median, t.steps, t.step_ms_mean
    );
    for (name, ms) in &t.phases {
        println!("  {name:<44} {ms:9.2} ms");
    }
    let path = a.out.join("timing.json");
    std::fs::write(&path, serde_json::to_string_pretty(&t)?)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

fn cmd_classifier(opts: &ClassifierOptions, out: &Path, f16: bool) -> Result<()> {
    use ganscope_train::classifier::{finish, load_split, ClassifierTrainer};
    opts.validate().map_err(anyhow::Error::msg)?;
    let data = load_split(opts, ganscope_data::Split::Train)?;
    let test = load_split(opts, ganscope_data::Split::Test)?;
    let mut tr = ClassifierTrainer::new(opts.clone(), data)?;
    eprintln!(
        "training a {}-class classifier on {} ({} images, {} test images) on {}: {} steps of batch {}, {} parameters",
        tr.config.outputs,
        tr.data.name,
        tr.data.len(),
        test.len(),
        opts.device,
        opts.steps,
        opts.batch,
        tr.store.vars.values().map(|v| v.elem_count()).sum::<usize>()
    );
    let bar = ProgressBar::new(opts.steps);
    bar.set_style(ProgressStyle::with_template(
        "{bar:30} {pos}/{len} [{elapsed_precise} < {eta_precise}] {per_sec} {msg}",
    )?);
    let (mut loss, mut acc) = (f32::NAN, 0.0f32);
    while tr.step < opts.steps {
        let s = tr.train_step()?;
        // running means over about the last 50 steps
        let k = if s.step == 1 { 1.0 } else { 0.02 };
        loss = if loss.is_nan() {
            s.loss
        } else {
            loss + k * (s.loss - loss)
        };
        acc += k * (s.accuracy - acc);
        bar.set_position(s.step);
        bar.set_message(format!("loss {loss:.4} batch accuracy {:.1}%", 100.0 * acc));
    }
    bar.finish();
    let (meta, bytes) = finish(&tr, &test, loss, f16)?;
    ganscope_model::format::write_atomic(out, &bytes)?;
    let acc = meta.test_accuracy.unwrap_or(f32::NAN);
    println!(
        "test accuracy: {:.2}% ({} test images)",
        100.0 * acc,
        test.len()
    );
    eprintln!(
        "done: {} steps in {:.0} s; wrote {} ({} bytes, {} features)",
        tr.step,
        tr.seconds,
        out.display(),
        bytes.len(),
        ganscope_model::classifier::Classifier::load(&bytes)?.feature_dim()
    );
    Ok(())
}

fn count(tr: &ganscope_train::trainer::Trainer, prefix: &str) -> usize {
    tr.store
        .trainable_with(prefix)
        .iter()
        .map(|(_, v)| v.elem_count())
        .sum()
}

/// What `sample` lays out.
struct GridSpec {
    n: usize,
    nrow: usize,
    vary_buckets: bool,
    gpu: bool,
    raw: Option<PathBuf>,
}

fn cmd_sample(
    model: &Path,
    grid_spec: GridSpec,
    out: &Path,
    seed: u64,
    path: Option<Vec<usize>>,
    iv: Option<&Path>,
) -> Result<()> {
    let bytes = std::fs::read(model).with_context(|| format!("reading {}", model.display()))?;
    let m = load_candle(&bytes, &candle_core::Device::Cpu)
        .with_context(|| format!("loading {}", model.display()))?;
    let mut ivs = match iv {
        Some(p) => Interventions::from_json(
            &std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?,
        )?,
        None => Interventions::default(),
    };
    if path.is_some() {
        ivs.path = path;
    }
    let cfg = &m.generator.config;
    let (batch, nrow) = if grid_spec.vary_buckets {
        if !cfg.is_rpgan() {
            bail!("--vary-buckets needs an RPGAN (this model has one block per bucket)");
        }
        let base = ivs.path.clone().unwrap_or_else(|| {
            ganscope_model::sample::random_paths(seed, 1, &cfg.blocks()).remove(0)
        });
        m.generator.check_paths(std::slice::from_ref(&base))?;
        eprintln!("path grid around path {base:?}: row i varies bucket i");
        Batch::vary_buckets(cfg, seed, &base)?
    } else {
        (Batch::new(cfg, seed, grid_spec.n, &ivs)?, grid_spec.nrow)
    };
    let n = batch.n;
    let resolved = Resolved::new(cfg, &ivs)?;
    let images = if grid_spec.gpu {
        let gpu = ganscope_gpu::Gpu::new_blocking()?;
        eprintln!("GPU: {}", gpu.describe());
        let mut g = ganscope_gpu::GpuModel::load(gpu, bytes)?;
        ganscope_gpu::block_on(g.render(&batch, &resolved, &[]))?.images
    } else {
        let be = ganscope_model::candle_backend::CandleBackend::cpu();
        let y = render(&m.generator, &be, &batch, &resolved, &mut |_, _| Ok(()))?; // [n, C, S, S]
        y.flatten_all()?.to_vec1::<f32>()?
    };
    if let Some(raw) = &grid_spec.raw {
        let bytes: Vec<u8> = images.iter().flat_map(|v| v.to_le_bytes()).collect();
        ganscope_model::format::write_atomic(raw, &bytes)?;
    }
    let img = grid(&images, n, cfg.channels, cfg.image_size, nrow);
    save_png(&img, out)?;
    eprintln!("wrote {} ({n} samples, seed {seed})", out.display());
    Ok(())
}

fn cmd_bench(model: &Path, batches: &[usize], min_time: f64, against: Option<&Path>) -> Result<()> {
    if batches.is_empty() || batches.contains(&0) {
        bail!("--batches needs positive batch sizes, e.g. 1,64,256");
    }
    if !(min_time.is_finite() && (0.0..=600.0).contains(&min_time)) {
        bail!("--min-time must be a number of seconds in 0..=600");
    }
    let bytes = std::fs::read(model).with_context(|| format!("reading {}", model.display()))?;
    let time = std::time::Duration::from_secs_f64(min_time);
    let name = model.display().to_string();
    let report = match against {
        None => ganscope_train::bench::report(&bytes, &name, batches, time)?,
        Some(other) => {
            let o = std::fs::read(other).with_context(|| format!("reading {}", other.display()))?;
            let other_name = other.display().to_string();
            ganscope_train::bench::report_against(&bytes, &name, &o, &other_name, batches, time)?
        }
    };
    print!("{report}");
    Ok(())
}

fn cmd_info(model: &Path) -> Result<()> {
    use std::fmt::Write as _;
    let mut out = String::new();
    let bytes = std::fs::read(model).with_context(|| format!("reading {}", model.display()))?;
    let file = ganscope_model::format::ModelFile::parse(&bytes)
        .with_context(|| format!("checking {}", model.display()))?;
    let meta = &file.meta;
    let g = &meta.generator;
    let count = |p: &str| -> usize {
        file.tensors
            .iter()
            .filter(|(n, _)| n.starts_with(p))
            .map(|(_, t)| t.shape.iter().product::<usize>())
            .sum()
    };
    writeln!(
        out,
        "model:      {} (format {}, {} bytes)",
        model.display(),
        meta.format_version,
        bytes.len()
    )?;
    writeln!(
        out,
        "family:     {}{}",
        g.family.name(),
        if g.is_rpgan() { " RPGAN" } else { "" }
    )?;
    writeln!(
        out,
        "image:      {}x{}x{}",
        g.image_size, g.image_size, g.channels
    )?;
    writeln!(
        out,
        "input:      {} of size {}",
        if g.constant_input {
            "learned constant Z"
        } else {
            "noise z"
        },
        g.latent_dim
    )?;
    writeln!(out, "buckets:    {}", g.buckets.len())?;
    for (i, b) in g.buckets.iter().enumerate() {
        writeln!(
            out,
            "  bucket {}: {} blocks of {} layer(s)",
            i + 1,
            b.blocks,
            b.layers
        )?;
    }
    writeln!(out, "sites:")?;
    for s in &meta.sites {
        writeln!(
            out,
            "  {:<4} [{}, {}, {}] {}",
            s.name, s.shape[0], s.shape[1], s.shape[2], s.kind
        )?;
    }
    writeln!(
        out,
        "parameters: generator {}, discriminator {}",
        count("g."),
        count("d.")
    )?;
    if let Some(d) = &meta.dataset {
        writeln!(out, "dataset:    {} ({} images)", d.name, d.images)?;
    }
    if let Some(t) = &meta.training {
        writeln!(
            out,
            "training:   {} steps, {} loss, D {:.4} G {:.4}, {:.0} s on {}{}, {} (ganscope {})",
            t.steps,
            t.loss,
            t.d_loss,
            t.g_loss,
            t.seconds,
            t.device,
            if t.ema { ", EMA weights" } else { "" },
            t.date,
            t.tool_version
        )?;
        if let Some(ext) = t.options.get("extend").filter(|e| !e.is_null()) {
            writeln!(
                out,
                "extends:    {} ({} steps; blocks per bucket then {})",
                ext["from"].as_str().unwrap_or("?"),
                ext["old_steps"],
                ext["old_blocks"]
            )?;
        }
    }
    if let Some(a) = &meta.analysis {
        if let Some(lg) = a.get("learned_groups") {
            writeln!(
                out,
                "groups:     {} learned groups of site {} (interpretable training)",
                lg["k"],
                lg["site"].as_str().unwrap_or("?")
            )?;
        }
        if let Some(c) = a.get("compression") {
            writeln!(
                out,
                "compressed: buckets {} merged (they had {} blocks), seed {}",
                c["merged_buckets"], c["original_blocks"], c["seed"]
            )?;
        }
    }
    print_out(&out)
}

/// Writes `text` to stdout; a closed pipe (`ganscope info m | head`) is not an error.
fn print_out(text: &str) -> Result<()> {
    use std::io::Write as _;
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => Ok(r?),
    }
}

fn main() -> std::process::ExitCode {
    match run(Cli::parse()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    match &cli.cmd {
        Cmd::Train(a) => cmd_train(a),
        Cmd::Export {
            run,
            out,
            f16,
            no_ema,
            no_disc,
        } => {
            let meta = export(
                run,
                out,
                ExportOptions {
                    f16: *f16,
                    ema: !no_ema,
                    discriminator: !no_disc,
                },
            )?;
            eprintln!(
                "wrote {} ({} buckets, {} sites)",
                out.display(),
                meta.generator.buckets.len(),
                meta.sites.len()
            );
            Ok(())
        }
        Cmd::Sample {
            model,
            n,
            out,
            seed,
            path,
            interventions,
            nrow,
            vary_buckets,
            backend,
            raw,
        } => {
            let grid = GridSpec {
                n: *n,
                nrow: *nrow,
                vary_buckets: *vary_buckets,
                gpu: *backend == BackendArg::Gpu,
                raw: raw.clone(),
            };
            cmd_sample(
                model,
                grid,
                out,
                *seed,
                path.clone(),
                interventions.as_deref(),
            )
        }
        Cmd::Bench {
            model,
            batches,
            min_time,
            against,
        } => cmd_bench(model, batches, *min_time, against.as_deref()),
        Cmd::BenchTrain {
            train,
            warmup,
            timed,
        } => cmd_bench_train(train, *warmup, *timed),
        Cmd::Classifier { opts, out, f16 } => cmd_classifier(opts, out, *f16),
        Cmd::Analyze(args) => Ok(ganscope_train::analyze::analyze(args)?),
        Cmd::Compress {
            model,
            merge,
            blocks,
            seed,
            out,
            f16,
        } => cmd_compress(model, merge, *blocks, *seed, out, *f16),
        Cmd::Info { model } => cmd_info(model),
    }
}
