//! `ganscope analyze`: the analyses of `ganscope-analysis` as figures (PNG, SVG) and numbers
//! (JSON) in a folder, deterministic for a seed, on candle or wgpu, and optionally one
//! self-contained HTML report of everything that ran.

mod channels;
pub mod directions;
mod figures;
mod quality;
mod steps;
mod units;

use std::path::{Path, PathBuf};
use std::rc::Rc;

use clap::{Args, ValueEnum};
use ganscope_analysis::metrics::ClassifierFeatures;
use ganscope_analysis::renderer::{CpuRenderer, GpuRenderer, Renderer};
use ganscope_model::format::ModelFile;
use ganscope_model::generator::{site_name, site_shapes};
use indicatif::ProgressBar;
use serde::Serialize;

use super::read;
use anyhow::{anyhow, Context, Result};
use figures::Report;

/// What to measure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum What {
    /// RPGAN path grids (a frozen path; row i varies bucket i); for a standard GAN the
    /// noise-injection grid (row i: noise in layer group i's weights).
    Paths,
    /// RPGAN bucket responsibility: colour and semantic, relative to bucket 1.
    Buckets,
    /// Sample quality: Fréchet distance and precision/recall of classifier features.
    Quality,
    /// GAN Dissection: unit statistics, top samples and IoU with concepts.
    Dissect,
    /// Average causal effect of units on a concept, single units and greedy top sets.
    Ace,
    /// Artifact units: ablate the units whose top samples the discriminator likes least.
    Artifacts,
    /// Counterfactual influence maps of every channel of a site.
    Influence,
    /// Influence maps clustered into modules (NMF), and module hybrids.
    Modules,
    /// Concept groups of a site's filters, and their exchange between samples.
    Groups,
    /// Latent directions (SeFa or GANSpace) and the sweep of each from -3 to +3 sigma.
    Directions,
    /// Everything that applies to the model.
    All,
}

/// Where the generator runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Device {
    /// candle on the CPU.
    Cpu,
    /// wgpu on the default adapter.
    Gpu,
}

/// Options of `ganscope analyze`.
#[derive(Args, Debug)]
pub struct AnalyzeArgs {
    /// The model file.
    pub model: PathBuf,
    /// The analysis.
    #[arg(value_enum)]
    pub what: What,
    /// Folder for figures and JSON.
    #[arg(long)]
    pub out: PathBuf,
    /// Seed of every sample, path and clustering.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Where the generator runs.
    #[arg(long, value_enum, default_value_t = Device::Cpu)]
    pub backend: Device,
    /// Site (b1..bn) for dissect, ace, influence, modules, groups and GANSpace; default the site of
    /// the file's learned groups (interpretable training), else the middle one.
    #[arg(long)]
    pub site: Option<String>,
    /// Bucket responsibility: independent evaluations (random paths).
    #[arg(long, default_value_t = 100)]
    pub evaluations: usize,
    /// Influence maps, module hybrids and the locality of group exchanges: sample pairs.
    #[arg(long, default_value_t = 64)]
    pub pairs: usize,
    /// Modules (NMF rank) or concept groups.
    #[arg(long, default_value_t = 3)]
    pub k: usize,
    /// Directions: SeFa (default where the model has a latent z) or GANSpace at --site
    /// (default for an RPGAN).
    #[arg(long, value_enum)]
    pub method: Option<directions::MethodArg>,
    /// Samples for dissection, ACE, quality, groups and GANSpace.
    #[arg(long, default_value_t = 1000)]
    pub samples: usize,
    /// Dissection threshold quantile of each unit's activations (0.99: its top 1%).
    #[arg(long, default_value_t = 0.99)]
    pub quantile: f64,
    /// ACE: the concept (background, stroke, a hue: red, yellow, green, cyan, blue, magenta, white).
    #[arg(long, default_value = "stroke")]
    pub concept: String,
    /// Artifact units: how many to ablate.
    #[arg(long, default_value_t = 20)]
    pub ablate: usize,
    /// Noise injection (paths of a standard GAN): noise std relative to each weight's std.
    #[arg(long, default_value_t = 0.5)]
    pub noise: f32,
    /// ACE: the size of the largest greedy unit set; directions: how many.
    #[arg(long, default_value_t = 8)]
    pub top: usize,
    /// The classifier for semantic features (default: classifier-<dataset>.safetensors beside
    /// the model).
    #[arg(long)]
    pub classifier: Option<PathBuf>,
    /// Quality: the real data (default: the bundled MNIST).
    #[arg(long)]
    pub data: Option<String>,
    /// Quality: a class subset (e.g. 0-6; repeat the flag for more) to report separately:
    /// the share of samples the classifier puts in it and their Fréchet distance to the
    /// subset's real test images.
    #[arg(long)]
    pub subset: Vec<String>,
    /// Also write report.html: every figure and number of this run on one page.
    #[arg(long)]
    pub report: bool,
}

/// Everything an analysis step needs.
pub struct Job<'a> {
    /// The options.
    pub args: &'a AnalyzeArgs,
    /// The generator.
    pub r: Box<dyn Renderer>,
    /// The file's metadata.
    pub meta: ganscope_model::format::ModelMeta,
    /// The site index.
    pub site: usize,
    /// The report being written.
    pub report: Report,
    /// Numbers of every step, by name.
    pub numbers: serde_json::Map<String, serde_json::Value>,
    /// The model file's bytes (read once).
    pub bytes: Vec<u8>,
    /// The classifier, loaded on first use (`None` inside: there is none).
    features: Option<Option<Rc<ClassifierFeatures>>>,
}

impl Job<'_> {
    /// A path in the output folder.
    pub fn path(&self, name: &str) -> PathBuf {
        self.args.out.join(name)
    }

    /// Records a step's numbers (and writes `<name>.json`).
    pub fn save<T: Serialize>(&mut self, name: &str, value: &T) -> Result<()> {
        let v = serde_json::to_value(value)?;
        let text = serde_json::to_string_pretty(&v)?;
        ganscope_model::format::write_atomic(&self.path(&format!("{name}.json")), text.as_bytes())?;
        self.numbers.insert(name.into(), v);
        Ok(())
    }

    /// The classifier's features: `--classifier`, or the one beside the model; loaded once.
    pub fn features(&mut self) -> Result<Option<Rc<ClassifierFeatures>>> {
        if self.features.is_none() {
            self.features = Some(self.load_features()?.map(Rc::new));
        }
        Ok(self.features.clone().flatten())
    }

    fn load_features(&self) -> Result<Option<ClassifierFeatures>> {
        let path = match &self.args.classifier {
            Some(p) => p.clone(),
            None => {
                let name = self
                    .meta
                    .dataset
                    .as_ref()
                    .map_or("mnist", |d| d.name.as_str());
                // the name comes from the (untrusted) model file: a plain word or nothing
                if name.is_empty()
                    || !name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
                {
                    return Ok(None);
                }
                let dir = self.args.model.parent().unwrap_or(Path::new("."));
                let p = dir.join(format!("classifier-{name}.safetensors"));
                if !p.exists() {
                    return Ok(None);
                }
                p
            }
        };
        let bytes = read(&path)?;
        let c = ganscope_model::classifier::Classifier::load(&bytes)?;
        let [ch, s, _] = c.input_shape();
        let g = &self.meta.generator;
        if ch != g.channels || s != g.image_size {
            return Err(anyhow!(
                "{} takes {s}x{s}x{ch} images; the model makes {}x{}x{}",
                path.display(),
                g.image_size,
                g.image_size,
                g.channels
            ));
        }
        Ok(Some(ClassifierFeatures(c)))
    }

    /// A progress bar of `total` steps.
    pub fn bar(&self, what: &str, total: u64) -> ProgressBar {
        crate::progress::task(what, total)
    }
}

/// Runs `ganscope analyze`.
pub fn analyze(args: &AnalyzeArgs) -> Result<()> {
    let bytes = read(&args.model)?;
    let meta = ModelFile::parse(&bytes)?.meta;
    let r: Box<dyn Renderer> = match args.backend {
        Device::Cpu => Box::new(CpuRenderer::load(&bytes)?),
        Device::Gpu => Box::new(GpuRenderer::load(&bytes)?),
    };
    let sites = site_shapes(&meta.generator);
    let learned_site = meta
        .analysis
        .as_ref()
        .and_then(|a| a.get("learned_groups")?.get("site")?.as_str())
        .and_then(|name| sites.iter().position(|s| s.0 == name));
    let site = match &args.site {
        None => learned_site.unwrap_or((sites.len() - 1) / 2),
        Some(name) => sites.iter().position(|s| &s.0 == name).ok_or_else(|| {
            anyhow!(
                "no site `{}`; the model has {}",
                name.chars().take(32).collect::<String>(),
                sites
                    .iter()
                    .map(|s| s.0.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })?,
    };
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let mut job = Job {
        args,
        r,
        meta,
        site,
        report: Report::default(),
        numbers: serde_json::Map::new(),
        bytes,
        features: None,
    };
    job.report.text(&format!(
        "Model {}; generator on {}; seed {}; site {} for the per-site analyses.",
        args.model.display(),
        job.r.describe(),
        args.seed,
        site_name(site)
    ));
    let rpgan = job.meta.generator.is_rpgan();
    let has_d = job.meta.discriminator.is_some();
    let has_features = job.features()?.is_some();
    if args.what == What::All && !has_features {
        job.report.text(
            "No classifier beside the model and none given (--classifier): no semantic distance, \
             quality or artifact units.",
        );
    }
    let steps: Vec<What> = match args.what {
        What::All => [
            What::Paths,
            What::Buckets,
            What::Quality,
            What::Dissect,
            What::Ace,
            What::Artifacts,
            What::Modules,
            What::Groups,
            What::Directions,
        ]
        .into_iter()
        .filter(|w| rpgan || *w != What::Buckets)
        .filter(|w| has_d || *w != What::Artifacts)
        .filter(|w| has_features || !matches!(w, What::Quality | What::Artifacts))
        .collect(),
        w => vec![w],
    };
    for w in steps {
        let t = std::time::Instant::now();
        steps::run(&mut job, w)?;
        eprintln!("{w:?}: {:.1} s", t.elapsed().as_secs_f64());
    }
    if args.report {
        let title = format!("ganscope analysis of {}", args.model.display());
        job.report.write(&title, &job.path("report.html"))?;
    }
    Ok(())
}

/// The features or a clear error when an analysis needs them.
pub fn need_features(job: &mut Job) -> Result<Rc<ClassifierFeatures>> {
    match job.features()? {
        Some(f) => Ok(f),
        None => Err(anyhow!(
            "this analysis needs a classifier: pass --classifier FILE (train one with \
             `ganscope classifier`)",
        )),
    }
}
