//! Latent directions found without labels, as sliders: SeFa (Shen & Zhou, "Closed-Form
//! Factorization of Latent Semantics in GANs", CVPR 2021) and GANSpace (Härkönen et al.,
//! "GANSpace: Discovering Interpretable GAN Controls", NeurIPS 2020). A direction becomes a
//! [`Shift`] (plain intervention data) that moves z or a site's activations along it.
//!
//! - **SeFa**: the first layer that acts on z is affine, `y = A z + b`. The unit directions n
//!   that change `y` most are the maximisers of `|A n|^2`: the top eigenvectors of `AᵀA`,
//!   sorted by eigenvalue. For a dense layer `A` is its weight `[out, D]`; for a transposed
//!   convolution applied to a `[N, D, 1, 1]` latent, the output at kernel tap `(c, i, j)` is
//!   `Σ_d W[d, c, i, j] z_d`, so `A` is the weight `[D, C, k, k]` read as `[D, C*k*k]` and
//!   transposed ([`conv_transpose_latent_matrix`]). A constant-input RPGAN has no z: SeFa
//!   does not apply to it.
//! - **GANSpace**: PCA of `samples` activations of a site (or of the latents) of random
//!   samples; each component comes with its share of the variance. Where the model has a
//!   latent, each component is also carried to z-space by the regression of the latents on
//!   the PCA coordinates (the paper's transfer to z for BigGAN): since the coordinates are
//!   uncorrelated, `u_k = Σ_j x_jk z_j / Σ_j x_jk^2`, then made orthogonal to the earlier
//!   ones (Gram-Schmidt, best first) so that sliders move independently. An edit then moves
//!   z along `u_k`; an RPGAN adds the component to the site's activations instead.
//!
//! Every direction is a unit vector scaled by its `sigma` (one standard deviation of the
//! samples along it; 1 for a unit direction in z, since z ~ N(0, I)), so an amount is in
//! standard deviations and a sweep from -3 to +3 spans the samples' range.

use crate::renderer::{sample_rows, Renderer, CHUNK};
use crate::{error::opts, Result};
use ganscope_model::config::GeneratorConfig;
use ganscope_model::format::ModelFile;
use ganscope_model::generator::{layer_prefix, site_name, site_shapes};
use ganscope_model::intervention::Resolved;
use ganscope_model::program::Op;
use ganscope_model::shift::{Shift, LATENT};
use nalgebra::{DMatrix, SymmetricEigen};
use serde::Serialize;

/// The seed of the samples GANSpace analyses, whatever the seed of the samples shown, so that
/// the page's sliders and `ganscope sample --direction` find the same directions.
pub const GANSPACE_SEED: u64 = 0;

/// Samples GANSpace analyses by default.
pub const GANSPACE_SAMPLES: usize = 1000;

/// How directions were found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// Eigenvectors of `AᵀA` for the first layer's weight `A`.
    Sefa,
    /// Principal components of samples' activations (or latents).
    Ganspace,
}

/// One direction.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Direction {
    /// SeFa: the eigenvalue of `AᵀA`; GANSpace: the share of the variance explained.
    pub value: f64,
    /// One standard deviation of the samples along the direction, in the units of `site`.
    pub sigma: f32,
    /// The unit direction at `site` (`z`: `latent_dim` values, a site: `C*H*W`).
    #[serde(skip)]
    pub vector: Vec<f32>,
}

/// Directions of one model, best first.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Directions {
    /// How they were found.
    pub method: Method,
    /// Where an edit moves: `z` or a site name.
    pub site: String,
    /// The site whose activations GANSpace analysed (`z` for the latents; SeFa: `z`).
    pub source: String,
    /// Samples GANSpace used (0 for SeFa).
    pub samples: usize,
    /// The directions, best first.
    pub directions: Vec<Direction>,
}

impl Directions {
    /// The shift that moves `amount` standard deviations along direction `k`.
    pub fn shift(&self, k: usize, amount: f32) -> Result<Shift> {
        let d = self.directions.get(k).ok_or_else(|| {
            opts(format!(
                "direction {k} does not exist: there are {} (0..={})",
                self.directions.len(),
                self.directions.len().saturating_sub(1)
            ))
        })?;
        if !amount.is_finite() {
            return Err(opts(format!(
                "the amount along a direction must be a number, not {amount}"
            )));
        }
        Ok(Shift {
            site: self.site.clone(),
            vector: d.vector.iter().map(|v| v * d.sigma).collect(),
            amount,
        })
    }
}

/// The directions of a model by `method` (default: SeFa where the model has a latent z,
/// GANSpace for a constant-input RPGAN; `latent` is [`latent_matrix`] of the file), GANSpace
/// at `site` (default the middle one): `top` of them, GANSpace over `samples`
/// samples of [`GANSPACE_SEED`].
pub async fn find(
    r: &mut dyn Renderer,
    latent: Option<&LatentMatrix>,
    method: Option<Method>,
    site: Option<usize>,
    samples: usize,
    top: usize,
) -> Result<Directions> {
    let site = site.unwrap_or((r.config().buckets.len() - 1) / 2);
    let method = method.unwrap_or(if r.config().constant_input {
        Method::Ganspace
    } else {
        Method::Sefa
    });
    match method {
        Method::Sefa => match latent {
            Some(m) => sefa(&m.a, m.rows, m.dim, top),
            None => Err(opts(NO_LATENT)),
        },
        Method::Ganspace => ganspace(r, Some(site), samples, top, GANSPACE_SEED).await,
    }
}

/// The sign that makes the largest-magnitude component positive (a reproducible choice
/// between `v` and `-v`).
fn orient(v: &mut [f64]) {
    let big = v
        .iter()
        .copied()
        .fold(0.0f64, |m, x| if x.abs() > m.abs() { x } else { m });
    if big < 0.0 {
        v.iter_mut().for_each(|x| *x = -*x);
    }
}

fn unit(v: &[f64]) -> Vec<f32> {
    let n = v
        .iter()
        .map(|x| x * x)
        .sum::<f64>()
        .sqrt()
        .max(f64::MIN_POSITIVE);
    v.iter().map(|x| (x / n) as f32).collect()
}

/// SeFa on a latent matrix `a` (`[rows, dim]`, row-major: `y = A z`): the top `top`
/// eigenvectors of `AᵀA` and their eigenvalues, largest first.
pub fn sefa(a: &[f32], rows: usize, dim: usize, top: usize) -> Result<Directions> {
    if rows == 0 || dim == 0 || a.len() != rows * dim {
        return Err(opts(format!(
            "SeFa needs a [rows, dim] matrix; got {} values for [{rows}, {dim}]",
            a.len()
        )));
    }
    let m = DMatrix::from_row_iterator(rows, dim, a.iter().map(|&v| f64::from(v)));
    let ata = m.transpose() * &m; // [D, D]
    let eig = SymmetricEigen::new(ata);
    let mut order: Vec<usize> = (0..dim).collect();
    order.sort_by(|&i, &j| eig.eigenvalues[j].total_cmp(&eig.eigenvalues[i]));
    let directions = order
        .into_iter()
        .take(top.clamp(1, dim))
        .map(|i| {
            let mut v: Vec<f64> = eig.eigenvectors.column(i).iter().copied().collect();
            orient(&mut v);
            Direction {
                value: eig.eigenvalues[i].max(0.0),
                sigma: 1.0,
                vector: unit(&v),
            }
        })
        .collect();
    Ok(Directions {
        method: Method::Sefa,
        site: LATENT.into(),
        source: LATENT.into(),
        samples: 0,
        directions,
    })
}

/// The latent matrix `[C*k*k, D]` of a transposed convolution's weight `[D, C, k, k]`
/// applied to a `[N, D, 1, 1]` latent (every kernel tap lands in the output).
pub fn conv_transpose_latent_matrix(w: &[f32], d: usize, c: usize, k: usize) -> Vec<f32> {
    let taps = c * k * k;
    let mut a = vec![0.0; taps * d];
    for (di, row) in w.chunks(taps).enumerate().take(d) {
        for (t, &v) in row.iter().enumerate() {
            a[t * d + di] = v;
        }
    }
    a
}

/// The matrix `A` of the first layer's action on z (`y = A z + b`), row-major.
#[derive(Clone, Debug, PartialEq)]
pub struct LatentMatrix {
    /// `[rows, dim]` values.
    pub a: Vec<f32>,
    /// Outputs of the layer.
    pub rows: usize,
    /// The latent size.
    pub dim: usize,
}

const NO_LATENT: &str = "SeFa factorises the first layer's action on the latent z, and this \
    RPGAN starts from a learned constant: use GANSpace at a site (--method ganspace --site bK)";

/// The first layer's weight (`[out, latent_dim]`) of a model file: SeFa's `A`.
pub fn latent_matrix(file: &ModelFile) -> Result<LatentMatrix> {
    if file.meta.generator.constant_input {
        return Err(opts(NO_LATENT));
    }
    // a layer program: its first op, a dense layer or a transposed convolution of the
    // [D, 1, 1] latent without padding (every tap lands in the output)
    if let Some(first) = file
        .meta
        .generator
        .program
        .as_ref()
        .and_then(|p| p.first()?.first())
    {
        let name = format!("{}.0.weight", layer_prefix(0, 0, 0));
        let shape = file.tensors.get(&name).map(|t| t.shape.clone());
        return match (first, shape.as_deref()) {
            (Op::Dense { .. }, Some(&[rows, dim])) => Ok(LatentMatrix {
                a: file.data(&name)?,
                rows,
                dim,
            }),
            (Op::ConvTranspose { padding: 0, .. }, Some(&[d, c, k, _])) => Ok(LatentMatrix {
                a: conv_transpose_latent_matrix(&file.data(&name)?, d, c, k),
                rows: c * k * k,
                dim: d,
            }),
            _ => Err(opts(
                "SeFa needs a first layer that is dense or an unpadded transposed convolution of z; \
                 use GANSpace at a site (--method ganspace --site bK)"
                    .to_string(),
            )),
        };
    }
    let name = format!("{}.linear.weight", layer_prefix(0, 0, 0));
    let shape = file
        .tensors
        .get(&name)
        .map(|t| t.shape.clone())
        .ok_or_else(|| opts(format!("the model has no first dense layer `{name}`")))?;
    let [rows, dim] = shape[..] else {
        return Err(opts(format!("`{name}` has shape {shape:?}, not [out, in]")));
    };
    Ok(LatentMatrix {
        a: file.data(&name)?,
        rows,
        dim,
    })
}

/// SeFa on a model file: the first layer's weight is `A`.
pub fn sefa_model(file: &ModelFile, top: usize) -> Result<Directions> {
    let m = latent_matrix(file)?;
    sefa(&m.a, m.rows, m.dim, top)
}

/// Principal components of the rows of `x` (`[n, d]`, row-major).
#[derive(Clone, Debug)]
pub struct Pca {
    /// The mean row, `[d]`.
    pub mean: Vec<f64>,
    /// Unit axes, largest variance first, each `[d]`.
    pub axes: Vec<Vec<f64>>,
    /// The variance along each axis.
    pub variances: Vec<f64>,
    /// The total variance (sum over all `d` dimensions).
    pub total: f64,
}

/// PCA of `n` rows of dimension `d`, the top `k` axes, through the smaller of the `d x d`
/// covariance and the `n x n` Gram matrix.
pub fn pca(x: &[f32], n: usize, d: usize, k: usize) -> Result<Pca> {
    if n < 2 || d == 0 || x.len() != n * d {
        return Err(opts(format!(
            "PCA needs at least 2 rows of {d} values; got {} values for {n} rows",
            x.len()
        )));
    }
    let mut m = DMatrix::from_row_iterator(n, d, x.iter().map(|&v| f64::from(v))); // [n, d]
    let mean: Vec<f64> = (0..d).map(|j| m.column(j).mean()).collect();
    for (j, &mu) in mean.iter().enumerate() {
        m.column_mut(j).add_scalar_mut(-mu);
    }
    let scale = 1.0 / (n as f64 - 1.0);
    let total = m.iter().map(|v| v * v).sum::<f64>() * scale;
    let small = if d <= n {
        m.transpose() * &m * scale // [d, d] covariance
    } else {
        &m * m.transpose() * scale // [n, n] Gram
    };
    let eig = SymmetricEigen::new(small);
    let mut order: Vec<usize> = (0..eig.eigenvalues.len()).collect();
    order.sort_by(|&i, &j| eig.eigenvalues[j].total_cmp(&eig.eigenvalues[i]));
    let (mut axes, mut variances) = (Vec::new(), Vec::new());
    for i in order.into_iter().take(k.clamp(1, d.min(n))) {
        let lambda = eig.eigenvalues[i].max(0.0);
        let col = eig.eigenvectors.column(i);
        let mut v: Vec<f64> = if d <= n {
            col.iter().copied().collect()
        } else {
            // a Gram eigenvector a maps to the covariance eigenvector Xᵀa (normalised)
            (m.transpose() * col).iter().copied().collect()
        };
        let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
        if norm == 0.0 {
            break;
        }
        v.iter_mut().for_each(|x| *x /= norm);
        orient(&mut v);
        axes.push(v);
        variances.push(lambda);
    }
    Ok(Pca {
        mean,
        axes,
        variances,
        total,
    })
}

/// GANSpace: PCA of `samples` random samples' activations at `site` (`None`: of their
/// latents), the top `top` components. Samples are rows `0..samples` of `seed` (random
/// paths for an RPGAN).
pub async fn ganspace(
    r: &mut dyn Renderer,
    site: Option<usize>,
    samples: usize,
    top: usize,
    seed: u64,
) -> Result<Directions> {
    let cfg: GeneratorConfig = r.config().clone();
    if samples < 2 {
        return Err(opts("GANSpace needs at least 2 samples"));
    }
    let latent = !cfg.constant_input;
    let (source, d) = match site {
        None if !latent => {
            return Err(opts(
                "this RPGAN has no latent z to analyse: give GANSpace a site (--site bK)",
            ))
        }
        None => (LATENT.to_string(), cfg.latent_dim),
        Some(i) => {
            let sites = site_shapes(&cfg);
            let [c, h, w] = sites
                .get(i)
                .ok_or_else(|| opts(format!("site {} does not exist", site_name(i))))?
                .1;
            (site_name(i), c * h * w)
        }
    };
    let (mut acts, mut zs) = (Vec::with_capacity(samples * d), Vec::new());
    let none = Resolved::default_for(&cfg);
    for start in (0..samples).step_by(CHUNK) {
        let batch = sample_rows(&cfg, seed, None, start..(start + CHUNK).min(samples));
        if let Some(z) = &batch.z {
            zs.extend_from_slice(z);
        }
        match site {
            None => acts.extend_from_slice(batch.z.as_deref().unwrap_or_default()),
            Some(i) => acts.extend(r.render(&batch, &none, &[i]).await?.sites.remove(0)),
        }
    }
    let p = pca(&acts, samples, d, top)?;
    let mut directions = Vec::new();
    let mut earlier: Vec<Vec<f64>> = Vec::new(); // the z-space directions so far, unit
    for (axis, &var) in p.axes.iter().zip(&p.variances) {
        let value = if p.total > 0.0 { var / p.total } else { 0.0 };
        if site.is_none() || !latent {
            let sigma = var.sqrt() as f32;
            let vector = unit(axis);
            directions.push(Direction {
                value,
                sigma,
                vector,
            });
            continue;
        }
        // carried to z: u = Σ_j x_j z_j / Σ_j x_j^2 with x_j the coordinate of sample j
        let dz = cfg.latent_dim;
        let (mut u, mut xx) = (vec![0.0f64; dz], 0.0f64);
        for j in 0..samples {
            let row = &acts[j * d..(j + 1) * d];
            let x: f64 = row
                .iter()
                .zip(axis)
                .zip(&p.mean)
                .map(|((&a, &v), &m)| (f64::from(a) - m) * v)
                .sum();
            xx += x * x;
            for (acc, &z) in u.iter_mut().zip(&zs[j * dz..(j + 1) * dz]) {
                *acc += x * f64::from(z);
            }
        }
        if xx > 0.0 {
            u.iter_mut().for_each(|v| *v /= xx);
        }
        for e in &earlier {
            let dot: f64 = u.iter().zip(e).map(|(a, b)| a * b).sum();
            u.iter_mut().zip(e).for_each(|(a, b)| *a -= dot * b);
        }
        let norm = u.iter().map(|v| v * v).sum::<f64>().sqrt();
        if norm < 1e-9 {
            break; // more components than the latent has dimensions
        }
        u.iter_mut().for_each(|v| *v /= norm);
        orient(&mut u);
        earlier.push(u.clone());
        directions.push(Direction {
            value,
            sigma: 1.0,
            vector: unit(&u),
        });
    }
    Ok(Directions {
        method: Method::Ganspace,
        site: if latent {
            LATENT.into()
        } else {
            source.clone()
        },
        source,
        samples,
        directions,
    })
}
