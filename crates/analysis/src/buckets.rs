//! RPGAN bucket responsibility (RPGAN sec. 4.1, Figure 4): how much each bucket changes the
//! image, in colour and in semantics, relative to the first bucket.
//!
//! One evaluation draws a random path; for every bucket l it renders four images that differ
//! only in bucket l's block (four distinct random blocks, or all of them when the bucket has
//! fewer), and takes `D_l = mean over pairs i != j of d(s_i, s_j)`. The ratio
//! `D_l / D_1` is averaged over the evaluations (mean and standard deviation), as in the
//! paper. `d_colour` is the Hellinger distance of 25-bin channel histograms, per channel;
//! `d_semantic` the L2 distance of a [`Features`] network's embeddings.

use ganscope_model::intervention::Resolved;
use ganscope_model::sample::{latents, random_paths, Batch};
use rand::rngs::StdRng;
use rand::seq::index::sample;
use rand::SeedableRng;
use serde::Serialize;

use crate::metrics::{hellinger, histograms, l2, mean_std, Features, BINS};
use crate::renderer::{image_len, Renderer, CHUNK};
use crate::{opts, Result};

/// What to measure.
#[derive(Clone, Debug)]
pub struct BucketOptions {
    /// Independent evaluations (random paths); the paper uses 100.
    pub evaluations: usize,
    /// Images per bucket and evaluation; the paper uses 4.
    pub images: usize,
    /// Seed of the paths and block choices.
    pub seed: u64,
}

impl Default for BucketOptions {
    fn default() -> Self {
        BucketOptions {
            evaluations: 100,
            images: 4,
            seed: 0,
        }
    }
}

/// A mean with its standard deviation over the evaluations.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Stat {
    /// Mean.
    pub mean: f64,
    /// Standard deviation.
    pub std: f64,
}

impl Stat {
    fn of(x: &[f64]) -> Stat {
        let (mean, std) = mean_std(x);
        Stat { mean, std }
    }
}

/// One bucket's responsibility.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct BucketRow {
    /// Bucket number (1-based, as in the paper).
    pub bucket: usize,
    /// `D_l / D_1` for colour, per channel (R, G, B or one grey channel).
    pub colour: Vec<Stat>,
    /// `D_l / D_1` for colour, averaged over channels.
    pub colour_mean: Stat,
    /// `D_l / D_1` for semantics (when a feature network was given).
    pub semantic: Option<Stat>,
    /// `D_l` itself (not relative), colour averaged over channels.
    pub colour_absolute: Stat,
    /// `D_l` itself for semantics.
    pub semantic_absolute: Option<Stat>,
}

/// The whole measurement.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Responsibility {
    /// One row per bucket.
    pub buckets: Vec<BucketRow>,
    /// Evaluations used (those where bucket 1 changed the image at all).
    pub evaluations: usize,
    /// Evaluations skipped because `D_1` was 0 (the ratio is undefined).
    pub skipped: usize,
    /// Images per bucket and evaluation.
    pub images: usize,
    /// The feature network, in words.
    pub features: Option<String>,
}

/// Mean over ordered pairs i != j of `d(i, j)` (symmetric, so over i < j).
fn mean_pairs(k: usize, d: impl Fn(usize, usize) -> f64) -> f64 {
    let mut s = 0.0;
    let mut c = 0usize;
    for i in 0..k {
        for j in i + 1..k {
            s += d(i, j);
            c += 1;
        }
    }
    s / c.max(1) as f64
}

/// Measures every bucket's responsibility. Needs an RPGAN with at least 2 blocks in every
/// bucket.
pub async fn responsibility(
    r: &mut dyn Renderer,
    features: Option<&dyn Features>,
    o: &BucketOptions,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Responsibility> {
    let cfg = r.config().clone();
    let blocks = cfg.blocks();
    if blocks.iter().any(|&m| m < 2) {
        return Err(opts(format!(
            "bucket responsibility needs an RPGAN with at least 2 blocks per bucket; this model \
             has {blocks:?}"
        )));
    }
    if o.evaluations == 0 || o.images < 2 {
        return Err(opts(
            "bucket responsibility needs evaluations >= 1 and images >= 2",
        ));
    }
    let nb = blocks.len();
    // block choices on a stream of their own (the latents of the seed use `o.seed`)
    let mut rng = StdRng::seed_from_u64(o.seed ^ 0xb10c_5eed);
    let bases = random_paths(o.seed, o.evaluations, &blocks);
    // rows: evaluation-major, then bucket, then image
    let mut paths = Vec::new();
    let mut counts = Vec::new();
    for base in &bases {
        for (l, &m) in blocks.iter().enumerate() {
            let k = o.images.min(m);
            counts.push(k);
            for j in sample(&mut rng, m, k) {
                let mut p = base.clone();
                p[l] = j;
                paths.push(p);
            }
        }
    }
    let z_all = (!cfg.constant_input).then(|| latents(o.seed, o.evaluations, cfg.latent_dim));
    let per = image_len(&cfg);
    let resolved = Resolved::default_for(&cfg);
    let total = paths.len();
    let mut images = Vec::with_capacity(total * per);
    let mut row_eval = Vec::with_capacity(total);
    for (e, &c) in counts.iter().enumerate() {
        row_eval.extend(std::iter::repeat_n(e / nb, c));
    }
    for start in (0..total).step_by(CHUNK) {
        let end = (start + CHUNK).min(total);
        let z = z_all.as_ref().map(|z| {
            row_eval[start..end]
                .iter()
                .flat_map(|&e| {
                    z[e * cfg.latent_dim..(e + 1) * cfg.latent_dim]
                        .iter()
                        .copied()
                })
                .collect()
        });
        let batch = Batch {
            z,
            paths: paths[start..end].to_vec(),
            donors: (0..end - start).collect(),
            n: end - start,
        };
        images.extend(r.render(&batch, &resolved, &[]).await?.images);
        progress(end, total);
    }
    let feats = match features {
        Some(f) => Some(f.features(&images, total)?),
        None => None,
    };
    let fd = features.map_or(0, |f| f.dim());
    // absolute D per (evaluation, bucket): colour per channel, semantic
    let ch = cfg.channels;
    let mut colour = vec![vec![vec![0.0; ch]; nb]; o.evaluations];
    let mut semantic = vec![vec![0.0; nb]; o.evaluations];
    // each image's channel histograms once, not once per pair and channel
    let hist: Vec<Vec<[f64; BINS]>> = images.chunks(per).map(|im| histograms(im, ch)).collect();
    let mut row = 0;
    for e in 0..o.evaluations {
        for l in 0..nb {
            let k = counts[e * nb + l];
            for (c, slot) in colour[e][l].iter_mut().enumerate() {
                *slot = mean_pairs(k, |i, j| hellinger(&hist[row + i][c], &hist[row + j][c]));
            }
            if let Some(f) = &feats {
                let v = |i: usize| &f[(row + i) * fd..(row + i + 1) * fd];
                semantic[e][l] = mean_pairs(k, |i, j| l2(v(i), v(j)));
            }
            row += k;
        }
    }
    let mean_c = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    let used: Vec<usize> = (0..o.evaluations)
        .filter(|&e| mean_c(&colour[e][0]) > 0.0 && (feats.is_none() || semantic[e][0] > 0.0))
        .collect();
    let skipped = o.evaluations - used.len();
    let rows = (0..nb)
        .map(|l| {
            // evaluations where the reference D_1 of this statistic is 0 have no ratio
            let rel = |f: &dyn Fn(usize) -> (f64, f64)| -> Vec<f64> {
                used.iter()
                    .map(|&e| f(e))
                    .filter(|&(_, b)| b > 0.0)
                    .map(|(a, b)| a / b)
                    .collect()
            };
            BucketRow {
                bucket: l + 1,
                colour: (0..ch)
                    .map(|c| Stat::of(&rel(&|e| (colour[e][l][c], colour[e][0][c]))))
                    .collect(),
                colour_mean: Stat::of(&rel(&|e| (mean_c(&colour[e][l]), mean_c(&colour[e][0])))),
                semantic: feats
                    .as_ref()
                    .map(|_| Stat::of(&rel(&|e| (semantic[e][l], semantic[e][0])))),
                colour_absolute: Stat::of(
                    &(0..o.evaluations)
                        .map(|e| mean_c(&colour[e][l]))
                        .collect::<Vec<_>>(),
                ),
                semantic_absolute: feats.as_ref().map(|_| {
                    Stat::of(
                        &(0..o.evaluations)
                            .map(|e| semantic[e][l])
                            .collect::<Vec<_>>(),
                    )
                }),
            }
        })
        .collect();
    Ok(Responsibility {
        buckets: rows,
        evaluations: used.len(),
        skipped,
        images: o.images,
        features: features.map(|f| f.describe()),
    })
}
