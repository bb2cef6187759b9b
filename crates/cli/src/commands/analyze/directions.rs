//! `ganscope analyze MODEL directions`: SeFa or GANSpace directions, their numbers and
//! vectors, and the figure of both papers: per direction a row of one sample moved from -3
//! to +3 standard deviations along it.

use super::steps::png;
use super::Job;
use anyhow::{Context, Result};
use ganscope_analysis::directions::{find, latent_matrix, Directions, Method};
use ganscope_analysis::renderer::block_on;
use ganscope_model::format::ModelFile;
use ganscope_model::intervention::{Interventions, Resolved};
use ganscope_model::sample::Batch;
use safetensors::tensor::{Dtype, TensorView};

/// How to find directions (`--method`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum MethodArg {
    /// SeFa: eigenvectors of AᵀA for the first layer's weight A (needs a latent z).
    Sefa,
    /// GANSpace: principal components of a site's activations over --samples samples.
    Ganspace,
}

impl From<MethodArg> for Method {
    fn from(m: MethodArg) -> Self {
        match m {
            MethodArg::Sefa => Method::Sefa,
            MethodArg::Ganspace => Method::Ganspace,
        }
    }
}

/// The amounts of a sweep, in standard deviations.
pub const SWEEP: [f32; 7] = [-3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0];

/// Runs the step.
pub fn directions(job: &mut Job) -> Result<()> {
    let a = job.args;
    let latent = ModelFile::parse(&job.bytes)
        .ok()
        .and_then(|f| latent_matrix(&f).ok());
    // GANSpace's site: --site, else find's default (as `sample --direction` and the page)
    let site = a.site.as_ref().map(|_| job.site);
    let dirs = block_on(find(
        job.r.as_mut(),
        latent.as_ref(),
        a.method.map(Method::from),
        site,
        a.samples,
        a.top,
    ))?;
    job.save("directions", &dirs)?;
    write_vectors(&dirs, &job.path("directions.safetensors"))?;
    let cfg = job.r.config().clone();
    let mut images = Vec::new();
    for k in 0..dirs.directions.len() {
        for &amount in &SWEEP {
            let iv = Interventions {
                shifts: vec![dirs.shift(k, amount)?],
                ..Interventions::default()
            };
            let batch = Batch::new(&cfg, a.seed, 1, &iv)?;
            let frames = block_on(job.r.render(&batch, &Resolved::new(&cfg, &iv)?, &[]))?;
            images.extend(frames.images);
        }
    }
    let n = dirs.directions.len() * SWEEP.len();
    let alt = format!(
        "{:?} directions moving {} (row k: direction k, columns -3..+3 standard deviations)",
        dirs.method, dirs.site
    );
    png(
        job,
        "directions.png",
        &images,
        n,
        cfg.channels,
        SWEEP.len(),
        &alt,
    )
}

/// The unit vectors `[k, dim]` and their standard deviations `[k]` as safetensors.
fn write_vectors(dirs: &Directions, path: &std::path::Path) -> Result<()> {
    let k = dirs.directions.len();
    let dim = dirs.directions.first().map_or(0, |d| d.vector.len());
    let vectors: Vec<u8> = dirs
        .directions
        .iter()
        .flat_map(|d| d.vector.iter().flat_map(|v| v.to_le_bytes()))
        .collect();
    let sigma: Vec<u8> = dirs
        .directions
        .iter()
        .flat_map(|d| d.sigma.to_le_bytes())
        .collect();
    let views = [
        (
            "vectors",
            TensorView::new(Dtype::F32, vec![k, dim], &vectors)?,
        ),
        ("sigma", TensorView::new(Dtype::F32, vec![k], &sigma)?),
    ];
    let meta = std::collections::HashMap::from([("site".to_string(), dirs.site.clone())]);
    let bytes = safetensors::serialize(views, Some(meta))?;
    ganscope_model::format::write_atomic(path, &bytes)
        .with_context(|| format!("writing {}", path.display()))
}
