//! Deterministic sampling: seeded latents and paths, hybrid donors, and the one render
//! function every backend and front end calls.

use crate::backend::Backend;
use crate::config::GeneratorConfig;
use crate::generator::Generator;
use crate::intervention::{Interventions, Resolved};
use crate::{Error, Result};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Largest batch a single render accepts.
pub const MAX_BATCH: usize = 4096;

/// `n` standard-normal vectors of `dim` from `seed` (Box-Muller over a seeded ChaCha
/// stream): sample i of a seed is the same whatever n is.
pub fn latents(seed: u64, n: usize, dim: usize) -> Vec<f32> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut out = Vec::with_capacity(n * dim);
    while out.len() < n * dim {
        let u1: f64 = rng.random::<f64>().max(f64::MIN_POSITIVE);
        let u2: f64 = rng.random();
        let r = (-2.0 * u1.ln()).sqrt();
        let t = std::f64::consts::TAU * u2;
        out.push((r * t.cos()) as f32);
        out.push((r * t.sin()) as f32);
    }
    out.truncate(n * dim);
    out
}

/// `n` uniformly random paths from `seed` (the path stream is independent of the latents).
pub fn random_paths(seed: u64, n: usize, blocks: &[usize]) -> Vec<Vec<usize>> {
    let mut rng = StdRng::seed_from_u64(seed ^ 0x9e37_79b9_7f4a_7c15);
    (0..n)
        .map(|_| blocks.iter().map(|&m| rng.random_range(0..m)).collect())
        .collect()
}

/// What one render computes: latents, paths and hybrid donors for every batch row.
#[derive(Clone, Debug, PartialEq)]
pub struct Batch {
    /// `[rows, latent_dim]` row-major, or `None` for a constant-input RPGAN.
    pub z: Option<Vec<f32>>,
    /// One path per row.
    pub paths: Vec<Vec<usize>>,
    /// The row each row takes hybrid channels from (itself when no hybrid).
    pub donors: Vec<usize>,
    /// Rows returned (the first `n`; donors follow them).
    pub n: usize,
}

impl Batch {
    /// The batch for `n` samples of `seed` under `iv`: row i is sample i; with a hybrid,
    /// rows n..2n are the donors (seed `donor_seed`, default seed + 1).
    pub fn new(cfg: &GeneratorConfig, seed: u64, n: usize, iv: &Interventions) -> Result<Self> {
        if n == 0 || n > MAX_BATCH {
            return Err(Error::Shape(format!(
                "batch of {n} is outside 1..={MAX_BATCH}"
            )));
        }
        let blocks = cfg.blocks();
        let paths_for = |s: u64, fixed: &Option<Vec<usize>>| match fixed {
            Some(p) => vec![p.clone(); n],
            None => random_paths(s, n, &blocks),
        };
        let z_for = |s: u64| (!cfg.constant_input).then(|| latents(s, n, cfg.latent_dim));
        let mut b = Batch {
            z: z_for(seed),
            paths: paths_for(seed, &iv.path),
            donors: (0..n).collect(),
            n,
        };
        if let Some(h) = &iv.hybrid {
            let ds = h.donor_seed.unwrap_or(seed.wrapping_add(1));
            b.paths.extend(paths_for(ds, &h.donor_path));
            if let (Some(z), Some(dz)) = (&mut b.z, z_for(ds)) {
                z.extend(dz);
            }
            b.donors = (n..2 * n).chain(n..2 * n).collect();
        }
        if let Some(z) = &mut b.z {
            let shift = crate::shift::latent_shift(cfg, &iv.shifts)?;
            crate::shift::shift_latents(shift.as_deref(), z);
        }
        Ok(b)
    }

    /// The batch of the given latents `z` (`[n, latent_dim]` row-major, e.g. from another
    /// framework, to compare with it): as [`Batch::new`] with `z` in place of the seed's
    /// latents (a hybrid's donors still come from the seed).
    pub fn from_latents(
        cfg: &GeneratorConfig,
        seed: u64,
        z: &[f32],
        iv: &Interventions,
    ) -> Result<Self> {
        let d = cfg.latent_dim;
        if cfg.constant_input {
            return Err(Error::Shape(
                "this RPGAN starts from a learned constant; it takes no latents".into(),
            ));
        }
        if z.is_empty() || z.len() % d != 0 {
            return Err(Error::Shape(format!(
                "{} latent values are not whole rows of {d}",
                z.len()
            )));
        }
        let n = z.len() / d;
        let mut b = Self::new(cfg, seed, n, iv)?;
        let mut given = z.to_vec();
        let shift = crate::shift::latent_shift(cfg, &iv.shifts)?;
        crate::shift::shift_latents(shift.as_deref(), &mut given);
        if let Some(bz) = &mut b.z {
            bz[..n * d].copy_from_slice(&given);
        }
        Ok(b)
    }

    /// The RPGAN path grid (RPGAN paper, Figure 3): starting from `base`, row i varies bucket
    /// i over all its blocks, the others fixed; rows are padded to the widest bucket by
    /// repeating its last block. Every cell uses sample 0's latent of `seed`. Returns the
    /// batch (row-major, `buckets x widest` cells) and the widest bucket's block count.
    pub fn vary_buckets(cfg: &GeneratorConfig, seed: u64, base: &[usize]) -> Result<(Self, usize)> {
        let blocks = cfg.blocks();
        let cols = blocks.iter().copied().max().unwrap_or(1);
        let paths: Vec<Vec<usize>> = blocks
            .iter()
            .enumerate()
            .flat_map(|(i, &m)| {
                (0..cols).map(move |j| {
                    let mut p = base.to_vec();
                    if let Some(s) = p.get_mut(i) {
                        *s = j.min(m - 1);
                    }
                    p
                })
            })
            .collect();
        let n = paths.len();
        if n > MAX_BATCH {
            return Err(Error::Shape(format!(
                "a grid of {n} cells is more than {MAX_BATCH}"
            )));
        }
        let z = (!cfg.constant_input).then(|| latents(seed, 1, cfg.latent_dim).repeat(n));
        Ok((
            Batch {
                z,
                paths,
                donors: (0..n).collect(),
                n,
            },
            cols,
        ))
    }

    /// Rows in the batch (samples and donors).
    pub fn rows(&self) -> usize {
        self.paths.len()
    }

    /// Checks that rows, samples, donors and latents agree (a batch built by hand may not).
    pub fn check(&self) -> Result<()> {
        let rows = self.rows();
        if rows == 0 || self.n == 0 || self.n > rows || self.donors.len() != rows {
            return Err(Error::Shape(format!(
                "a batch of {rows} rows, {} samples and {} donors",
                self.n,
                self.donors.len()
            )));
        }
        if let Some(d) = self.donors.iter().find(|&&d| d >= rows) {
            return Err(Error::Shape(format!("donor row {d} of a batch of {rows}")));
        }
        if self.z.as_ref().is_some_and(|z| z.len() % rows != 0) {
            return Err(Error::Shape(format!(
                "latents do not divide into {rows} rows"
            )));
        }
        Ok(())
    }
}

/// Renders a batch: `[n, C, S, S]` images in [-1, 1]. `observe(site, x)` sees every site's
/// activation after the interventions (all rows, donors included).
pub fn render<B: Backend>(
    g: &Generator<B::Tensor>,
    b: &B,
    batch: &Batch,
    resolved: &Resolved,
    observe: &mut dyn FnMut(usize, &B::Tensor) -> Result<()>,
) -> Result<B::Tensor> {
    let z = match &batch.z {
        Some(z) => Some(b.tensor(z.clone(), &[batch.rows(), g.config.latent_dim])?), // [R, D]
        None => None,
    };
    let mut hook = |site: usize, x: B::Tensor| {
        let x = resolved.apply(b, site, x, &batch.donors)?;
        observe(site, &x)?;
        Ok(x)
    };
    let y = g.forward(b, z.as_ref(), &batch.paths, &mut hook)?; // [R, C, S, S]
    if batch.rows() == batch.n {
        Ok(y)
    } else {
        b.select_batch(&y, &(0..batch.n).collect::<Vec<_>>()) // [n, C, S, S]
    }
}

/// Converts `[N, C, H, W]` values in [-1, 1] to 8-bit, same layout.
pub fn to_u8(data: &[f32]) -> Vec<u8> {
    data.iter()
        .map(|&v| (((v.clamp(-1.0, 1.0) + 1.0) * 127.5).round()) as u8)
        .collect()
}
