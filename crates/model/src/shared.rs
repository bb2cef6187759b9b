//! Prefix reuse: a render that computes each distinct partial state once.
//!
//! Two batch rows are in the same state after bucket i when they start from the same latent
//! (or the RPGAN's constant input), took the same blocks in buckets 1..=i, and mixed with
//! donors in the same states. [`render_shared`] keeps one tensor row per distinct state and
//! maps batch rows onto them, so a path grid that varies only bucket k computes buckets
//! before k once, a hybrid grid computes the part before the site once per distinct sample,
//! and a constant-input RPGAN computes bucket 1 once per block, not once per sample. The
//! rows are expanded (one gather) only for the images and the sites asked for. It computes
//! the same values as [`crate::sample::render`] (each row goes through the same ops) for
//! inference; a training forward (BatchNorm on batch statistics) must not use it.

use std::collections::HashMap;

use crate::backend::Backend;
use crate::generator::{run_bucket, site_name, Generator};
use crate::intervention::{MixVectors, Resolved};
use crate::sample::Batch;
use crate::{Error, Result};

/// Distinct keys in order of first appearance, and each item's index among them.
fn classes<K: std::hash::Hash + Eq + Clone>(keys: impl Iterator<Item = K>) -> (Vec<K>, Vec<usize>) {
    let mut seen = HashMap::new();
    let mut order = Vec::new();
    let class = keys
        .map(|k| {
            *seen.entry(k.clone()).or_insert_with(|| {
                order.push(k);
                order.len() - 1
            })
        })
        .collect();
    (order, class)
}

fn is_identity(idx: &[usize], rows: usize) -> bool {
    idx.len() == rows && idx.iter().enumerate().all(|(i, &j)| i == j)
}

fn gather<B: Backend>(b: &B, x: &B::Tensor, idx: &[usize]) -> Result<B::Tensor> {
    if is_identity(idx, b.dims(x)[0]) {
        Ok(x.clone())
    } else {
        b.select_batch(x, idx)
    }
}

/// Checks a batch and a resolution against the generator; the number of sites.
fn check<T>(g: &Generator<T>, batch: &Batch, resolved: &Resolved, sites: &[usize]) -> Result<usize>
where
    T: Clone,
{
    g.check_paths(&batch.paths)?;
    batch.check()?;
    let nsites = g.buckets.len();
    if resolved.edits.len() != nsites || resolved.mix.len() != nsites {
        return Err(Error::InvalidIntervention(format!(
            "interventions resolved for {} sites; the model has {nsites}",
            resolved.edits.len()
        )));
    }
    if let Some(s) = sites.iter().find(|&&s| s >= nsites) {
        return Err(Error::Shape(format!(
            "site index {s}; the model has {nsites} sites"
        )));
    }
    Ok(nsites)
}

/// The distinct states before bucket 1 (`[K, D]`) and each row's state.
fn input_states<B: Backend>(
    g: &Generator<B::Tensor>,
    b: &B,
    batch: &Batch,
) -> Result<(B::Tensor, Vec<usize>)> {
    let rows = batch.rows();
    match (&g.constant, &batch.z) {
        (Some(c), _) => Ok((c.clone(), vec![0; rows])), // [1, D]
        (None, Some(z)) => {
            let d = g.config.latent_dim;
            if z.len() != rows * d {
                return Err(Error::Shape(format!(
                    "{} latent values for {rows} rows of {d}",
                    z.len()
                )));
            }
            let (order, class) = classes((0..rows).map(|r| {
                z[r * d..(r + 1) * d]
                    .iter()
                    .map(|v| v.to_bits())
                    .collect::<Vec<_>>()
            }));
            let first: Vec<f32> = order
                .iter()
                .flat_map(|bits| bits.iter().map(|&u| f32::from_bits(u)))
                .collect();
            Ok((b.tensor(first, &[order.len(), d])?, class)) // [K, D]
        }
        (None, None) => Err(Error::Shape("this generator needs a latent z".into())),
    }
}

/// Bucket `i` over distinct states `x` (row r in state `class[r]`), then its edits and
/// hybrid; returns the new distinct states and classes.
fn step<B: Backend>(
    g: &Generator<B::Tensor>,
    b: &B,
    batch: &Batch,
    resolved: &Resolved,
    i: usize,
    x: &B::Tensor,
    class: &[usize],
) -> Result<(B::Tensor, Vec<usize>)> {
    let rows = batch.rows();
    let (order, mut class) = classes((0..rows).map(|r| (class[r], batch.paths[r][i])));
    let from: Vec<usize> = order.iter().map(|k| k.0).collect();
    let col: Vec<usize> = order.iter().map(|k| k.1).collect();
    let xin = gather(b, x, &from)?; // [K', ...]
    let x = run_bucket(b, &g.buckets[i], &xin, &col)?; // [K', C, H, W]
    let mut x = resolved.apply_edits(b, i, x)?; // [K', C, H, W]
    if let Some(m) = &resolved.mix[i] {
        let (pairs, next) = classes((0..rows).map(|r| (class[r], class[batch.donors[r]])));
        let base: Vec<usize> = pairs.iter().map(|p| p.0).collect();
        let donor: Vec<usize> = pairs.iter().map(|p| p.1).collect();
        x = b.mix_pairs(&x, &base, &donor, &m.channels, &m.mask)?; // [K, C, H, W]
        class = next;
    }
    Ok((x, class))
}

/// Renders `batch` like [`crate::sample::render`], computing every distinct partial state
/// once. Returns the `[n, C, S, S]` images and, for each of `sites`, its `[n, C, H, W]`
/// activation after the site's interventions (the batch's first `n` rows).
pub fn render_shared<B: Backend>(
    g: &Generator<B::Tensor>,
    b: &B,
    batch: &Batch,
    resolved: &Resolved,
    sites: &[usize],
) -> Result<(B::Tensor, Vec<B::Tensor>)> {
    let nsites = check(g, batch, resolved, sites)?;
    let (mut x, mut class) = input_states(g, b, batch)?;
    let mut acts = vec![None; nsites];
    for (i, act) in acts.iter_mut().enumerate() {
        (x, class) = step(g, b, batch, resolved, i, &x, &class)?;
        if sites.contains(&i) {
            *act = Some(gather(b, &x, &class[..batch.n])?); // [n, C, H, W]
        }
    }
    let y = gather(b, &x, &class[..batch.n])?; // [n, C, S, S]
    let acts = sites
        .iter()
        .map(|&s| {
            acts[s]
                .clone()
                .ok_or_else(|| Error::Shape(format!("site {s} not reached")))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok((y, acts))
}

/// Hybrids of many channel sets at one site with the tail batched (counterfactual influence
/// maps, module hybrids): the batch's rows `0..n` are the bases, `donors[r]` their donors.
/// Every distinct state is computed once up to and including `site`; then, for each of
/// `sets`, the `n` hybrids `(1 - M) r(base) + M r(donor)` with `M = channels ⊗ mask` go
/// through the rest of the generator in one batch. `resolved` may carry edits (applied at
/// their sites for every set) but no hybrid. Returns `[sets.len() * n, C, S, S]`, set-major
/// (row `s * n + r` is set s applied to row r).
pub fn render_hybrid_sets<B: Backend>(
    g: &Generator<B::Tensor>,
    b: &B,
    batch: &Batch,
    resolved: &Resolved,
    site: usize,
    sets: &[MixVectors],
) -> Result<B::Tensor> {
    let nsites = check(g, batch, resolved, &[site])?;
    if resolved.mix.iter().any(Option::is_some) {
        return Err(Error::InvalidIntervention(
            "hybrid sets take their channel sets as an argument, not from a hybrid intervention"
                .into(),
        ));
    }
    if sets.is_empty() {
        return Err(Error::InvalidIntervention("no channel sets to mix".into()));
    }
    let [c, h, w] = g.sites()[site].1;
    if let Some(m) = sets
        .iter()
        .find(|m| m.channels.len() != c || m.mask.len() != h * w)
    {
        return Err(Error::InvalidIntervention(format!(
            "a channel set of {} channels and a mask of {} cells; site {} has {c} channels of \
             {h}x{w}",
            m.channels.len(),
            m.mask.len(),
            site_name(site)
        )));
    }
    let (mut x, mut class) = input_states(g, b, batch)?;
    for i in 0..=site {
        (x, class) = step(g, b, batch, resolved, i, &x, &class)?;
    }
    let n = batch.n;
    let base: Vec<usize> = class[..n].to_vec();
    let donor: Vec<usize> = (0..n).map(|r| class[batch.donors[r]]).collect();
    let parts = sets
        .iter()
        .map(|m| b.mix_pairs(&x, &base, &donor, &m.channels, &m.mask)) // [n, C, H, W]
        .collect::<Result<Vec<_>>>()?;
    let mut x = b.concat_batch(&parts)?; // [S*n, C, H, W]
    for i in site + 1..nsites {
        let col: Vec<usize> = (0..sets.len() * n).map(|k| batch.paths[k % n][i]).collect();
        x = run_bucket(b, &g.buckets[i], &x, &col)?; // [S*n, C', H', W']
        x = resolved.apply_edits(b, i, x)?;
    }
    Ok(x) // [S*n, C, S, S]
}
