//! Incremental learning with an RPGAN (RPGAN paper, sec. 4.3): a new run adds blocks to
//! chosen buckets of a trained RPGAN and trains only those, the old blocks (and the learned
//! constant) frozen, on the union of the old and the new data or on the new data alone.
//!
//! The new run takes the architecture, loss and data source from the extended run's
//! checkpoint, and its schedule and optimiser options from the command. The discriminator
//! continues from the extended run's weights; every Adam state starts fresh.

use crate::checkpoint;
use crate::options::{Extension, TrainOptions};
use crate::{Result, TrainError};
use candle_core::Device;
use std::path::Path;

/// Which data the extension trains on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExtendOn {
    /// The extended run's data and the new data together.
    Union,
    /// The new data only.
    New,
}

/// Parses `--add-blocks` (`bucket:count,...`, buckets 1-based) into (0-based bucket, count).
pub fn parse_add_blocks(s: &str) -> Result<Vec<(usize, usize)>> {
    let bad = || {
        TrainError::Options(format!(
            "--add-blocks takes bucket:count pairs such as 1:4,2:4 (got `{s}`)"
        ))
    };
    s.split(',')
        .map(|part| {
            let (b, m) = part.split_once(':').ok_or_else(bad)?;
            let (b, m): (usize, usize) = (
                b.trim().parse().map_err(|_| bad())?,
                m.trim().parse().map_err(|_| bad())?,
            );
            if b == 0 || m == 0 {
                return Err(bad());
            }
            Ok((b - 1, m))
        })
        .collect()
}

/// The options of a run extending the run in `from`.
///
/// `cmd` holds the command's options: its schedule, optimiser, seed and device are kept;
/// `new_data`/`new_classes` name the new data (default: the extended run's source, all
/// classes), and `on` says whether to train on the union with the old data.
pub fn extension_options(
    cmd: &TrainOptions,
    from: &Path,
    add: &[(usize, usize)],
    new_data: Option<String>,
    new_classes: Option<Vec<u32>>,
    on: ExtendOn,
) -> Result<TrainOptions> {
    let (meta, _) = checkpoint::load(from, &Device::Cpu)?;
    let old = meta.options;
    let gcfg = old.generator()?;
    if !gcfg.constant_input {
        return Err(TrainError::Options(format!(
            "{} is a standard GAN; only an RPGAN (train --rpgan) can be extended with blocks",
            from.display()
        )));
    }
    let old_blocks = gcfg.blocks();
    let mut blocks = old_blocks.clone();
    for &(b, m) in add {
        let slot = blocks.get_mut(b).ok_or_else(|| {
            TrainError::Options(format!(
                "bucket {} does not exist: the model has buckets 1..={}",
                b + 1,
                old_blocks.len()
            ))
        })?;
        *slot += m;
    }
    let data = new_data.unwrap_or_else(|| old.data.clone());
    let classes = match on {
        ExtendOn::New => new_classes,
        ExtendOn::Union => {
            if data != old.data {
                return Err(TrainError::Options(format!(
                    "the union of {} and {data} is not supported; use --extend-on new, or give the same --data with --classes",
                    old.data
                )));
            }
            match (&old.classes, new_classes) {
                (Some(a), Some(b)) => {
                    let mut c = [a.clone(), b].concat();
                    c.sort_unstable();
                    c.dedup();
                    Some(c)
                }
                _ => None, // one of them is every class
            }
        }
    };
    let from = std::fs::canonicalize(from).map_err(|e| TrainError::Io {
        path: from.display().to_string(),
        source: e,
    })?;
    Ok(TrainOptions {
        data,
        classes,
        blocks: Some(blocks),
        extend: Some(Extension {
            from: from.display().to_string(),
            old_blocks,
            old_steps: meta.step,
            old_seconds: meta.elapsed,
        }),
        ..TrainOptions {
            steps: cmd.steps,
            batch: cmd.batch,
            lr: cmd.lr,
            lr_d: cmd.lr_d,
            ema: cmd.ema,
            seed: cmd.seed,
            checkpoint_every: cmd.checkpoint_every,
            sample_every: cmd.sample_every,
            log_every: cmd.log_every,
            device: cmd.device.clone(),
            ..old
        }
    })
}

/// Loads the extended run's weights into a fresh trainer's store (whose old blocks were
/// created frozen): every generator and discriminator variable the old run has.
pub fn load_extended(store: &mut crate::store::ParamStore, ext: &Extension) -> Result<()> {
    let device = store.device().clone();
    let (_, tensors) = checkpoint::load(Path::new(&ext.from), &device)?;
    let loaded = store.load_matching(&tensors)?;
    if loaded == 0 {
        return Err(TrainError::Checkpoint(format!(
            "{} shares no variable with this run",
            ext.from
        )));
    }
    Ok(())
}
