//! Concept groups (Li et al., interpretable GANs): a site's filters clustered by their
//! spatial activation profiles over a sample, and the exchange of one group's feature maps
//! between two samples (optionally inside a region).
//!
//! A filter's profile is its activation map on each of `samples` images, each map scaled to
//! unit length (so a filter is described by where it fires, not how strongly), concatenated;
//! k-means (k-means++, restarts) groups the profiles.

use ganscope_model::generator::{site_name, site_shapes};
use ganscope_model::intervention::{Hybrid, Interventions, Region, Resolved};
use ganscope_model::sample::Batch;
use serde::Serialize;

use crate::kmeans::kmeans;
use crate::renderer::{image_len, sample_rows, Renderer, CHUNK};
use crate::{opts, Result};

/// Filters of one site in groups.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Groups {
    /// Site index.
    pub site: usize,
    /// Number of groups.
    pub k: usize,
    /// Group of each filter.
    pub labels: Vec<usize>,
    /// k-means inertia of the profiles.
    pub inertia: f64,
    /// Samples the profiles cover.
    pub samples: usize,
}

impl Groups {
    /// The filters of group `g`.
    pub fn members(&self, g: usize) -> Vec<usize> {
        (0..self.labels.len())
            .filter(|&c| self.labels[c] == g)
            .collect()
    }
}

/// Clusters the filters of `site` into `k` groups over `samples` samples of `seed`.
pub async fn concept_groups(
    r: &mut dyn Renderer,
    site: usize,
    k: usize,
    samples: usize,
    seed: u64,
) -> Result<Groups> {
    let cfg = r.config().clone();
    let [c, h, w] = site_shapes(&cfg)
        .get(site)
        .ok_or_else(|| opts(format!("site index {site}")))?
        .1;
    if k == 0 || k > c {
        return Err(opts(format!("{k} groups of a site with {c} filters")));
    }
    if samples == 0 {
        return Err(opts("concept groups need at least one sample"));
    }
    let hw = h * w;
    let resolved = Resolved::default_for(&cfg);
    let mut profiles = vec![0f64; c * samples * hw]; // [C, samples * H * W]
    let mut done = 0;
    while done < samples {
        let n = CHUNK.min(samples - done);
        let batch = sample_rows(&cfg, seed, None, done..done + n);
        let f = r.render(&batch, &resolved, &[site]).await?;
        let a = &f.sites[0]; // [n, C, H, W]
        for i in 0..n {
            for ch in 0..c {
                let map = &a[(i * c + ch) * hw..][..hw];
                let norm = map
                    .iter()
                    .map(|v| f64::from(*v).powi(2))
                    .sum::<f64>()
                    .sqrt();
                let dst = &mut profiles[ch * samples * hw + (done + i) * hw..][..hw];
                for (d, v) in dst.iter_mut().zip(map) {
                    *d = if norm > 0.0 {
                        f64::from(*v) / norm
                    } else {
                        0.0
                    };
                }
            }
        }
        done += n;
    }
    let cl = kmeans(&profiles, samples * hw, k, 8, seed)?;
    Ok(Groups {
        site,
        k,
        labels: cl.labels,
        inertia: cl.inertia,
        samples,
    })
}

/// Exchanges filters `channels` of `site` from the sample of `donor_seed` into the sample
/// of `seed` (sample 0 of each; inside `region` when given): returns
/// `[3, C, S, S]`: the first sample, the second, and the exchange.
pub async fn exchange(
    r: &mut dyn Renderer,
    site: usize,
    channels: &[usize],
    region: Option<Region>,
    seed: u64,
    donor_seed: u64,
) -> Result<Vec<f32>> {
    let cfg = r.config().clone();
    let iv = Interventions {
        hybrid: Some(Hybrid {
            site: site_name(site),
            channels: channels.to_vec(),
            region,
            donor_seed: Some(donor_seed),
            donor_path: None,
        }),
        ..Default::default()
    };
    let resolved = Resolved::new(&cfg, &iv)?;
    let batch = Batch::new(&cfg, seed, 1, &iv)?;
    let mixed = r.render(&batch, &resolved, &[]).await?.images;
    let plain = Resolved::default_for(&cfg);
    let first = r
        .render(
            &Batch::new(&cfg, seed, 1, &Interventions::default())?,
            &plain,
            &[],
        )
        .await?
        .images;
    let second = r
        .render(
            &Batch::new(&cfg, donor_seed, 1, &Interventions::default())?,
            &plain,
            &[],
        )
        .await?
        .images;
    let per = image_len(&cfg);
    let mut out = Vec::with_capacity(3 * per);
    out.extend_from_slice(&first[..per]);
    out.extend_from_slice(&second[..per]);
    out.extend_from_slice(&mixed[..per]);
    Ok(out)
}
