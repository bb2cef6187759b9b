//! `ganscope sample`: a grid of samples with paths and interventions, on candle or wgpu.

use anyhow::{bail, Context, Result};
use clap::Args;
use ganscope_analysis::directions::{find, latent_matrix, LatentMatrix, GANSPACE_SAMPLES};
use ganscope_analysis::renderer::{block_on, CpuRenderer, Renderer as _};
use ganscope_model::candle_backend::{from_file, CandleBackend};
use ganscope_model::format::ModelFile;
use ganscope_model::generator::site_shapes;
use ganscope_model::intervention::{Interventions, Resolved};
use ganscope_model::sample::{random_paths, render, Batch};
use ganscope_train::images::{grid, save_png};

use super::analyze::directions::MethodArg;
use std::path::PathBuf;

/// Where `sample` runs the generator.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BackendArg {
    /// candle on the CPU.
    Cpu,
    /// wgpu (Vulkan, Metal, DX12; lavapipe without a GPU).
    Gpu,
}

/// The options of `sample`.
#[derive(Args)]
pub struct SampleArgs {
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
    /// Render these latents instead of --seed's: a `.npy` of f32 (or f64) values shaped
    /// `[N, D]` or `[N, D, 1, 1]` (N samples; --n is ignored), e.g. the ones a PyTorch script
    /// fed its own generator.
    #[arg(long, conflicts_with = "vary_buckets")]
    latents: Option<PathBuf>,
    /// Also write the images as raw little-endian f32 values, `[n, C, S, S]`.
    #[arg(long)]
    raw: Option<PathBuf>,
    /// Move every sample along latent direction K (0 = the best; as `analyze directions`
    /// finds them: --method, --direction-site).
    #[arg(long, requires = "amount")]
    direction: Option<usize>,
    /// With --direction: how far, in standard deviations of the samples along it.
    #[arg(long, requires = "direction", allow_hyphen_values = true)]
    amount: Option<f32>,
    /// With --direction: SeFa (default where the model has a latent z) or GANSpace.
    #[arg(long, value_enum, requires = "direction")]
    method: Option<MethodArg>,
    /// With --direction and GANSpace: the site (default the middle one).
    #[arg(long, requires = "direction")]
    direction_site: Option<String>,
}

/// The latents of a `.npy` file, `[N, D]` or `[N, D, 1, 1]` with `D = latent_dim`.
fn read_latents(path: &std::path::Path, latent_dim: usize) -> Result<Vec<f32>> {
    let t = candle_core::Tensor::read_npy(path)
        .with_context(|| format!("reading latents from {} (a .npy file)", path.display()))?;
    let dims = t.dims().to_vec();
    let ok = match dims[..] {
        [_, d] | [_, d, 1, 1] => d == latent_dim,
        _ => false,
    };
    if !ok || dims[0] == 0 {
        bail!(
            "{} holds latents of shape {dims:?}; this model takes [N, {latent_dim}] or [N, {latent_dim}, 1, 1]",
            path.display()
        );
    }
    Ok(t.to_dtype(candle_core::DType::F32)?
        .flatten_all()?
        .to_vec1::<f32>()?)
}

/// Runs `ganscope sample`.
pub fn run(a: &SampleArgs) -> Result<()> {
    let bytes = super::read(&a.model)?;
    let loading = || format!("loading {}", a.model.display());
    // one parse gives the first layer's matrix (SeFa) and the candle generator
    let file = ModelFile::parse(&bytes).with_context(loading)?;
    let latent = latent_matrix(&file).ok();
    let m = from_file(file, &candle_core::Device::Cpu).with_context(loading)?;
    let mut cpu = CpuRenderer::new(m.generator);
    let mut ivs = match &a.interventions {
        Some(p) => Interventions::from_json(
            &std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?,
        )?,
        None => Interventions::default(),
    };
    if a.path.is_some() {
        ivs.path = a.path.clone();
    }
    if let (Some(k), Some(amount)) = (a.direction, a.amount) {
        let shift = direction_shift(a, &mut cpu, latent.as_ref(), k, amount)?;
        ivs.shifts.push(shift);
    }
    let g = cpu.generator();
    let cfg = &g.config;
    let (batch, nrow) = if a.vary_buckets {
        if !cfg.is_rpgan() {
            bail!("--vary-buckets needs an RPGAN (this model has one block per bucket)");
        }
        let base = ivs
            .path
            .clone()
            .unwrap_or_else(|| random_paths(a.seed, 1, &cfg.blocks()).remove(0));
        g.check_paths(std::slice::from_ref(&base))?;
        eprintln!("path grid around path {base:?}: row i varies bucket i");
        Batch::vary_buckets(cfg, a.seed, &base)?
    } else if let Some(p) = &a.latents {
        let z = read_latents(p, cfg.latent_dim)?;
        (Batch::from_latents(cfg, a.seed, &z, &ivs)?, a.nrow)
    } else {
        (Batch::new(cfg, a.seed, a.n, &ivs)?, a.nrow)
    };
    let n = batch.n;
    let resolved = Resolved::new(cfg, &ivs)?;
    let images = if a.backend == BackendArg::Gpu {
        let gpu = ganscope_gpu::Gpu::new_blocking()?;
        eprintln!("GPU: {}", gpu.describe());
        let mut g = ganscope_gpu::GpuModel::load(gpu, bytes)?;
        ganscope_gpu::block_on(g.render(&batch, &resolved, &[]))?.images
    } else {
        let be = CandleBackend::cpu();
        let y = render(g, &be, &batch, &resolved, &mut |_, _| Ok(()))?; // [n, C, S, S]
        y.flatten_all()?.to_vec1::<f32>()?
    };
    if let Some(raw) = &a.raw {
        let bytes: Vec<u8> = images.iter().flat_map(|v| v.to_le_bytes()).collect();
        ganscope_model::format::write_atomic(raw, &bytes)?;
    }
    let img = grid(&images, n, cfg.channels, cfg.image_size, nrow);
    save_png(&img, &a.out)?;
    eprintln!("wrote {} ({n} samples, seed {})", a.out.display(), a.seed);
    Ok(())
}

/// The shift of `amount` standard deviations along direction `k`, found as `analyze
/// directions` finds it (on candle; `latent` is the first layer's matrix for SeFa).
fn direction_shift(
    a: &SampleArgs,
    r: &mut CpuRenderer,
    latent: Option<&LatentMatrix>,
    k: usize,
    amount: f32,
) -> Result<ganscope_model::shift::Shift> {
    let site = match &a.direction_site {
        None => None,
        Some(name) => {
            let sites = site_shapes(r.config());
            let i = sites.iter().position(|s| &s.0 == name).with_context(|| {
                let known: Vec<&str> = sites.iter().map(|s| s.0.as_str()).collect();
                format!(
                    "--direction-site: no site `{}`; the model has {}",
                    name.chars().take(32).collect::<String>(),
                    known.join(", ")
                )
            })?;
            Some(i)
        }
    };
    let method = a.method.map(Into::into);
    let dirs = block_on(find(r, latent, method, site, GANSPACE_SAMPLES, k + 1))?;
    Ok(dirs.shift(k, amount)?)
}
