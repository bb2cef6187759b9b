//! k-means with k-means++ seeding and several restarts, seeded (concept groups of filters).

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::{opts, Result};

/// A clustering of `n` points.
#[derive(Clone, Debug, PartialEq)]
pub struct Clusters {
    /// Cluster of each point.
    pub labels: Vec<usize>,
    /// `[k, d]` centres, row-major.
    pub centres: Vec<f64>,
    /// Sum of squared distances to the assigned centres.
    pub inertia: f64,
}

fn sq(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y).powi(2)).sum()
}

fn nearest(p: &[f64], centres: &[f64], d: usize) -> (usize, f64) {
    centres
        .chunks(d)
        .enumerate()
        .map(|(j, c)| (j, sq(p, c)))
        .fold((0, f64::INFINITY), |a, b| if b.1 < a.1 { b } else { a })
}

fn once(x: &[f64], n: usize, d: usize, k: usize, rng: &mut StdRng, iters: usize) -> Clusters {
    // k-means++: each next centre drawn with probability proportional to D(x)^2
    let mut centres = x[rng.random_range(0..n) * d..][..d].to_vec();
    while centres.len() < k * d {
        let dist: Vec<f64> = x.chunks(d).map(|p| nearest(p, &centres, d).1).collect();
        let total: f64 = dist.iter().sum();
        let pick = if total <= 0.0 {
            rng.random_range(0..n)
        } else {
            let mut r = rng.random_range(0.0..total);
            dist.iter()
                .position(|&v| {
                    r -= v;
                    r < 0.0
                })
                .unwrap_or(n - 1)
        };
        centres.extend_from_slice(&x[pick * d..(pick + 1) * d]);
    }
    let mut labels = vec![usize::MAX; n];
    for _ in 0..iters {
        let new: Vec<usize> = x.chunks(d).map(|p| nearest(p, &centres, d).0).collect();
        let moved = new != labels;
        labels = new;
        let mut sums = vec![0.0; k * d];
        let mut counts = vec![0usize; k];
        for (p, &l) in x.chunks(d).zip(&labels) {
            counts[l] += 1;
            for (s, v) in sums[l * d..(l + 1) * d].iter_mut().zip(p) {
                *s += v;
            }
        }
        for j in 0..k {
            if counts[j] > 0 {
                for t in 0..d {
                    centres[j * d + t] = sums[j * d + t] / counts[j] as f64;
                }
            } else {
                // an empty cluster takes the point farthest from its own centre
                let far = (0..n)
                    .map(|i| {
                        (
                            i,
                            sq(&x[i * d..(i + 1) * d], &centres[labels[i] * d..][..d]),
                        )
                    })
                    .fold((0, -1.0), |a, b| if b.1 > a.1 { b } else { a })
                    .0;
                centres[j * d..(j + 1) * d].copy_from_slice(&x[far * d..(far + 1) * d]);
                labels[far] = j;
            }
        }
        if !moved {
            break;
        }
    }
    let inertia = x
        .chunks(d)
        .zip(&labels)
        .map(|(p, &l)| sq(p, &centres[l * d..(l + 1) * d]))
        .sum();
    Clusters {
        labels,
        centres,
        inertia,
    }
}

/// Clusters the `[n, d]` rows of `x` into `k` groups: the best of `restarts` k-means++ runs.
pub fn kmeans(x: &[f64], d: usize, k: usize, restarts: usize, seed: u64) -> Result<Clusters> {
    let n = x.len() / d.max(1);
    if d == 0 || x.len() != n * d || k == 0 || k > n {
        return Err(opts(format!(
            "k-means of {} values in rows of {d} into {k} groups: needs 1..=rows groups",
            x.len()
        )));
    }
    if x.iter().any(|v| !v.is_finite()) {
        return Err(opts("k-means needs finite values"));
    }
    let mut rng = StdRng::seed_from_u64(seed);
    let mut best: Option<Clusters> = None;
    for _ in 0..restarts.max(1) {
        let c = once(x, n, d, k, &mut rng, 300);
        if best.as_ref().is_none_or(|b| c.inertia < b.inertia) {
            best = Some(c);
        }
    }
    best.ok_or_else(|| opts("k-means ran no restart"))
}
