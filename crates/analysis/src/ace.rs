//! The causal effect of units on a concept (GAN Dissection sec. 3.2, eq. 4): each unit's
//! insertion value from a sample, the ACE of ablating versus inserting a unit set, and a
//! greedy ranking. The alpha optimisation of eq. 6 is in [`crate::alpha`].

use ganscope_model::generator::site_name;
use ganscope_model::intervention::{Interventions, PerUnit, Region, UnitEdit};
use serde::Serialize;

use crate::dissect::{sample, Sample, Segmenter};
use crate::renderer::Renderer;
use crate::{opts, Result};

/// Mean share of pixels of `concept` over images `[n, C, S, S]`.
pub fn concept_share(
    images: &[f32],
    n: usize,
    channels: usize,
    seg: &dyn Segmenter,
    concept: usize,
) -> f64 {
    let per = images.len() / n.max(1);
    let mut s = 0.0;
    for i in 0..n {
        let m = seg.segment(&images[i * per..(i + 1) * per], channels);
        let Some(mk) = m.get(concept) else {
            return 0.0;
        };
        s += mk.iter().filter(|&&b| b).count() as f64 / mk.len().max(1) as f64;
    }
    s / n.max(1) as f64
}

/// Each unit's mean activation where the concept is present (GAN Dissection S-6.4: the
/// insertion value k), from a sample; the concept mask is pooled to the site's grid.
pub fn concept_means(
    s: &Sample,
    seg: &dyn Segmenter,
    channels: usize,
    size: usize,
    concept: usize,
) -> Vec<f32> {
    let [c, h, w] = s.shape;
    let hw = h * w;
    let per = channels * size * size;
    let mut sum = vec![0f64; c];
    let mut cnt = 0f64;
    for i in 0..s.frames.n {
        let masks = seg.segment(&s.frames.images[i * per..(i + 1) * per], channels);
        let Some(m) = masks.get(concept) else {
            break;
        };
        for y in 0..h {
            for x in 0..w {
                // the share of the cell's image pixels that show the concept
                let (y0, y1) = (y * size / h, ((y + 1) * size / h).max(y * size / h + 1));
                let (x0, x1) = (x * size / w, ((x + 1) * size / w).max(x * size / w + 1));
                let mut on = 0.0;
                for yy in y0..y1 {
                    for xx in x0..x1 {
                        on += f64::from(u8::from(m[yy * size + xx]));
                    }
                }
                let wgt = on / ((y1 - y0) * (x1 - x0)) as f64;
                cnt += wgt;
                for (u, acc) in sum.iter_mut().enumerate() {
                    *acc += wgt * f64::from(s.frames.sites[0][(i * c + u) * hw + y * w + x]);
                }
            }
        }
    }
    sum.iter().map(|v| (v / cnt.max(1e-12)) as f32).collect()
}

/// The causal effect of a unit set on a concept.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CausalEffect {
    /// Units.
    pub units: Vec<usize>,
    /// `E[s_c(x)]`: the concept's share without intervention.
    pub base: f64,
    /// `E[s_c(x_ablate)]`.
    pub ablated: f64,
    /// `E[s_c(x_insert)]`.
    pub inserted: f64,
    /// ACE = `(E[s_c(x_insert)] - E[s_c(x_ablate)]) / E[s_c(x)]` (eq. 4, normalised).
    pub ace: f64,
    /// The share ablation removes: `(E[s_c(x)] - E[s_c(x_ablate)]) / E[s_c(x)]`.
    pub ablation_effect: f64,
}

/// The share of `concept` in `n` samples of `seed` under `iv`.
#[allow(clippy::too_many_arguments)]
async fn share(
    r: &mut dyn Renderer,
    seg: &dyn Segmenter,
    site: usize,
    iv: &Interventions,
    concept: usize,
    n: usize,
    seed: u64,
) -> Result<f64> {
    let ch = r.config().channels;
    let s = sample(r, site, n, seed, iv).await?;
    Ok(concept_share(&s.frames.images, n, ch, seg, concept))
}

/// The concept's share without intervention; an error when the concept is unknown or never
/// appears (its effect is then undefined).
async fn base_share(
    r: &mut dyn Renderer,
    seg: &dyn Segmenter,
    site: usize,
    concept: usize,
    n: usize,
    seed: u64,
) -> Result<f64> {
    let names = seg.concepts();
    let name = names.get(concept).ok_or_else(|| {
        opts(format!(
            "concept {concept}; the segmenter has {}",
            names.len()
        ))
    })?;
    let base = share(r, seg, site, &Interventions::default(), concept, n, seed).await?;
    if base <= 0.0 {
        return Err(opts(format!(
            "`{name}` never appears in the {n} samples, so its causal effect is undefined"
        )));
    }
    Ok(base)
}

/// ACE of `units` at `site` on `concept` over `n` samples of `seed`: ablation sets them to 0,
/// insertion to `values` (one per unit, e.g. [`concept_means`]), both inside `region`.
#[allow(clippy::too_many_arguments)]
pub async fn causal_effect(
    r: &mut dyn Renderer,
    seg: &dyn Segmenter,
    site: usize,
    units: &[usize],
    values: &[f32],
    region: Option<Region>,
    concept: usize,
    n: usize,
    seed: u64,
) -> Result<CausalEffect> {
    let base = base_share(r, seg, site, concept, n, seed).await?;
    effect(r, seg, site, units, values, region, concept, n, seed, base).await
}

#[allow(clippy::too_many_arguments)]
async fn effect(
    r: &mut dyn Renderer,
    seg: &dyn Segmenter,
    site: usize,
    units: &[usize],
    values: &[f32],
    region: Option<Region>,
    concept: usize,
    n: usize,
    seed: u64,
    base: f64,
) -> Result<CausalEffect> {
    let edit = |value: PerUnit| Interventions {
        edits: vec![UnitEdit {
            site: site_name(site),
            units: units.to_vec(),
            strength: PerUnit::All(1.0),
            value,
            region: region.clone(),
        }],
        ..Default::default()
    };
    let ablated = share(r, seg, site, &edit(PerUnit::All(0.0)), concept, n, seed).await?;
    let inserted = share(
        r,
        seg,
        site,
        &edit(PerUnit::Each(values.to_vec())),
        concept,
        n,
        seed,
    )
    .await?;
    Ok(CausalEffect {
        units: units.to_vec(),
        base,
        ablated,
        inserted,
        ace: (inserted - ablated) / base,
        ablation_effect: (base - ablated) / base,
    })
}

/// Ranks units by their single-unit ACE and returns the ACE of the top 1..=`top` sets
/// (greedy by the single-unit ranking, GAN Dissection sec. 3.2).
#[allow(clippy::too_many_arguments)]
pub async fn rank_units(
    r: &mut dyn Renderer,
    seg: &dyn Segmenter,
    site: usize,
    values: &[f32],
    concept: usize,
    top: usize,
    n: usize,
    seed: u64,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<(Vec<CausalEffect>, Vec<CausalEffect>)> {
    let c = values.len();
    let top = top.min(c);
    let base = base_share(r, seg, site, concept, n, seed).await?;
    let mut single = Vec::with_capacity(c);
    for u in 0..c {
        single.push(
            effect(
                r,
                seg,
                site,
                &[u],
                &values[u..=u],
                None,
                concept,
                n,
                seed,
                base,
            )
            .await?,
        );
        progress(u + 1, c + top);
    }
    let mut order: Vec<usize> = (0..c).collect();
    order.sort_by(|&a, &b| single[b].ace.total_cmp(&single[a].ace));
    let mut sets = Vec::new();
    for t in 1..=top {
        let us: Vec<usize> = order[..t].to_vec();
        let vs: Vec<f32> = us.iter().map(|&u| values[u]).collect();
        sets.push(effect(r, seg, site, &us, &vs, None, concept, n, seed, base).await?);
        progress(c + t, c + top);
    }
    Ok((single, sets))
}
