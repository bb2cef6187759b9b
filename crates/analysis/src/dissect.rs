//! GAN Dissection (Bau et al. sec. 3): per-unit activation statistics, concept masks, the
//! IoU of each unit's thresholded, upsampled activation with each concept, and the causal
//! effect of ablating and inserting units.
//!
//! Concept masks come from a [`Segmenter`]. [`RuleSegmenter`] ships with the crate for
//! MNIST-like data (stroke vs background, and the stroke's hue for colored MNIST); a learned
//! segmenter plugs in through the same trait.

use ganscope_model::generator::site_shapes;
use ganscope_model::intervention::{Interventions, Resolved};
use ganscope_model::sample::Batch;
use serde::Serialize;

use crate::influence::quantile;
use crate::renderer::{sample_rows, Frames, Renderer, CHUNK};
use crate::{opts, Result};

/// Per-pixel concept masks of generated images.
pub trait Segmenter {
    /// Concept names.
    fn concepts(&self) -> Vec<String>;
    /// `[C, S, S]` image in [-1, 1] -> `[concepts, S * S]` masks (0 or 1).
    fn segment(&self, image: &[f32], channels: usize) -> Vec<Vec<bool>>;
}

/// Rule-based concepts for MNIST-like images: `background` and `stroke` (brightest channel
/// above `threshold`); for colour images also the stroke's hue: `red`, `yellow`, `green`,
/// `cyan`, `blue`, `magenta` (60-degree hue sectors) and `white` (saturation below 0.25).
#[derive(Clone, Debug)]
pub struct RuleSegmenter {
    /// Brightness in [-1, 1] above which a pixel is stroke.
    pub threshold: f32,
}

impl Default for RuleSegmenter {
    fn default() -> Self {
        RuleSegmenter { threshold: 0.0 }
    }
}

const HUES: [&str; 6] = ["red", "yellow", "green", "cyan", "blue", "magenta"];

impl Segmenter for RuleSegmenter {
    fn concepts(&self) -> Vec<String> {
        let mut c = vec!["background".to_string(), "stroke".to_string()];
        c.extend(HUES.iter().map(|s| s.to_string()));
        c.push("white".into());
        c
    }

    fn segment(&self, image: &[f32], channels: usize) -> Vec<Vec<bool>> {
        let px = image.len() / channels.max(1);
        let mut masks = vec![vec![false; px]; 2 + HUES.len() + 1];
        for p in 0..px {
            let v: Vec<f32> = (0..channels)
                .map(|c| (image[c * px + p] + 1.0) / 2.0)
                .collect();
            let hi = v.iter().copied().fold(f32::MIN, f32::max);
            let stroke = 2.0 * hi - 1.0 > self.threshold;
            masks[if stroke { 1 } else { 0 }][p] = true;
            if !stroke || channels != 3 {
                continue;
            }
            let lo = v.iter().copied().fold(f32::MAX, f32::min);
            let sat = if hi > 0.0 { (hi - lo) / hi } else { 0.0 };
            if sat < 0.25 {
                masks[2 + HUES.len()][p] = true;
                continue;
            }
            let (r, g, b) = (v[0], v[1], v[2]);
            let d = hi - lo;
            let h = if hi == r {
                ((g - b) / d).rem_euclid(6.0)
            } else if hi == g {
                (b - r) / d + 2.0
            } else {
                (r - g) / d + 4.0
            }; // in [0, 6)
            let sector = ((h + 0.5).floor() as usize) % 6;
            masks[2 + sector][p] = true;
        }
        masks
    }
}

/// Bilinear up-sampling of an `h x w` map to `s x s` (pixel centres aligned).
pub fn upsample(map: &[f32], h: usize, w: usize, s: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(s * s);
    let coord = |i: usize, n: usize| {
        ((i as f32 + 0.5) * n as f32 / s as f32 - 0.5).clamp(0.0, (n - 1) as f32)
    };
    for y in 0..s {
        let fy = coord(y, h);
        let (y0, ty) = (fy.floor() as usize, fy - fy.floor());
        let y1 = (y0 + 1).min(h - 1);
        for x in 0..s {
            let fx = coord(x, w);
            let (x0, tx) = (fx.floor() as usize, fx - fx.floor());
            let x1 = (x0 + 1).min(w - 1);
            let a = map[y0 * w + x0] * (1.0 - tx) + map[y0 * w + x1] * tx;
            let b = map[y1 * w + x0] * (1.0 - tx) + map[y1 * w + x1] * tx;
            out.push(a * (1.0 - ty) + b * ty);
        }
    }
    out
}

/// A sample of images and one site's activations.
pub struct Sample {
    /// The rendered frames (`sites[0]` is the site).
    pub frames: Frames,
    /// `[C, H, W]` of the site.
    pub shape: [usize; 3],
    /// The site's index.
    pub site: usize,
}

/// Renders `n` samples of `seed` under `iv` with `site` read back (in chunks).
pub async fn sample(
    r: &mut dyn Renderer,
    site: usize,
    n: usize,
    seed: u64,
    iv: &Interventions,
) -> Result<Sample> {
    let cfg = r.config().clone();
    let shape = site_shapes(&cfg)
        .get(site)
        .ok_or_else(|| opts(format!("site index {site}")))?
        .1;
    if iv.hybrid.is_some() {
        return Err(opts("dissection samples take edits and paths, not hybrids"));
    }
    if n == 0 {
        return Err(opts("a sample needs at least one image"));
    }
    let resolved = Resolved::new(&cfg, iv)?;
    let (z_all, paths_all) = {
        let b = sample_rows(&cfg, seed, iv.path.as_ref(), 0..n);
        (b.z, b.paths)
    };
    let mut frames = Frames {
        n,
        images: Vec::new(),
        sites: vec![Vec::new()],
    };
    for a in (0..n).step_by(CHUNK) {
        let b = (a + CHUNK).min(n);
        let batch = Batch {
            z: z_all
                .as_ref()
                .map(|z| z[a * cfg.latent_dim..b * cfg.latent_dim].to_vec()),
            paths: paths_all[a..b].to_vec(),
            donors: (0..b - a).collect(),
            n: b - a,
        };
        let f = r.render(&batch, &resolved, &[site]).await?;
        frames.images.extend(f.images);
        frames.sites[0].extend_from_slice(&f.sites[0]);
    }
    Ok(Sample {
        frames,
        shape,
        site,
    })
}

/// One unit's statistics over a sample.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct UnitStats {
    /// Channel index.
    pub unit: usize,
    /// Mean activation.
    pub mean: f32,
    /// Quantiles 0.01, 0.5, 0.99 of all its activations.
    pub quantiles: [f32; 3],
    /// The threshold used for IoU (by default the 0.99 quantile, the top 1%).
    pub threshold: f32,
    /// The smallest activation (a pixel at the minimum never counts as active).
    pub min: f32,
    /// Samples with the largest peak activation, best first.
    pub top: Vec<usize>,
}

/// Statistics of every unit of a sample's site: quantiles, the threshold at quantile `q`
/// (GAN Dissection: 0.99, the top 1%) and `top_k` samples.
pub fn unit_stats(s: &Sample, top_k: usize, q: f64) -> Vec<UnitStats> {
    let [c, h, w] = s.shape;
    let hw = h * w;
    let a = &s.frames.sites[0];
    let n = s.frames.n;
    (0..c)
        .map(|u| {
            let vals: Vec<f32> = (0..n)
                .flat_map(|i| a[(i * c + u) * hw..][..hw].iter().copied())
                .collect();
            let peak: Vec<f32> = (0..n)
                .map(|i| {
                    a[(i * c + u) * hw..][..hw]
                        .iter()
                        .copied()
                        .fold(f32::MIN, f32::max)
                })
                .collect();
            let mut order: Vec<usize> = (0..n).collect();
            order.sort_by(|&x, &y| peak[y].total_cmp(&peak[x]));
            order.truncate(top_k);
            let q99 = quantile(&vals, 0.99);
            let threshold = if q == 0.99 { q99 } else { quantile(&vals, q) };
            UnitStats {
                unit: u,
                mean: vals.iter().sum::<f32>() / vals.len().max(1) as f32,
                quantiles: [quantile(&vals, 0.01), quantile(&vals, 0.5), q99],
                threshold,
                min: vals.iter().copied().fold(f32::INFINITY, f32::min),
                top: order,
            }
        })
        .collect()
}

/// The IoU of every unit with every concept.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Dissection {
    /// Site index.
    pub site: usize,
    /// Concept names.
    pub concepts: Vec<String>,
    /// `[units][concepts]` IoU.
    pub iou: Vec<Vec<f64>>,
    /// Per unit, the best concept and its IoU.
    pub labels: Vec<(String, f64)>,
    /// Per unit, its statistics.
    pub units: Vec<UnitStats>,
    /// Samples used.
    pub samples: usize,
}

/// Dissects a site: each unit's activation, upsampled to the image and thresholded at its
/// `quantile` (GAN Dissection: 0.99, the top 1%; active: at or above it and above the unit's minimum, so a binary unit
/// keeps its ones and a constant unit is never active), against each concept mask, IoU summed over the sample.
pub fn dissect(
    s: &Sample,
    seg: &dyn Segmenter,
    channels: usize,
    size: usize,
    top_k: usize,
    quantile: f64,
) -> Result<Dissection> {
    if !(0.0..1.0).contains(&quantile) {
        return Err(opts(format!(
            "a threshold quantile of {quantile}; it must be in [0, 1)"
        )));
    }
    let [c, h, w] = s.shape;
    let hw = h * w;
    let n = s.frames.n;
    let per = channels * size * size;
    if s.frames.images.len() != n * per || s.frames.sites.first().map_or(0, Vec::len) != n * c * hw
    {
        return Err(opts("images and activations of the sample disagree"));
    }
    let units = unit_stats(s, top_k, quantile);
    let concepts = seg.concepts();
    let mut inter = vec![vec![0u64; concepts.len()]; c];
    let mut union = vec![vec![0u64; concepts.len()]; c];
    for i in 0..n {
        let masks = seg.segment(&s.frames.images[i * per..(i + 1) * per], channels);
        for (u, st) in units.iter().enumerate() {
            let up = upsample(&s.frames.sites[0][(i * c + u) * hw..][..hw], h, w, size);
            for (k, m) in masks.iter().enumerate() {
                for (p, &on) in m.iter().enumerate() {
                    let a = up[p] >= st.threshold && up[p] > st.min;
                    inter[u][k] += u64::from(a && on);
                    union[u][k] += u64::from(a || on);
                }
            }
        }
    }
    let iou: Vec<Vec<f64>> = (0..c)
        .map(|u| {
            (0..concepts.len())
                .map(|k| inter[u][k] as f64 / union[u][k].max(1) as f64)
                .collect()
        })
        .collect();
    let labels = iou
        .iter()
        .map(|row| {
            let k = (0..row.len()).fold(0, |b, j| if row[j] > row[b] { j } else { b });
            (concepts[k].clone(), row[k])
        })
        .collect();
    Ok(Dissection {
        site: s.site,
        concepts,
        iou,
        labels,
        units,
        samples: n,
    })
}
