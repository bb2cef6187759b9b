//! How interpretable a site's filter groups are (Li et al., AAAI 2022, evaluation):
//!
//! - **Locality of concept exchange**: for sample pairs (z1, z2) and each group, the group's
//!   feature maps of z2 replace those of z1 (a hybrid on the group's channels). The group's
//!   *region* is the union, over z1 and z2, of the top `frac` of pixels of the group's mean
//!   unit-length map (upsampled to the image). The exchange's mean squared change of the
//!   image outside the region is its leak (lower is better, the poster's table), inside it
//!   its effect; `leak / effect` compares models whose exchanges differ in strength.
//! - **Consistency of filters**: a filter is consistent when it fires in the same place
//!   across samples: the mean IoU between its top-`frac` region in each sample and the
//!   top-`frac` region of its mean unit-length map is at least `iou`.

use ganscope_model::generator::{site_name, site_shapes};
use ganscope_model::intervention::{Hybrid, Interventions, Resolved};
use ganscope_model::sample::Batch;
use serde::Serialize;

use crate::renderer::{image_len, sample_rows, Renderer, CHUNK};
use crate::{opts, Result};

/// Share of a map's pixels in a group's or filter's region (the CLI's and the page's).
pub const REGION: f64 = 0.25;
/// Mean IoU from which a filter counts as consistent.
pub const CONSISTENT: f64 = 0.5;

/// The locality of exchanging each group.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Locality {
    /// Per group: mean squared change outside its region (the leak).
    pub outside: Vec<f64>,
    /// Per group: mean squared change inside its region (the effect).
    pub inside: Vec<f64>,
    /// Mean over groups of `outside`.
    pub mean_outside: f64,
    /// Mean over groups of `inside`.
    pub mean_inside: f64,
    /// Sample pairs per group.
    pub pairs: usize,
    /// Share of a map's pixels in a sample's region.
    pub frac: f64,
}

/// The consistency of each filter of a site.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Consistency {
    /// Per filter: mean IoU of its per-sample region with its mean region.
    pub iou: Vec<f64>,
    /// Mean over filters of `iou`.
    pub mean_iou: f64,
    /// Share of filters whose mean IoU is at least `threshold`.
    pub share: f64,
    /// The IoU threshold.
    pub threshold: f64,
    /// Samples.
    pub samples: usize,
}

/// Unit-length maps of every sample and channel: `[n, C, hw]` in, same layout out.
fn unit_maps(a: &[f32], hw: usize) -> Vec<f64> {
    a.chunks_exact(hw)
        .flat_map(|m| {
            let norm = m.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>().sqrt();
            m.iter()
                .map(move |&v| if norm > 0.0 { f64::from(v) / norm } else { 0.0 })
        })
        .collect()
}

/// The top `frac` of a map's entries (at least one) as a mask.
fn top(map: &[f64], frac: f64) -> Vec<bool> {
    let k = ((map.len() as f64 * frac).round() as usize).clamp(1, map.len());
    let mut sorted = map.to_vec();
    sorted.sort_by(|a, b| b.total_cmp(a));
    let cut = sorted[k - 1];
    map.iter().map(|&v| v >= cut).collect()
}

fn iou(a: &[bool], b: &[bool]) -> f64 {
    let inter = a.iter().zip(b).filter(|(x, y)| **x && **y).count();
    let union = a.iter().zip(b).filter(|(x, y)| **x || **y).count();
    if union == 0 {
        1.0
    } else {
        inter as f64 / union as f64
    }
}

fn site_dims(r: &dyn Renderer, site: usize) -> Result<[usize; 3]> {
    Ok(site_shapes(r.config())
        .get(site)
        .ok_or_else(|| opts(format!("site index {site}")))?
        .1)
}

/// Activations `[n, C, H, W]` of `site` for samples `0..n` of `seed`.
async fn activations(r: &mut dyn Renderer, site: usize, n: usize, seed: u64) -> Result<Vec<f32>> {
    let cfg = r.config().clone();
    let resolved = Resolved::default_for(&cfg);
    let mut out = Vec::new();
    let mut done = 0;
    while done < n {
        let k = CHUNK.min(n - done);
        let f = r
            .render(
                &sample_rows(&cfg, seed, None, done..done + k),
                &resolved,
                &[site],
            )
            .await?;
        out.extend_from_slice(&f.sites[0]);
        done += k;
    }
    Ok(out)
}

/// The consistency of the filters of `site` over `samples` samples of `seed`.
pub async fn consistency(
    r: &mut dyn Renderer,
    site: usize,
    samples: usize,
    seed: u64,
    frac: f64,
    threshold: f64,
) -> Result<Consistency> {
    let [c, h, w] = site_dims(r, site)?;
    if samples == 0 || !(frac > 0.0 && frac <= 1.0) {
        return Err(opts(
            "consistency needs samples and a region share in (0, 1]",
        ));
    }
    let hw = h * w;
    let maps = unit_maps(&activations(r, site, samples, seed).await?, hw); // [n, C, hw]
    let iou: Vec<f64> = (0..c)
        .map(|ch| {
            let map = |i: usize| &maps[(i * c + ch) * hw..][..hw];
            let mut mean = vec![0f64; hw];
            for i in 0..samples {
                mean.iter_mut().zip(map(i)).for_each(|(m, v)| *m += v);
            }
            let region = top(&mean, frac);
            (0..samples)
                .map(|i| iou(&top(map(i), frac), &region))
                .sum::<f64>()
                / samples as f64
        })
        .collect();
    let share = iou.iter().filter(|&&v| v >= threshold).count() as f64 / c as f64;
    Ok(Consistency {
        mean_iou: iou.iter().sum::<f64>() / c as f64,
        iou,
        share,
        threshold,
        samples,
    })
}

/// The locality of exchanging each group of `labels` (a group per filter of `site`) between
/// `pairs` sample pairs (sample seeds `seed + 2i` and `seed + 2i + 1`).
pub async fn locality(
    r: &mut dyn Renderer,
    site: usize,
    labels: &[usize],
    pairs: usize,
    seed: u64,
    frac: f64,
) -> Result<Locality> {
    let cfg = r.config().clone();
    let [c, h, w] = site_dims(r, site)?;
    if labels.len() != c || pairs == 0 || !(frac > 0.0 && frac <= 1.0) {
        return Err(opts(format!(
            "locality needs a group for each of the {c} filters, pairs and a region share in (0, 1]"
        )));
    }
    let k = labels.iter().copied().max().map_or(0, |m| m + 1);
    let (s, ch) = (cfg.image_size, cfg.channels);
    let per = image_len(&cfg);
    let (mut outside, mut inside) = (vec![0f64; k], vec![0f64; k]);
    let mut used = vec![0usize; k];
    for p in 0..pairs {
        let (a, b) = (
            seed.wrapping_add(2 * p as u64),
            seed.wrapping_add(2 * p as u64 + 1),
        );
        // each sample once: its image (sample 1) and its site maps; per group only the hybrid
        let plain = Resolved::default_for(&cfg);
        let mut first = Vec::new();
        let mut maps: Vec<Vec<f64>> = Vec::with_capacity(2);
        for sd in [a, b] {
            let f = r
                .render(
                    &Batch::new(&cfg, sd, 1, &Interventions::default())?,
                    &plain,
                    &[site],
                )
                .await?;
            if first.is_empty() {
                first = f.images[..per].to_vec();
            }
            maps.push(unit_maps(&f.sites[0], h * w));
        }
        for g in 0..k {
            let members: Vec<usize> = (0..c).filter(|&j| labels[j] == g).collect();
            if members.is_empty() {
                continue;
            }
            // the group's region: top pixels of its mean map in either sample, upsampled
            let mut region = vec![false; s * s];
            for m in &maps {
                let mut mean = vec![0f64; h * w];
                for &j in &members {
                    mean.iter_mut()
                        .zip(&m[j * h * w..][..h * w])
                        .for_each(|(x, v)| *x += v);
                }
                let mask = top(&mean, frac);
                for (px, r) in region.iter_mut().enumerate() {
                    let (y, x) = (px / s * h / s, px % s * w / s);
                    *r |= mask[y * w + x];
                }
            }
            let iv = Interventions {
                hybrid: Some(Hybrid {
                    site: site_name(site),
                    channels: members.clone(),
                    region: None,
                    donor_seed: Some(b),
                    donor_path: None,
                }),
                ..Default::default()
            };
            let batch = Batch::new(&cfg, a, 1, &iv)?;
            let mixed = &r
                .render(&batch, &Resolved::new(&cfg, &iv)?, &[])
                .await?
                .images[..per];
            let (mut o, mut i, mut no, mut ni) = (0f64, 0f64, 0usize, 0usize);
            for px in 0..s * s {
                for cc in 0..ch {
                    let d = f64::from(mixed[cc * s * s + px] - first[cc * s * s + px]).powi(2);
                    if region[px] {
                        (i, ni) = (i + d, ni + 1);
                    } else {
                        (o, no) = (o + d, no + 1);
                    }
                }
            }
            outside[g] += if no > 0 { o / no as f64 } else { 0.0 };
            inside[g] += if ni > 0 { i / ni as f64 } else { 0.0 };
            used[g] += 1;
        }
    }
    for g in 0..k {
        let n = used[g].max(1) as f64;
        outside[g] /= n;
        inside[g] /= n;
    }
    let groups = used.iter().filter(|&&u| u > 0).count().max(1) as f64;
    Ok(Locality {
        mean_outside: outside.iter().sum::<f64>() / groups,
        mean_inside: inside.iter().sum::<f64>() / groups,
        outside,
        inside,
        pairs,
        frac,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_and_overlap() {
        assert_eq!(
            top(&[0.1, 0.9, 0.5, 0.2], 0.5),
            vec![false, true, true, false]
        );
        assert_eq!(
            top(&[0.3, 0.2], 0.01),
            vec![true, false],
            "at least one pixel"
        );
        assert!((iou(&[true, true, false], &[true, false, true]) - 1.0 / 3.0).abs() < 1e-12);
        let u = unit_maps(&[3.0, 4.0, 0.0, 0.0], 2);
        assert_eq!(u, vec![0.6, 0.8, 0.0, 0.0]);
    }
}
