//! Interventions as plain serde data (docs/design.md, "Interventions"), checked against a
//! model's sites and applied at the forward's site hook through [`Backend`] operations.
//!
//! At each site, direction shifts ([`crate::shift`]) apply first, then unit edits (to every
//! sample of the batch, in list order), then the hybrid swap.

use crate::backend::Backend;
use crate::config::GeneratorConfig;
use crate::generator::site_shapes;
use crate::shift::{site_shifts, Shift};
use crate::{Error, Result};
use serde::{Deserialize, Serialize};

/// Largest JSON intervention accepted (bytes).
pub const MAX_JSON: usize = 4 << 20;

/// A path, unit edits and a hybrid, composed.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Interventions {
    /// One block index per bucket (RPGAN); every sample takes it. `None`: random paths.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<Vec<usize>>,
    /// Unit edits, applied in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub edits: Vec<UnitEdit>,
    /// A hybrid with a second sample.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hybrid: Option<Hybrid>,
    /// Moves along latent directions (SeFa, GANSpace), of z or of a site's activations.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shifts: Vec<Shift>,
}

/// A number for every unit, or one per unit listed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum PerUnit {
    /// The same for every unit.
    All(f32),
    /// One per unit, in the order of `units`.
    Each(Vec<f32>),
}

/// GAN Dissection's unit edit: `r' = (1 - a_u m_p) r + a_u m_p k_u`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnitEdit {
    /// Site name (`b1`..`bn`).
    pub site: String,
    /// Channel indices.
    pub units: Vec<usize>,
    /// Strength a in [0, 1]; default 1.
    #[serde(default = "one")]
    pub strength: PerUnit,
    /// Value k; default 0 (ablation).
    #[serde(default = "zero")]
    pub value: PerUnit,
    /// Region P; default the whole site.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<Region>,
}

fn one() -> PerUnit {
    PerUnit::All(1.0)
}
fn zero() -> PerUnit {
    PerUnit::All(0.0)
}

/// A spatial region of a site.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Region {
    /// The cells whose centres lie in `[top, bottom) x [left, right)`, in fractions of the
    /// site's height and width.
    Rect {
        /// Upper edge in [0, 1].
        top: f32,
        /// Left edge in [0, 1].
        left: f32,
        /// Lower edge in [0, 1].
        bottom: f32,
        /// Right edge in [0, 1].
        right: f32,
    },
    /// An explicit mask with the site's exact height and width, values in [0, 1].
    Mask {
        /// Rows.
        height: usize,
        /// Columns.
        width: usize,
        /// Row-major values.
        data: Vec<f32>,
    },
}

/// A hybrid (Besserve et al.) or concept exchange (Li et al.): channels `channels` of site
/// `site` (inside `region`) come from a second sample, the donor.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hybrid {
    /// Site name.
    pub site: String,
    /// The channel set S.
    pub channels: Vec<usize>,
    /// Optional spatial mask; default the whole site.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<Region>,
    /// Seed of the donor's latent (and random path); default the sample seed + 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub donor_seed: Option<u64>,
    /// The donor's path (RPGAN); default random from the donor seed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub donor_path: Option<Vec<usize>>,
}

impl Interventions {
    /// Parses JSON with a size limit and unknown fields rejected.
    pub fn from_json(s: &str) -> Result<Self> {
        if s.len() > MAX_JSON {
            return Err(Error::InvalidIntervention(format!(
                "{} bytes of JSON is more than the {MAX_JSON} allowed",
                s.len()
            )));
        }
        serde_json::from_str(s).map_err(|e| Error::InvalidIntervention(e.to_string()))
    }
}

/// A unit edit resolved against its site.
#[derive(Clone, Debug, PartialEq)]
pub struct EditVectors {
    /// Strength per channel, `[C]` (0 for units not edited).
    pub alpha: Vec<f32>,
    /// Value per channel, `[C]`.
    pub value: Vec<f32>,
    /// Region, `[H*W]`.
    pub mask: Vec<f32>,
}

/// A hybrid resolved against its site.
#[derive(Clone, Debug, PartialEq)]
pub struct MixVectors {
    /// 1 for the swapped channels, `[C]`.
    pub channels: Vec<f32>,
    /// Region, `[H*W]`.
    pub mask: Vec<f32>,
}

/// Edits and hybrid resolved to per-site vectors for one model.
#[derive(Clone, Debug, Default)]
pub struct Resolved {
    /// Per site, the edits in order.
    pub edits: Vec<Vec<EditVectors>>,
    /// Per site, the hybrid.
    pub mix: Vec<Option<MixVectors>>,
    /// Per site, the direction shifts summed (`[C*H*W]`); a latent shift is applied to the
    /// latents by [`crate::sample::Batch::new`].
    pub shifts: Vec<Option<Vec<f32>>>,
}

fn site_index(cfg: &GeneratorConfig, name: &str) -> Result<(usize, [usize; 3])> {
    let sites = site_shapes(cfg);
    sites
        .iter()
        .position(|(n, _)| n == name)
        .map(|i| (i, sites[i].1))
        .ok_or_else(|| Error::UnknownSite {
            name: name.chars().take(64).collect(),
            known: sites
                .iter()
                .map(|s| s.0.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        })
}

fn bad(m: String) -> Error {
    Error::InvalidIntervention(m)
}

/// The mask of a region at a site of `h` x `w` (all ones when `None`).
pub fn region_mask(region: Option<&Region>, h: usize, w: usize) -> Result<Vec<f32>> {
    match region {
        None => Ok(vec![1.0; h * w]),
        Some(Region::Rect {
            top,
            left,
            bottom,
            right,
        }) => {
            let ok = |v: f32| v.is_finite() && (0.0..=1.0).contains(&v);
            if !(ok(*top) && ok(*left) && ok(*bottom) && ok(*right)) {
                return Err(bad("rect edges must be numbers in [0, 1]".into()));
            }
            Ok((0..h * w)
                .map(|p| {
                    let (y, x) = ((p / w) as f32 + 0.5, (p % w) as f32 + 0.5);
                    let inside = y >= top * h as f32
                        && y < bottom * h as f32
                        && x >= left * w as f32
                        && x < right * w as f32;
                    f32::from(u8::from(inside))
                })
                .collect())
        }
        Some(Region::Mask {
            height,
            width,
            data,
        }) => {
            if (*height, *width) != (h, w) || data.len() != h * w {
                return Err(bad(format!(
                    "mask is {height}x{width} with {} values; the site is {h}x{w}",
                    data.len()
                )));
            }
            if data
                .iter()
                .any(|v| !(v.is_finite() && (0.0..=1.0).contains(v)))
            {
                return Err(bad("mask values must be numbers in [0, 1]".into()));
            }
            Ok(data.clone())
        }
    }
}

fn per_unit(p: &PerUnit, n: usize, what: &str, range: Option<(f32, f32)>) -> Result<Vec<f32>> {
    let v = match p {
        PerUnit::All(x) => vec![*x; n],
        PerUnit::Each(v) if v.len() == n => v.clone(),
        PerUnit::Each(v) => {
            return Err(bad(format!("{what} has {} values for {n} units", v.len())));
        }
    };
    if let Some(x) = v.iter().find(|x| !x.is_finite()) {
        return Err(bad(format!("{what} {x} is not a finite number")));
    }
    if let Some((lo, hi)) = range {
        if let Some(x) = v.iter().find(|x| !(lo..=hi).contains(*x)) {
            return Err(bad(format!("{what} {x} is outside [{lo}, {hi}]")));
        }
    }
    Ok(v)
}

fn check_units(units: &[usize], c: usize, site: &str) -> Result<()> {
    if units.is_empty() {
        return Err(bad(format!("no units listed for site {site}")));
    }
    if let Some(u) = units.iter().find(|&&u| u >= c) {
        return Err(bad(format!(
            "unit {u} does not exist at site {site} (it has {c} units, 0..={})",
            c - 1
        )));
    }
    Ok(())
}

impl Resolved {
    /// No interventions for a model.
    pub fn default_for(cfg: &GeneratorConfig) -> Self {
        let n = cfg.buckets.len();
        Resolved {
            edits: vec![Vec::new(); n],
            mix: vec![None; n],
            shifts: vec![None; n],
        }
    }

    /// Checks `iv` against the model's sites and builds the per-site vectors.
    pub fn new(cfg: &GeneratorConfig, iv: &Interventions) -> Result<Self> {
        let mut r = Resolved::default_for(cfg);
        r.shifts = site_shifts(cfg, &iv.shifts)?;
        for e in &iv.edits {
            let (si, [c, h, w]) = site_index(cfg, &e.site)?;
            check_units(&e.units, c, &e.site)?;
            let a = per_unit(&e.strength, e.units.len(), "strength", Some((0.0, 1.0)))?;
            let k = per_unit(&e.value, e.units.len(), "value", None)?;
            let (mut alpha, mut value) = (vec![0.0; c], vec![0.0; c]);
            for (i, &u) in e.units.iter().enumerate() {
                alpha[u] = a[i];
                value[u] = k[i];
            }
            let mask = region_mask(e.region.as_ref(), h, w)?;
            r.edits[si].push(EditVectors { alpha, value, mask });
        }
        if let Some(hy) = &iv.hybrid {
            let (si, [c, h, w]) = site_index(cfg, &hy.site)?;
            check_units(&hy.channels, c, &hy.site)?;
            let mut ch = vec![0.0; c];
            for &u in &hy.channels {
                ch[u] = 1.0;
            }
            r.mix[si] = Some(MixVectors {
                channels: ch,
                mask: region_mask(hy.region.as_ref(), h, w)?,
            });
        }
        Ok(r)
    }

    /// Applies the shift and the unit edits resolved for site `site` to `x [N, C, H, W]`, in
    /// order (every forward calls this one function: plain, prefix-reusing and hybrid
    /// renders alike).
    pub fn apply_edits<B: Backend>(&self, b: &B, site: usize, x: B::Tensor) -> Result<B::Tensor> {
        let mut x = x;
        if let Some(add) = self.shifts.get(site).and_then(|s| s.as_ref()) {
            let dims = b.dims(&x); // [N, C, H, W]
            let mut one = dims.clone();
            one[0] = 1;
            let t = b.tensor(add.clone(), &one)?; // [1, C, H, W]
            let t = b.repeat_batch(&t, dims[0])?; // [N, C, H, W]
            x = b.add(&x, &t)?; // [N, C, H, W]
        }
        for e in &self.edits[site] {
            x = b.unit_edit(&x, &e.alpha, &e.value, &e.mask)?; // [N, C, H, W]
        }
        Ok(x)
    }

    /// Applies what is resolved for site `site` to `x`; `donor[n]` is the batch row sample
    /// n takes the hybrid channels from.
    pub fn apply<B: Backend>(
        &self,
        b: &B,
        site: usize,
        x: B::Tensor,
        donor: &[usize],
    ) -> Result<B::Tensor> {
        let mut x = self.apply_edits(b, site, x)?; // [N, C, H, W]
        if let Some(m) = &self.mix[site] {
            x = b.mix(&x, donor, &m.channels, &m.mask)?; // [N, C, H, W]
        }
        Ok(x)
    }
}
