//! Non-negative matrix factorisation `V ~ W H` by Lee and Seung's multiplicative updates
//! (Frobenius loss), seeded; the clustering of influence maps (Besserve et al. sec. 3.3).

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::{opts, Result};

/// A factorisation of an `[m, n]` matrix at rank `k`.
#[derive(Clone, Debug, PartialEq)]
pub struct Nmf {
    /// `[m, k]`, row-major.
    pub w: Vec<f64>,
    /// `[k, n]`, row-major.
    pub h: Vec<f64>,
    /// Rank.
    pub k: usize,
    /// Relative error `|V - W H|_F / |V|_F`.
    pub error: f64,
    /// Iterations run.
    pub iterations: usize,
}

const EPS: f64 = 1e-12;

/// `a [p, q] @ b [q, r]`.
fn matmul(a: &[f64], b: &[f64], p: usize, q: usize, r: usize) -> Vec<f64> {
    let mut out = vec![0.0; p * r];
    for i in 0..p {
        for t in 0..q {
            let x = a[i * q + t];
            if x != 0.0 {
                for j in 0..r {
                    out[i * r + j] += x * b[t * r + j];
                }
            }
        }
    }
    out
}

fn transpose(a: &[f64], p: usize, q: usize) -> Vec<f64> {
    let mut out = vec![0.0; p * q];
    for i in 0..p {
        for j in 0..q {
            out[j * p + i] = a[i * q + j];
        }
    }
    out
}

fn rel_error(v: &[f64], w: &[f64], h: &[f64], m: usize, k: usize, n: usize) -> f64 {
    let wh = matmul(w, h, m, k, n);
    let num: f64 = v.iter().zip(&wh).map(|(a, b)| (a - b).powi(2)).sum();
    let den: f64 = v.iter().map(|a| a * a).sum();
    (num / den.max(EPS)).sqrt()
}

/// Factorises the non-negative `[m, n]` matrix `v` at rank `k`, at most `max_iter`
/// iterations or until the relative error changes by less than `tol` between checks.
pub fn nmf(
    v: &[f64],
    m: usize,
    n: usize,
    k: usize,
    max_iter: usize,
    tol: f64,
    seed: u64,
) -> Result<Nmf> {
    if k == 0 || k > m.min(n) {
        return Err(opts(format!(
            "an NMF rank of {k} for a {m} x {n} matrix; it must be 1..={}",
            m.min(n)
        )));
    }
    if v.len() != m * n {
        return Err(opts(format!("{} values for a {m} x {n} matrix", v.len())));
    }
    if let Some(x) = v.iter().find(|x| !x.is_finite() || **x < 0.0) {
        return Err(opts(format!(
            "NMF needs finite non-negative values; found {x}"
        )));
    }
    let mut rng = StdRng::seed_from_u64(seed);
    let scale = (v.iter().sum::<f64>() / (m * n) as f64 / k as f64)
        .sqrt()
        .max(EPS);
    let mut w: Vec<f64> = (0..m * k)
        .map(|_| scale * rng.random_range(0.1..1.0))
        .collect();
    let mut h: Vec<f64> = (0..k * n)
        .map(|_| scale * rng.random_range(0.1..1.0))
        .collect();
    let mut last = f64::INFINITY;
    let mut it = 0;
    while it < max_iter {
        it += 1;
        // H <- H * (W^T V) / (W^T W H)
        let wt = transpose(&w, m, k); // [k, m]
        let num = matmul(&wt, v, k, m, n); // [k, n]
        let wtw = matmul(&wt, &w, k, m, k); // [k, k]
        let den = matmul(&wtw, &h, k, k, n); // [k, n]
        for ((x, a), b) in h.iter_mut().zip(&num).zip(&den) {
            *x *= a / (b + EPS);
        }
        // W <- W * (V H^T) / (W H H^T)
        let ht = transpose(&h, k, n); // [n, k]
        let num = matmul(v, &ht, m, n, k); // [m, k]
        let hht = matmul(&h, &ht, k, n, k); // [k, k]
        let den = matmul(&w, &hht, m, k, k); // [m, k]
        for ((x, a), b) in w.iter_mut().zip(&num).zip(&den) {
            *x *= a / (b + EPS);
        }
        if it % 10 == 0 {
            let e = rel_error(v, &w, &h, m, k, n);
            if (last - e).abs() < tol {
                break;
            }
            last = e;
        }
    }
    Ok(Nmf {
        error: rel_error(v, &w, &h, m, k, n),
        w,
        h,
        k,
        iterations: it,
    })
}
