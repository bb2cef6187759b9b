//! Moves along latent directions as intervention data (SeFa, Shen & Zhou 2021; GANSpace,
//! Härkönen et al. 2020): a shift adds `amount * vector` to the latent z of every row, or
//! to the activations of a site. Like a unit edit it applies to every row of a batch
//! (donors included), so it composes with paths, unit edits and hybrids; at a site it
//! applies before the site's unit edits. A shift of amount 0 is dropped when resolved, so
//! moving by 0 renders the original bit for bit.

use crate::config::GeneratorConfig;
use crate::generator::site_shapes;
use crate::{Error, Result};
use serde::{Deserialize, Serialize};

/// The `site` of a shift that moves the latent.
pub const LATENT: &str = "z";

/// The largest `|amount|` accepted (directions are scaled to one standard deviation).
pub const MAX_AMOUNT: f32 = 100.0;

/// A move along a direction: `x' = x + amount * vector` at `site`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Shift {
    /// `z` (the latent of a standard GAN) or a site name (`b1`..`bn`).
    pub site: String,
    /// The direction, usually scaled to one standard deviation of the samples along it:
    /// `latent_dim` values for `z`, `C*H*W` (row-major `[C, H, W]`) at a site.
    pub vector: Vec<f32>,
    /// How far to move, in units of `vector`.
    pub amount: f32,
}

fn bad(m: String) -> Error {
    Error::InvalidIntervention(m)
}

/// Where a checked shift moves: the latent, or a site by index.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Place {
    Latent,
    Site(usize),
}

/// Checks one shift against the model: its place and the length its vector needs.
fn place(
    cfg: &GeneratorConfig,
    sites: &[(String, [usize; 3])],
    s: &Shift,
) -> Result<(Place, usize)> {
    if !(s.amount.is_finite() && s.amount.abs() <= MAX_AMOUNT) {
        return Err(bad(format!(
            "a shift's amount must be a number in [-{MAX_AMOUNT}, {MAX_AMOUNT}], not {}",
            s.amount
        )));
    }
    if s.vector.iter().any(|v| !v.is_finite()) {
        return Err(bad(format!(
            "the shift at {} has a value that is not a finite number",
            s.site.chars().take(16).collect::<String>()
        )));
    }
    let (at, len) = if s.site == LATENT {
        if cfg.constant_input {
            return Err(bad(
                "this RPGAN starts from a learned constant, not a latent z: shift the \
                 activations of a site (b1..bn) instead"
                    .into(),
            ));
        }
        (Place::Latent, cfg.latent_dim)
    } else {
        let Some(i) = sites.iter().position(|(n, _)| *n == s.site) else {
            return Err(Error::UnknownSite {
                name: s.site.chars().take(64).collect(),
                known: std::iter::once(LATENT.to_string())
                    .chain(sites.iter().map(|s| s.0.clone()))
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        };
        let [c, h, w] = sites[i].1;
        (Place::Site(i), c * h * w)
    };
    if s.vector.len() != len {
        return Err(bad(format!(
            "the shift at {} has {} values; it needs {len}",
            s.site,
            s.vector.len()
        )));
    }
    Ok((at, len))
}

/// Adds `amount * vector` of `s` into `sum` (created at `len` zeros).
fn accumulate(sum: &mut Option<Vec<f32>>, s: &Shift, len: usize) {
    if s.amount == 0.0 {
        return;
    }
    let sum = sum.get_or_insert_with(|| vec![0.0; len]);
    for (acc, v) in sum.iter_mut().zip(&s.vector) {
        *acc += s.amount * v;
    }
}

/// Checks every shift against the model and sums those at each site (`None`: nothing moves
/// there); latent shifts are checked here and applied by [`latent_shift`].
pub fn site_shifts(cfg: &GeneratorConfig, shifts: &[Shift]) -> Result<Vec<Option<Vec<f32>>>> {
    let sites = site_shapes(cfg);
    let mut out = vec![None; sites.len()];
    for s in shifts {
        if let (Place::Site(i), len) = place(cfg, &sites, s)? {
            accumulate(&mut out[i], s, len);
        }
    }
    Ok(out)
}

/// The sum of the latent shifts, `[latent_dim]` (`None`: z does not move); only they are
/// checked here.
pub fn latent_shift(cfg: &GeneratorConfig, shifts: &[Shift]) -> Result<Option<Vec<f32>>> {
    let mut out = None;
    for s in shifts.iter().filter(|s| s.site == LATENT) {
        let (_, len) = place(cfg, &[], s)?;
        accumulate(&mut out, s, len);
    }
    Ok(out)
}

/// Adds the latent shift to every row of `z` (`[rows, latent_dim]`, row-major).
pub fn shift_latents(shift: Option<&[f32]>, z: &mut [f32]) {
    if let Some(s) = shift.filter(|s| !s.is_empty()) {
        for row in z.chunks_mut(s.len()) {
            for (x, d) in row.iter_mut().zip(s) {
                *x += d;
            }
        }
    }
}
