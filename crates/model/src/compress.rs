//! `ganscope compress`: merges consecutive buckets of a linear RPGAN into one bucket whose
//! blocks are products of the merged buckets' blocks (RPGAN paper, sec. 4.4 and Table 3).
//!
//! A linear generator has no nonlinearity before its final tanh, so a path through buckets
//! `first..=last` is one affine map: for blocks `(i, j, k)` of three buckets,
//! `x -> W_k (W_j (W_i x + b_i) + b_j) + b_k = (W_k W_j W_i) x + (W_k W_j b_i + W_k b_j + b_k)`.
//! The merged bucket holds `blocks` such products for distinct random tuples, so a forward
//! does one matrix product where the original did several. The tuples are seeded and
//! recorded in the file's `analysis.compression`.

use crate::config::{BucketConfig, Family, GeneratorConfig};
use crate::format::{expected_tensors, to_bytes, ModelFile, ModelMeta, NamedTensor};
use crate::generator::layer_prefix;
use crate::{Error, Result};
use candle_core::{DType, Device, Tensor};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::BTreeSet;

/// What to merge.
#[derive(Clone, Debug)]
pub struct CompressOptions {
    /// First bucket to merge (0-based).
    pub first: usize,
    /// Last bucket to merge (0-based, inclusive).
    pub last: usize,
    /// Blocks of the merged bucket (distinct random tuples of the merged buckets' blocks).
    pub blocks: usize,
    /// Seed of the tuples.
    pub seed: u64,
    /// Store tensors as f16.
    pub f16: bool,
}

/// The first layer (0-based, global) of every bucket, and one past the last.
fn layer_starts(cfg: &GeneratorConfig) -> Vec<usize> {
    let mut starts = vec![0];
    for b in &cfg.buckets {
        starts.push(starts.last().copied().unwrap_or(0) + b.layers);
    }
    starts
}

/// `blocks` distinct tuples, one block index per merged bucket, in draw order.
pub fn draw_tuples(counts: &[usize], blocks: usize, seed: u64) -> Result<Vec<Vec<usize>>> {
    let total = counts
        .iter()
        .try_fold(1usize, |a, &m| a.checked_mul(m))
        .unwrap_or(usize::MAX);
    if blocks == 0 || blocks > total {
        return Err(Error::Compress(format!(
            "the merged buckets have {total} block tuples; --blocks must be 1..={total}, not {blocks}"
        )));
    }
    let mut rng = StdRng::seed_from_u64(seed);
    let mut seen = BTreeSet::new();
    let mut out = Vec::with_capacity(blocks);
    while out.len() < blocks {
        let t: Vec<usize> = counts.iter().map(|&m| rng.random_range(0..m)).collect();
        if seen.insert(t.clone()) {
            out.push(t);
        }
    }
    Ok(out)
}

/// The merged architecture: buckets `first..=last` become one bucket of one layer.
pub fn merged_config(cfg: &GeneratorConfig, o: &CompressOptions) -> Result<GeneratorConfig> {
    if cfg.family != Family::Linear {
        return Err(Error::Compress(format!(
            "only a linear generator's buckets can be merged (this one is {}): a nonlinearity between layers keeps them apart",
            cfg.family.name()
        )));
    }
    let n = cfg.buckets.len();
    if o.first >= o.last || o.last >= n {
        return Err(Error::Compress(format!(
            "merge at least two consecutive buckets within 1..={n} (asked {}-{})",
            o.first + 1,
            o.last + 1
        )));
    }
    let starts = layer_starts(cfg);
    let (a, b) = (starts[o.first], starts[o.last + 1] - 1); // merged layers a..=b
    let mut widths = cfg.widths[..a].to_vec();
    widths.extend_from_slice(&cfg.widths[b.min(cfg.widths.len())..]);
    let mut buckets = cfg.buckets[..o.first].to_vec();
    buckets.push(BucketConfig {
        layers: 1,
        blocks: o.blocks,
    });
    buckets.extend_from_slice(&cfg.buckets[o.last + 1..]);
    let out = GeneratorConfig {
        widths,
        buckets,
        ..cfg.clone()
    };
    out.validate()?;
    Ok(out)
}

/// The compressed model file's bytes and metadata, from a linear model file's bytes.
pub fn compress(bytes: &[u8], o: &CompressOptions) -> Result<(ModelMeta, Vec<u8>)> {
    let file = ModelFile::parse(bytes)?;
    let cfg = &file.meta.generator;
    let new_cfg = merged_config(cfg, o)?;
    let counts: Vec<usize> = cfg.buckets[o.first..=o.last]
        .iter()
        .map(|b| b.blocks)
        .collect();
    let tuples = draw_tuples(&counts, o.blocks, o.seed)?;
    let starts = layer_starts(cfg);
    let (a, b) = (starts[o.first], starts[o.last + 1] - 1);
    let shift_layers = b - a; // later layers move down by this many
    let shift_buckets = o.last - o.first;
    let get = |name: &str, shape: &[usize]| -> Result<Tensor> {
        Ok(Tensor::from_vec(file.data(name)?, shape, &Device::Cpu)?.to_dtype(DType::F64)?)
    };
    let expected = expected_tensors(cfg, file.meta.discriminator.as_ref())?;
    let shape_of = |name: &str| {
        expected
            .get(name)
            .cloned()
            .ok_or_else(|| Error::Compress(format!("no tensor `{name}` in the model")))
    };
    let mut out: Vec<NamedTensor> = Vec::new();
    // untouched tensors: renamed when they come after the merged buckets
    for (name, shape) in &expected {
        let moved = match parse_layer_name(name) {
            Some((bucket, _, _, _)) if (o.first..=o.last).contains(&bucket) => continue,
            Some((bucket, block, layer, rest)) if bucket > o.last => format!(
                "{}.{rest}",
                layer_prefix(bucket - shift_buckets, block, layer - shift_layers)
            ),
            _ => name.clone(),
        };
        out.push((moved, shape.clone(), file.data(name)?));
    }
    // the merged bucket: one affine map per tuple
    for (k, tuple) in tuples.iter().enumerate() {
        let mut w: Option<Tensor> = None; // [out, in] of the composition so far
        let mut c: Option<Tensor> = None; // [out, 1]
        for l in a..=b {
            let bucket = starts.partition_point(|&s| s <= l) - 1;
            let block = tuple[bucket - o.first];
            let p = format!("{}.linear", layer_prefix(bucket, block, l));
            let wl = get(&format!("{p}.weight"), &shape_of(&format!("{p}.weight"))?)?; // [o, i]
            let bias_shape = shape_of(&format!("{p}.bias"))?;
            let bl = get(&format!("{p}.bias"), &bias_shape)?.reshape((bias_shape[0], 1))?; // [o, 1]
            (w, c) = match (w, c) {
                (Some(w), Some(c)) => (Some(wl.matmul(&w)?), Some((wl.matmul(&c)? + bl)?)),
                _ => (Some(wl), Some(bl)),
            };
        }
        let (Some(w), Some(c)) = (w, c) else {
            return Err(Error::Compress("nothing to merge".into()));
        };
        let p = format!("{}.linear", layer_prefix(o.first, k, a));
        let (dims_w, dims_c) = (w.dims().to_vec(), vec![c.dims()[0]]);
        let vec = |t: Tensor| -> Result<Vec<f32>> {
            Ok(t.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?)
        };
        out.push((format!("{p}.weight"), dims_w, vec(w)?));
        out.push((format!("{p}.bias"), dims_c, vec(c)?));
    }
    let mut meta = ModelMeta::new(new_cfg, file.meta.discriminator.clone());
    meta.dataset = file.meta.dataset.clone();
    meta.training = file.meta.training.clone();
    meta.analysis = Some(serde_json::json!({
        "compression": {
            "merged_buckets": [o.first + 1, o.last + 1],
            "original_blocks": counts,
            "seed": o.seed,
            "tuples": tuples,
        }
    }));
    let bytes = to_bytes(&meta, &out, o.f16)?;
    ModelFile::parse(&bytes)?; // what we write must pass our own reader
    Ok((meta, bytes))
}

/// `g.bucket{i}.block{j}.layer{l}.{rest}` -> (bucket 0-based, block, layer 0-based, rest).
fn parse_layer_name(name: &str) -> Option<(usize, usize, usize, &str)> {
    let rest = name.strip_prefix("g.bucket")?;
    let (bucket, rest) = rest.split_once(".block")?;
    let (block, rest) = rest.split_once(".layer")?;
    let (layer, rest) = rest.split_once('.')?;
    Some((
        bucket.parse::<usize>().ok()?.checked_sub(1)?,
        block.parse().ok()?,
        layer.parse::<usize>().ok()?.checked_sub(1)?,
        rest,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_tuples() {
        assert_eq!(
            parse_layer_name("g.bucket3.block12.layer4.linear.weight"),
            Some((2, 12, 3, "linear.weight"))
        );
        assert_eq!(parse_layer_name("g.z"), None);
        let t = draw_tuples(&[2, 3], 6, 1).expect("all six");
        assert_eq!(t.iter().collect::<BTreeSet<_>>().len(), 6);
        assert!(draw_tuples(&[2, 3], 7, 1).is_err());
        assert!(draw_tuples(&[2, 3], 0, 1).is_err());
    }
}
