//! Distances between images and between image sets: the RPGAN paper's colour histograms and
//! Hellinger distance, the semantic L2 distance of a feature network, and the Fréchet
//! distance and precision/recall (Kynkäänniemi et al.) of two feature sets.

use nalgebra::{DMatrix, DVector, SymmetricEigen};

use crate::{opts, Result};

/// Bins of a channel histogram (RPGAN sec. 4.1: 25 equal segments of [0, 255]).
pub const BINS: usize = 25;

/// A network that embeds images (the semantic distance, FD, precision/recall).
pub trait Features {
    /// Length of one embedding.
    fn dim(&self) -> usize;
    /// `[n, C, S, S]` images in [-1, 1] -> `[n, dim]` embeddings.
    fn features(&self, images: &[f32], n: usize) -> Result<Vec<f32>>;
    /// What the network is, in words (goes into reports).
    fn describe(&self) -> String;
}

/// The 8-bit value of a pixel in [-1, 1] (the same rounding as the PNG writer).
pub fn to_byte(v: f32) -> u8 {
    ((v.clamp(-1.0, 1.0) + 1.0) * 127.5).round() as u8
}

/// Per-channel normalised histograms of one `[C, S, S]` image: `C` vectors of [`BINS`].
pub fn histograms(image: &[f32], channels: usize) -> Vec<[f64; BINS]> {
    let px = image.len() / channels.max(1);
    (0..channels)
        .map(|c| {
            let mut h = [0f64; BINS];
            for &v in &image[c * px..(c + 1) * px] {
                h[usize::from(to_byte(v)) * BINS / 256] += 1.0;
            }
            h.iter_mut().for_each(|x| *x /= px.max(1) as f64);
            h
        })
        .collect()
}

/// Hellinger distance of two discrete distributions: `sqrt(1/2 * sum (sqrt p - sqrt q)^2)`,
/// 0 for identical ones, 1 for disjoint ones.
pub fn hellinger(p: &[f64], q: &[f64]) -> f64 {
    let s: f64 = p
        .iter()
        .zip(q)
        .map(|(a, b)| (a.sqrt() - b.sqrt()).powi(2))
        .sum();
    (0.5 * s).sqrt()
}

/// Colour distance of two `[C, S, S]` images: the Hellinger distance of each channel's
/// histogram.
pub fn colour_distance(a: &[f32], b: &[f32], channels: usize) -> Vec<f64> {
    histograms(a, channels)
        .iter()
        .zip(histograms(b, channels))
        .map(|(p, q)| hellinger(p, &q))
        .collect()
}

/// Euclidean distance.
pub fn l2(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| f64::from(x - y).powi(2))
        .sum::<f64>()
        .sqrt()
}

/// Mean and (unbiased) covariance of `[n, d]` rows.
fn moments(x: &[f32], d: usize) -> Result<(DVector<f64>, DMatrix<f64>)> {
    let n = x.len() / d.max(1);
    if d == 0 || n < 2 || x.len() != n * d {
        return Err(opts(format!(
            "a Fréchet distance needs at least 2 feature rows of {d}; got {} values",
            x.len()
        )));
    }
    let m = DMatrix::from_row_slice(n, d, &x.iter().map(|&v| f64::from(v)).collect::<Vec<_>>());
    let mu = m.row_mean().transpose(); // [d]
    let mut c = m.clone();
    for mut row in c.row_iter_mut() {
        row -= mu.transpose();
    }
    let cov = c.transpose() * &c / (n as f64 - 1.0); // [d, d]
    Ok((mu, cov))
}

/// Square root of a symmetric positive semi-definite matrix (negative round-off clamped).
fn sqrt_psd(m: DMatrix<f64>) -> DMatrix<f64> {
    let e = SymmetricEigen::new(m);
    let s = DMatrix::from_diagonal(&e.eigenvalues.map(|l| l.max(0.0).sqrt()));
    &e.eigenvectors * s * e.eigenvectors.transpose()
}

/// Fréchet distance of two `[n, d]` feature sets (Heusel et al.):
/// `|mu1 - mu2|^2 + tr(S1 + S2 - 2 (S1^1/2 S2 S1^1/2)^1/2)`.
pub fn frechet(a: &[f32], b: &[f32], d: usize) -> Result<f64> {
    let (mu1, s1) = moments(a, d)?;
    let (mu2, s2) = moments(b, d)?;
    let r1 = sqrt_psd(s1.clone());
    let m = &r1 * &s2 * &r1;
    let m = (&m + m.transpose()) * 0.5; // symmetric up to round-off
    let cross: f64 = SymmetricEigen::new(m)
        .eigenvalues
        .iter()
        .map(|l| l.max(0.0).sqrt())
        .sum();
    Ok(((&mu1 - &mu2).norm_squared() + s1.trace() + s2.trace() - 2.0 * cross).max(0.0))
}

fn sq_dist(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// Squared distance of each row to its k-th nearest other row.
fn knn_radii(x: &[f32], d: usize, k: usize) -> Vec<f32> {
    let n = x.len() / d;
    (0..n)
        .map(|i| {
            let mut ds: Vec<f32> = (0..n)
                .filter(|&j| j != i)
                .map(|j| sq_dist(&x[i * d..(i + 1) * d], &x[j * d..(j + 1) * d]))
                .collect();
            let k = k.min(ds.len()).max(1) - 1;
            ds.select_nth_unstable_by(k, f32::total_cmp);
            ds[k]
        })
        .collect()
}

/// Fraction of `probe` rows inside some `support` row's k-NN ball.
fn coverage(support: &[f32], radii: &[f32], probe: &[f32], d: usize) -> f64 {
    let n = probe.len() / d;
    let hits = (0..n)
        .filter(|&i| {
            let p = &probe[i * d..(i + 1) * d];
            radii
                .iter()
                .enumerate()
                .any(|(j, &r)| sq_dist(p, &support[j * d..(j + 1) * d]) <= r)
        })
        .count();
    hits as f64 / n.max(1) as f64
}

/// Improved precision and recall (Kynkäänniemi et al. 2019) of generated features `fake`
/// against `real` (`[n, d]` each) with k-nearest-neighbour balls: precision is the share of
/// fakes inside the real manifold, recall the share of reals inside the fake one.
pub fn precision_recall(real: &[f32], fake: &[f32], d: usize, k: usize) -> Result<(f64, f64)> {
    if k == 0
        || d == 0
        || real.len() % d != 0
        || fake.len() % d != 0
        || real.len() / d <= k
        || fake.len() / d <= k
    {
        return Err(opts(format!(
            "precision/recall with k = {k} needs more than {k} rows of {d} values in each set"
        )));
    }
    let rr = knn_radii(real, d, k);
    let rf = knn_radii(fake, d, k);
    Ok((coverage(real, &rr, fake, d), coverage(fake, &rf, real, d)))
}

/// How varied a set of images is, in pixel space (values in [0, 1]).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct PixelDiversity {
    /// Each pixel's standard deviation across the images, averaged over pixels.
    pub pixel_std: f64,
    /// Mean Euclidean distance from each image to its nearest other image.
    pub nearest: f64,
}

/// [`PixelDiversity`] of `n` images of `d` values each in [-1, 1]. A generator that draws one
/// image scores near 0 on both; one that repeats a few images has a spread (`pixel_std`) but
/// small nearest-neighbour distances, so compare both with real images'.
pub fn pixel_diversity(images: &[f32], n: usize, d: usize) -> Result<PixelDiversity> {
    if n < 2 || d == 0 || images.len() != n * d {
        return Err(opts(format!(
            "pixel diversity needs at least 2 images of {d} values, not {} values for {n}",
            images.len()
        )));
    }
    let x: Vec<f32> = images.iter().map(|v| (v + 1.0) * 0.5).collect();
    let mut sum = vec![0f64; d];
    let mut sq = vec![0f64; d];
    for row in x.chunks_exact(d) {
        for ((s, q), &v) in sum.iter_mut().zip(&mut sq).zip(row) {
            *s += f64::from(v);
            *q += f64::from(v) * f64::from(v);
        }
    }
    let k = n as f64;
    let pixel_std = sum
        .iter()
        .zip(&sq)
        .map(|(s, q)| (q / k - (s / k).powi(2)).max(0.0).sqrt())
        .sum::<f64>()
        / d as f64;
    let nearest = knn_radii(&x, d, 1)
        .iter()
        .map(|&r| f64::from(r).sqrt())
        .sum::<f64>()
        / k;
    Ok(PixelDiversity { pixel_std, nearest })
}

/// Mean and standard deviation.
pub fn mean_std(x: &[f64]) -> (f64, f64) {
    let n = x.len().max(1) as f64;
    let m = x.iter().sum::<f64>() / n;
    let v = x.iter().map(|v| (v - m).powi(2)).sum::<f64>() / n;
    (m, v.sqrt())
}

/// The project's classifier (`ganscope classifier`) as the feature network: its penultimate
/// layer is the embedding (the role InceptionV3 plays in the papers).
pub struct ClassifierFeatures(pub ganscope_model::classifier::Classifier);

impl Features for ClassifierFeatures {
    fn dim(&self) -> usize {
        self.0.feature_dim()
    }

    fn features(&self, images: &[f32], n: usize) -> Result<Vec<f32>> {
        Ok(self.0.features(images, n)?)
    }

    fn describe(&self) -> String {
        let m = self.0.meta();
        format!(
            "the penultimate layer ({} values) of ganscope's {} classifier{}",
            self.dim(),
            m.dataset.as_ref().map_or("", |d| d.name.as_str()),
            m.test_accuracy.map_or(String::new(), |a| format!(
                " (test accuracy {:.1}%)",
                100.0 * a
            ))
        )
    }
}
