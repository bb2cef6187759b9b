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
use crate::generator::{run_bucket, Generator};
use crate::intervention::Resolved;
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
    let rows = batch.rows();
    let cfg = &g.config;
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
    // states before bucket 1: one per distinct latent row
    let (mut x, mut class) = match (&g.constant, &batch.z) {
        (Some(c), _) => (c.clone(), vec![0; rows]), // [1, D]
        (None, Some(z)) => {
            let d = cfg.latent_dim;
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
            (b.tensor(first, &[order.len(), d])?, class) // [K, D]
        }
        (None, None) => return Err(Error::Shape("this generator needs a latent z".into())),
    };
    let mut acts = vec![None; nsites];
    for (i, blocks) in g.buckets.iter().enumerate() {
        let (order, next) = classes((0..rows).map(|r| (class[r], batch.paths[r][i])));
        let from: Vec<usize> = order.iter().map(|k| k.0).collect();
        let col: Vec<usize> = order.iter().map(|k| k.1).collect();
        let xin = gather(b, &x, &from)?; // [K', ...]
        x = run_bucket(b, blocks, &xin, &col)?; // [K', C, H, W]
        class = next;
        for e in &resolved.edits[i] {
            x = b.unit_edit(&x, &e.alpha, &e.value, &e.mask)?; // [K', C, H, W]
        }
        if let Some(m) = &resolved.mix[i] {
            let (pairs, next) = classes((0..rows).map(|r| (class[r], class[batch.donors[r]])));
            let base: Vec<usize> = pairs.iter().map(|p| p.0).collect();
            let donor: Vec<usize> = pairs.iter().map(|p| p.1).collect();
            x = b.mix_pairs(&x, &base, &donor, &m.channels, &m.mask)?; // [K, C, H, W]
            class = next;
        }
        if sites.contains(&i) {
            acts[i] = Some(gather(b, &x, &class[..batch.n])?); // [n, C, H, W]
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
