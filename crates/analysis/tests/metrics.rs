//! Metrics and clusterings on inputs with a known answer.

use ganscope_analysis::kmeans::kmeans;
use ganscope_analysis::metrics::{
    colour_distance, frechet, hellinger, histograms, pixel_diversity, precision_recall, BINS,
};
use ganscope_analysis::nmf::nmf;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Normal};

#[test]
fn hellinger_is_zero_for_identical_and_one_for_disjoint_histograms() {
    let mut rng = StdRng::seed_from_u64(1);
    let img: Vec<f32> = (0..3 * 64).map(|_| rng.random_range(-1.0..1.0)).collect();
    assert_eq!(colour_distance(&img, &img, 3), vec![0.0; 3]);
    let dark = vec![-1.0f32; 3 * 64];
    let bright = vec![1.0f32; 3 * 64];
    for d in colour_distance(&dark, &bright, 3) {
        assert!((d - 1.0).abs() < 1e-12, "{d}");
    }
    // half the pixels in one bin, half in another vs all in the first: sqrt(1 - sqrt(1/2))
    let mut half = vec![-1.0f32; 64];
    half[..32].iter_mut().for_each(|v| *v = 1.0);
    let p = histograms(&half, 1);
    let q = histograms(&vec![-1.0f32; 64], 1);
    let want = (1.0 - 0.5f64.sqrt()).sqrt();
    assert!((hellinger(&p[0], &q[0]) - want).abs() < 1e-12);
    assert_eq!(p[0].len(), BINS);
    assert!((p[0].iter().sum::<f64>() - 1.0).abs() < 1e-12);
}

fn gaussian(n: usize, d: usize, mean: f32, std: f32, seed: u64) -> Vec<f32> {
    let mut rng = StdRng::seed_from_u64(seed);
    let g = Normal::new(mean, std).expect("normal");
    (0..n * d).map(|_| g.sample(&mut rng)).collect()
}

#[test]
fn frechet_distance_of_known_gaussians() {
    let d = 8;
    let a = gaussian(20_000, d, 0.0, 1.0, 1);
    assert!(frechet(&a, &a, d).expect("fd") < 1e-6);
    // same covariance, means 0 and 1 in every dimension: |mu1 - mu2|^2 = d
    let b = gaussian(20_000, d, 1.0, 1.0, 2);
    let fd = frechet(&a, &b, d).expect("fd");
    assert!((fd - d as f64).abs() < 0.3, "{fd}");
    // covariances I and 4I: tr(I + 4I - 2 * 2I) = d
    let c = gaussian(20_000, d, 0.0, 2.0, 3);
    let fd = frechet(&a, &c, d).expect("fd");
    assert!((fd - d as f64).abs() < 0.4, "{fd}");
    assert!(
        frechet(&a[..d], &a[..d], d).is_err(),
        "one row has no covariance"
    );
}

#[test]
fn precision_and_recall_of_equal_and_disjoint_sets() {
    let d = 4;
    let a = gaussian(400, d, 0.0, 1.0, 4);
    let (p, r) = precision_recall(&a, &a, d, 3).expect("pr");
    assert_eq!((p, r), (1.0, 1.0));
    let far = gaussian(400, d, 100.0, 1.0, 5);
    let (p, r) = precision_recall(&a, &far, d, 3).expect("pr");
    assert_eq!((p, r), (0.0, 0.0));
    // a generator covering only half of the real data: high precision, low recall
    let half: Vec<f32> = a
        .chunks(d)
        .filter(|row| row[0] > 0.0)
        .flatten()
        .copied()
        .collect();
    let (p, r) = precision_recall(&a, &half, d, 3).expect("pr");
    assert!(p > 0.95 && r < 0.8, "precision {p} recall {r}");
}

#[test]
fn nmf_recovers_planted_factors() {
    let (m, n, k) = (30, 48, 3);
    // three disjoint spatial templates and sparse non-negative weights
    let mut h = vec![0.0; k * n];
    for j in 0..k {
        for p in j * 16..(j + 1) * 16 {
            h[j * n + p] = 1.0;
        }
    }
    let mut rng = StdRng::seed_from_u64(7);
    let w: Vec<f64> = (0..m * k)
        .map(|i| {
            if i % k == (i / k) % k {
                rng.random_range(0.5..2.0)
            } else {
                0.0
            }
        })
        .collect();
    let mut v = vec![0.0; m * n];
    for i in 0..m {
        for t in 0..k {
            for p in 0..n {
                v[i * n + p] += w[i * k + t] * h[t * n + p];
            }
        }
    }
    let f = nmf(&v, m, n, k, 5000, 1e-10, 3).expect("nmf");
    assert!(f.error < 1e-3, "relative error {}", f.error);
    // every planted template is some recovered row (cosine > 0.999)
    for j in 0..k {
        let planted = &h[j * n..(j + 1) * n];
        let best = (0..k)
            .map(|t| {
                let row = &f.h[t * n..(t + 1) * n];
                let dot: f64 = row.iter().zip(planted).map(|(a, b)| a * b).sum();
                let na: f64 = row.iter().map(|a| a * a).sum::<f64>().sqrt();
                dot / (na * 4.0).max(1e-12)
            })
            .fold(0.0, f64::max);
        assert!(best > 0.999, "template {j}: cosine {best}");
    }
    assert!(nmf(&v, m, n, 0, 10, 0.0, 0).is_err());
    assert!(nmf(&[-1.0, 1.0], 1, 2, 1, 10, 0.0, 0).is_err());
}

#[test]
fn kmeans_finds_planted_clusters() {
    let mut rng = StdRng::seed_from_u64(9);
    let centres = [[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]];
    let mut x = Vec::new();
    let mut truth = Vec::new();
    for i in 0..90 {
        let c = i % 3;
        truth.push(c);
        x.push(centres[c][0] + rng.random_range(-1.0..1.0));
        x.push(centres[c][1] + rng.random_range(-1.0..1.0));
    }
    let cl = kmeans(&x, 2, 3, 4, 1).expect("kmeans");
    // same partition up to relabelling
    for i in 0..90 {
        for j in 0..90 {
            assert_eq!(truth[i] == truth[j], cl.labels[i] == cl.labels[j]);
        }
    }
    assert!(kmeans(&x, 2, 0, 1, 0).is_err());
    assert!(kmeans(&x, 2, 91, 1, 0).is_err());
}

#[test]
fn kmeans_leaves_no_group_empty_with_repeated_points() {
    // dead filters: many identical zero profiles, and a few others
    let mut x = vec![0.0; 2 * 20];
    x.extend([5.0, 5.0, 5.1, 5.0, -5.0, 5.0]);
    for seed in 0..8 {
        let cl = kmeans(&x, 2, 4, 1, seed).expect("kmeans");
        for g in 0..4 {
            assert!(
                cl.labels.contains(&g),
                "seed {seed}: group {g} is empty: {:?}",
                cl.labels
            );
        }
    }
}

#[test]
fn pixel_diversity_tells_one_image_a_few_repeated_and_varied_ones_apart() {
    let d = 16;
    let mut rng = StdRng::seed_from_u64(4);
    let img =
        |rng: &mut StdRng| -> Vec<f32> { (0..d).map(|_| rng.random_range(-1.0..1.0)).collect() };
    // one image 8 times: no spread, no distance
    let one = img(&mut rng);
    let same: Vec<f32> = (0..8).flat_map(|_| one.clone()).collect();
    let p = pixel_diversity(&same, 8, d).expect("one image");
    assert!(p.pixel_std < 1e-6 && p.nearest < 1e-6, "{p:?}");
    // two images 4 times each: the spread of two values, but every nearest neighbour is a copy
    let two = img(&mut rng);
    let rep: Vec<f32> = (0..8)
        .flat_map(|i| if i % 2 == 0 { one.clone() } else { two.clone() })
        .collect();
    let p = pixel_diversity(&rep, 8, d).expect("two images");
    let want: f64 = one
        .iter()
        .zip(&two)
        .map(|(a, b)| f64::from((a - b).abs()) / 4.0)
        .sum::<f64>()
        / d as f64;
    assert!(
        (p.pixel_std - want).abs() < 1e-6,
        "{} vs {want}",
        p.pixel_std
    );
    assert!(p.nearest < 1e-6);
    // varied images: the brute-force nearest distance, in [0, 1] units
    let many: Vec<f32> = (0..8).flat_map(|_| img(&mut rng)).collect();
    let p = pixel_diversity(&many, 8, d).expect("varied");
    let row = |i: usize| &many[i * d..(i + 1) * d];
    let brute: f64 = (0..8)
        .map(|i| {
            (0..8)
                .filter(|&j| j != i)
                .map(|j| {
                    row(i)
                        .iter()
                        .zip(row(j))
                        .map(|(a, b)| f64::from((a - b) / 2.0).powi(2))
                        .sum::<f64>()
                        .sqrt()
                })
                .fold(f64::INFINITY, f64::min)
        })
        .sum::<f64>()
        / 8.0;
    assert!((p.nearest - brute).abs() < 1e-4, "{} vs {brute}", p.nearest);
    assert!(pixel_diversity(&many, 1, d).is_err());
}
