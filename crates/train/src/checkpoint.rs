//! Checkpoints: one safetensors file per run folder holding every variable, both Adam
//! states and the EMA, with the options and counters in its metadata. Written atomically
//! (temporary file + rename), so a killed run always leaves the last complete checkpoint.

use crate::options::TrainOptions;
use crate::trainer::{StepStats, Trainer};
use crate::{Result, TrainError};
use candle_core::{Device, Tensor};
use ganscope_model::format::{write_atomic, DatasetMeta};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// The checkpoint file name inside a run folder.
pub const FILE: &str = "checkpoint.safetensors";
const KEY: &str = "ganscope_checkpoint";

/// What a checkpoint records besides tensors.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CheckpointMeta {
    /// Checkpoint layout version.
    pub version: u32,
    /// Generator steps done.
    pub step: u64,
    /// Seconds of training done.
    pub elapsed: f64,
    /// Adam step counters (generator, discriminator).
    pub adam_t: (u64, u64),
    /// The run's options.
    pub options: TrainOptions,
    /// The last step's numbers.
    pub last: StepStats,
    /// The training data.
    pub dataset: DatasetMeta,
    /// Interpretable training: the partition of the site's filters in use.
    #[serde(default)]
    pub groups: Option<Vec<usize>>,
}

/// Path of the checkpoint of a run folder.
pub fn path(dir: &Path) -> PathBuf {
    dir.join(FILE)
}

/// Writes the trainer's whole state to `dir/checkpoint.safetensors`.
pub fn save(tr: &Trainer, dir: &Path) -> Result<()> {
    let mut tensors: Vec<(String, Tensor)> = tr.store.snapshot();
    for (tag, adam) in [("adam_g", &tr.adam_g), ("adam_d", &tr.adam_d)] {
        for (n, (m, v)) in &adam.moments {
            tensors.push((format!("{tag}.m.{n}"), m.clone()));
            tensors.push((format!("{tag}.v.{n}"), v.clone()));
        }
    }
    if let Some(ema) = &tr.ema {
        tensors.extend(ema.iter().map(|(n, t)| (format!("ema.{n}"), t.clone())));
    }
    let (mean, std) = tr.data.channel_stats();
    let meta = CheckpointMeta {
        version: 1,
        step: tr.step,
        elapsed: tr.elapsed,
        adam_t: (tr.adam_g.t, tr.adam_d.t),
        options: tr.opts.clone(),
        last: tr.last,
        dataset: DatasetMeta {
            name: tr.data.name.clone(),
            images: tr.data.len(),
            mean,
            std,
        },
        groups: tr.groups.clone(),
    };
    let json = serde_json::to_string(&meta)?;
    let bytes = safetensors::serialize(
        tensors.iter().map(|(n, t)| (n.as_str(), t)),
        Some(HashMap::from([(KEY.to_string(), json)])),
    )?;
    write_atomic(&path(dir), &bytes)?;
    Ok(())
}

/// The step of a run folder's checkpoint and every tensor in it as the bits of its f32
/// values, by name: what bit-for-bit comparisons of runs (resume, kills, extension) compare.
pub fn load_bits(dir: &Path) -> Result<(u64, BTreeMap<String, Vec<u32>>)> {
    let (meta, tensors) = load(dir, &Device::Cpu)?;
    let mut out = BTreeMap::new();
    for (name, t) in tensors {
        let v = t.flatten_all()?.to_vec1::<f32>()?;
        out.insert(name, v.iter().map(|x| x.to_bits()).collect());
    }
    Ok((meta.step, out))
}

/// Reads a checkpoint: its metadata and every tensor.
pub fn load(dir: &Path, device: &Device) -> Result<(CheckpointMeta, BTreeMap<String, Tensor>)> {
    let p = path(dir);
    let bytes = std::fs::read(&p).map_err(|source| TrainError::Io {
        path: p.display().to_string(),
        source,
    })?;
    let bad = |m: String| TrainError::Checkpoint(format!("{}: {m}", p.display()));
    let (_, st_meta) =
        safetensors::SafeTensors::read_metadata(&bytes).map_err(|e| bad(e.to_string()))?;
    let json = st_meta
        .metadata()
        .as_ref()
        .and_then(|m| m.get(KEY))
        .ok_or_else(|| bad("no checkpoint metadata".into()))?;
    let meta: CheckpointMeta = serde_json::from_str(json).map_err(|e| bad(e.to_string()))?;
    let tensors = candle_core::safetensors::load_buffer(&bytes, device)?;
    Ok((meta, tensors.into_iter().collect()))
}

/// Restores a trainer's state from a loaded checkpoint (the trainer built from the same
/// options).
pub fn restore(
    tr: &mut Trainer,
    meta: &CheckpointMeta,
    tensors: &BTreeMap<String, Tensor>,
) -> Result<()> {
    tr.store.restore(tensors)?;
    for (tag, adam, t) in [
        ("adam_g", &mut tr.adam_g, meta.adam_t.0),
        ("adam_d", &mut tr.adam_d, meta.adam_t.1),
    ] {
        adam.t = t;
        for (n, (m, v)) in adam.moments.iter_mut() {
            let get = |k: String| {
                tensors
                    .get(&k)
                    .cloned()
                    .ok_or_else(|| TrainError::Checkpoint(format!("missing {k}")))
            };
            *m = get(format!("{tag}.m.{n}"))?;
            *v = get(format!("{tag}.v.{n}"))?;
        }
    }
    if let Some(ema) = &mut tr.ema {
        for (n, t) in ema.iter_mut() {
            *t = tensors
                .get(&format!("ema.{n}"))
                .cloned()
                .ok_or_else(|| TrainError::Checkpoint(format!("missing ema.{n}")))?;
        }
    }
    tr.step = meta.step;
    tr.elapsed = meta.elapsed;
    tr.groups = meta.groups.clone();
    tr.last = meta.last;
    Ok(())
}
