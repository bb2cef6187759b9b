//! Counterfactual influence maps and modules (Besserve et al. sec. 3.2-3.3).
//!
//! For channel k of a site, pairs `(z1, z2)` give hybrids with channel k from `z2` and every
//! other channel from `z1`. The influence map is the per-pixel variance over the pairs of
//! `hybrid - original 1`, averaged over colour: the fluctuation the swap alone causes (the
//! variance of the hybrid itself would add every pixel's variation across `z1` to every
//! map). All channels of a site run as one job: each sample goes to the site once, and the
//! tails of many channels' hybrids are batched ([`Renderer::hybrid_sets`]).
//!
//! Modules: each map is box-smoothed, thresholded at its 75th percentile, the binary
//! `[channels, pixels]` matrix is factorised by NMF at rank K, the K rows of H are the
//! module templates and each channel joins the module of its largest weight in W.

use ganscope_model::intervention::{Hybrid, Interventions, MixVectors, Resolved};
use ganscope_model::sample::Batch;
use serde::Serialize;

use crate::nmf::nmf;
use crate::renderer::{image_len, Renderer};
use crate::{opts, Result};

/// Rows (hybrids) rendered per pass.
const ROWS_PER_PASS: usize = 1024;

/// Influence maps of every channel of a site.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct InfluenceMaps {
    /// Site index.
    pub site: usize,
    /// Channels of the site.
    pub channels: usize,
    /// Image side.
    pub size: usize,
    /// Pairs averaged.
    pub pairs: usize,
    /// `[channels, size * size]`.
    pub maps: Vec<f32>,
}

/// The pairs of samples of `seed` (donors from `seed + 1`) used for hybrids at `site`.
pub fn pair_batch(r: &dyn Renderer, site: usize, pairs: usize, seed: u64) -> Result<Batch> {
    let cfg = r.config();
    let name = ganscope_model::generator::site_name(site);
    let iv = Interventions {
        hybrid: Some(Hybrid {
            site: name,
            channels: vec![],
            region: None,
            donor_seed: Some(seed.wrapping_add(1)),
            donor_path: None,
        }),
        ..Default::default()
    };
    Ok(Batch::new(cfg, seed, pairs, &iv)?)
}

/// A channel set of `c` channels (ones on `on`) over a whole `h*w` site.
pub fn channel_set(c: usize, hw: usize, on: &[usize]) -> MixVectors {
    let mut channels = vec![0.0; c];
    for &k in on {
        if let Some(x) = channels.get_mut(k) {
            *x = 1.0;
        }
    }
    MixVectors {
        channels,
        mask: vec![1.0; hw],
    }
}

/// Influence maps of every channel of `site` over `pairs` sample pairs of `seed`.
/// `progress(done, total)` counts channels.
pub async fn influence_maps(
    r: &mut dyn Renderer,
    site: usize,
    pairs: usize,
    seed: u64,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<InfluenceMaps> {
    let cfg = r.config().clone();
    let shapes = ganscope_model::generator::site_shapes(&cfg);
    let [c, h, w] = shapes
        .get(site)
        .ok_or_else(|| opts(format!("site index {site}; the model has {}", shapes.len())))?
        .1;
    if pairs < 2 {
        return Err(opts("influence maps need at least 2 pairs"));
    }
    let batch = pair_batch(r, site, pairs, seed)?;
    let resolved = Resolved::default_for(&cfg);
    let per = image_len(&cfg);
    let px = cfg.image_size * cfg.image_size;
    let originals = r
        .hybrid_sets(&batch, &resolved, site, &[channel_set(c, h * w, &[])])
        .await?;
    let per_pass = (ROWS_PER_PASS / pairs).max(1);
    let mut maps = Vec::with_capacity(c * px);
    for start in (0..c).step_by(per_pass) {
        let end = (start + per_pass).min(c);
        let sets: Vec<MixVectors> = (start..end).map(|k| channel_set(c, h * w, &[k])).collect();
        let y = r.hybrid_sets(&batch, &resolved, site, &sets).await?; // [sets * pairs, C, S, S]
        for s in 0..sets.len() {
            let mut mean = vec![0f64; per];
            let mut sq = vec![0f64; per];
            for p in 0..pairs {
                let hy = &y[(s * pairs + p) * per..][..per];
                let or = &originals[p * per..][..per];
                for i in 0..per {
                    let d = f64::from(hy[i] - or[i]);
                    mean[i] += d;
                    sq[i] += d * d;
                }
            }
            let n = pairs as f64;
            let var: Vec<f64> = mean
                .iter()
                .zip(&sq)
                .map(|(m, q)| (q / n - (m / n).powi(2)).max(0.0))
                .collect();
            maps.extend((0..px).map(|i| {
                let v: f64 = (0..cfg.channels).map(|ch| var[ch * px + i]).sum();
                (v / cfg.channels as f64) as f32
            }));
        }
        progress(end, c);
    }
    Ok(InfluenceMaps {
        site,
        channels: c,
        size: cfg.image_size,
        pairs,
        maps,
    })
}

/// Box filter of a `size x size` map with a `window x window` window (clipped at edges).
pub fn box_smooth(map: &[f32], size: usize, window: usize) -> Vec<f32> {
    let r = window / 2;
    let mut out = vec![0.0; size * size];
    for y in 0..size {
        for x in 0..size {
            let (y0, y1) = (y.saturating_sub(r), (y + r + 1).min(size));
            let (x0, x1) = (x.saturating_sub(r), (x + r + 1).min(size));
            let mut s = 0.0;
            for yy in y0..y1 {
                s += map[yy * size + x0..yy * size + x1].iter().sum::<f32>();
            }
            out[y * size + x] = s / ((y1 - y0) * (x1 - x0)) as f32;
        }
    }
    out
}

/// The value below which a share `q` of `values` lie (nearest rank).
pub fn quantile(values: &[f32], q: f64) -> f32 {
    if values.is_empty() {
        return 0.0;
    }
    let mut v = values.to_vec();
    let k = ((q * (v.len() - 1) as f64).round() as usize).min(v.len() - 1);
    v.select_nth_unstable_by(k, f32::total_cmp);
    v[k]
}

/// Channels clustered into modules.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Modules {
    /// Rank K.
    pub k: usize,
    /// Module of each channel; `None` for a channel with no influence (a flat map).
    pub labels: Vec<Option<usize>>,
    /// `[K, size * size]` templates (rows of H), each scaled to a maximum of 1.
    pub templates: Vec<f32>,
    /// `[channels, K]` weights (W).
    pub weights: Vec<f32>,
    /// Relative NMF error.
    pub error: f64,
    /// Image side.
    pub size: usize,
}

impl Modules {
    /// The channels of module `m`.
    pub fn members(&self, m: usize) -> Vec<usize> {
        (0..self.labels.len())
            .filter(|&c| self.labels[c] == Some(m))
            .collect()
    }
}

/// Checks a module count against a site before any map is computed.
pub fn check_rank(k: usize, channels: usize, size: usize) -> Result<()> {
    let most = channels.min(size * size);
    if k == 0 || k > most {
        return Err(opts(format!(
            "a rank of {k} for {channels} maps of {size}x{size}; it must be 1..={most}"
        )));
    }
    Ok(())
}

/// Clusters influence maps into `k` modules (smoothing `window`, threshold quantile
/// `threshold`, NMF seeded with `seed`).
pub fn modules(
    maps: &InfluenceMaps,
    k: usize,
    window: usize,
    threshold: f64,
    seed: u64,
) -> Result<Modules> {
    let px = maps.size * maps.size;
    let c = maps.channels;
    check_rank(k, c, maps.size)?;
    let mut s = Vec::with_capacity(c * px);
    for ch in 0..c {
        let m = box_smooth(&maps.maps[ch * px..(ch + 1) * px], maps.size, window.max(1));
        let t = quantile(&m, threshold);
        // a flat map (a channel with no influence) thresholds to nothing
        s.extend(m.iter().map(|&v| if v > t { 1.0 } else { 0.0 }));
    }
    let f = nmf(&s, c, px, k, 2000, 1e-7, seed)?;
    let labels = (0..c)
        .map(|ch| {
            let row = &f.w[ch * k..(ch + 1) * k];
            let flat = s[ch * px..(ch + 1) * px].iter().all(|&v| v == 0.0);
            (!flat).then(|| (0..k).fold(0, |b, j| if row[j] > row[b] { j } else { b }))
        })
        .collect();
    let mut templates = Vec::with_capacity(k * px);
    for j in 0..k {
        let row = &f.h[j * px..(j + 1) * px];
        let top = row.iter().copied().fold(0.0, f64::max).max(1e-12);
        templates.extend(row.iter().map(|v| (v / top) as f32));
    }
    Ok(Modules {
        k,
        labels,
        templates,
        weights: f.w.iter().map(|&v| v as f32).collect(),
        error: f.error,
        size: maps.size,
    })
}

/// Module hybrids (Besserve et al. Fig. 3): for `pairs` sample pairs, original 1, original 2
/// and the hybrid of each module. Returns `[pairs, 2 + K]` images, row-major by pair.
pub async fn module_hybrids(
    r: &mut dyn Renderer,
    site: usize,
    modules: &Modules,
    pairs: usize,
    seed: u64,
) -> Result<Vec<f32>> {
    let cfg = r.config().clone();
    let [c, h, w] = ganscope_model::generator::site_shapes(&cfg)
        .get(site)
        .ok_or_else(|| opts(format!("site index {site}")))?
        .1;
    if modules.labels.len() != c {
        return Err(opts(format!(
            "modules of {} channels for a site of {c}",
            modules.labels.len()
        )));
    }
    let batch = pair_batch(r, site, pairs, seed)?;
    let mut sets = vec![channel_set(c, h * w, &[])];
    sets.extend((0..modules.k).map(|m| channel_set(c, h * w, &modules.members(m))));
    let resolved = Resolved::default_for(&cfg);
    let y = r.hybrid_sets(&batch, &resolved, site, &sets).await?; // [(1 + K) * pairs, C, S, S]
    let donors: Vec<usize> = batch.donors[..pairs].to_vec();
    let d = cfg.latent_dim;
    let second = Batch {
        z: batch.z.as_ref().map(|z| {
            donors
                .iter()
                .flat_map(|&r| z[r * d..(r + 1) * d].iter().copied())
                .collect()
        }),
        paths: donors.iter().map(|&r| batch.paths[r].clone()).collect(),
        donors: (0..pairs).collect(),
        n: pairs,
    };
    let originals2 = r.render(&second, &resolved, &[]).await?.images; // [pairs, C, S, S]
    let per = image_len(&cfg);
    let mut out = Vec::with_capacity(y.len() + originals2.len());
    for p in 0..pairs {
        out.extend_from_slice(&y[p * per..][..per]);
        out.extend_from_slice(&originals2[p * per..][..per]);
        for s in 1..sets.len() {
            out.extend_from_slice(&y[(s * pairs + p) * per..][..per]);
        }
    }
    Ok(out)
}
