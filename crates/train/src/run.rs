//! A whole training run in a folder: data, resume, metrics log, sample grids, checkpoints.

use crate::checkpoint;
use crate::images::{grid, save_png};
use crate::options::TrainOptions;
use crate::trainer::{StepStats, Trainer};
use crate::{Result, TrainError};
use ganscope_data::{load, Dataset, LoadOptions, Source, Split};
use std::io::Write;
use std::path::Path;

/// Samples in each grid.
pub const GRID: usize = 64;

/// Loads the training data the options name.
pub fn load_data(o: &TrainOptions) -> Result<Dataset> {
    let source: Source = o.data.parse()?;
    let data = load(
        &source,
        &LoadOptions {
            size: o.image_size,
            channels: o.channels,
            colored: o.colored,
            split: Split::Train,
            limit: o.limit,
            seed: o.seed,
        },
    )?;
    let Some(classes) = &o.classes else {
        return Ok(data);
    };
    if let Some(c) = classes.iter().find(|&&c| c as usize >= data.classes.len()) {
        return Err(TrainError::Options(format!(
            "class {c} does not exist in {} (it has {} classes)",
            data.name,
            data.classes.len()
        )));
    }
    let kept = data.filter_labels(classes);
    if kept.is_empty() {
        return Err(TrainError::Options(format!(
            "no image of classes {classes:?} in {}",
            data.name
        )));
    }
    Ok(kept)
}

/// Creates the run folder and proves it writable before any training is done.
pub fn prepare_dir(dir: &Path) -> Result<()> {
    let io = |e: std::io::Error| TrainError::Io {
        path: dir.display().to_string(),
        source: e,
    };
    std::fs::create_dir_all(dir.join("samples")).map_err(io)?;
    let probe = dir.join(".write-probe");
    let mut f = std::fs::File::create(&probe).map_err(io)?;
    f.write_all(&[0u8; 1 << 20])
        .and_then(|_| f.sync_all())
        .map_err(io)?;
    std::fs::remove_file(&probe).map_err(io)?;
    Ok(())
}

/// A trainer for `dir`: fresh, or resumed from its checkpoint (then the options come from
/// the checkpoint, except the device, and `steps`, when given, replaces its target).
pub fn open(opts: TrainOptions, dir: &Path, resume: bool, steps: Option<u64>) -> Result<Trainer> {
    prepare_dir(dir)?;
    let exists = checkpoint::path(dir).exists();
    if resume {
        if !exists {
            return Err(TrainError::Options(format!(
                "{} has no checkpoint to resume from",
                dir.display()
            )));
        }
        let (meta, tensors) = checkpoint::load(dir, &crate::trainer::device(&opts.device)?)?;
        let mut o = meta.options.clone();
        o.device = opts.device;
        if let Some(s) = steps {
            o.steps = s;
        }
        let data = load_data(&o)?;
        let mut tr = Trainer::new(o, data)?;
        checkpoint::restore(&mut tr, &meta, &tensors)?;
        Ok(tr)
    } else {
        if exists {
            return Err(TrainError::Options(format!(
                "{} already holds a run; pass --resume to continue it or choose another --out",
                dir.display()
            )));
        }
        let data = load_data(&opts)?;
        Trainer::new(opts, data)
    }
}

/// Writes the sample grid of the current generator (fixed seed 0, inference mode).
pub fn write_samples(tr: &Trainer, dir: &Path) -> Result<()> {
    let x = tr.fake(0, GRID, false)?.flatten_all()?.to_vec1::<f32>()?;
    let img = grid(&x, GRID, tr.gcfg.channels, tr.gcfg.image_size, 8);
    save_png(
        &img,
        &dir.join("samples").join(format!("step_{:07}.png", tr.step)),
    )?;
    save_png(&img, &dir.join("samples.png"))
}

/// Keeps only the metrics lines of steps up to `step` (after a resume).
fn trim_metrics(path: &Path, step: u64) -> Result<()> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Ok(());
    };
    let kept: String = text
        .lines()
        .filter(|l| {
            serde_json::from_str::<StepStats>(l)
                .map(|s| s.step <= step)
                .unwrap_or(false)
        })
        .map(|l| format!("{l}\n"))
        .collect();
    ganscope_model::format::write_atomic(path, kept.as_bytes())?;
    Ok(())
}

/// Trains until `opts.steps`, logging, sampling and checkpointing on the way (a fresh run
/// writes its step-0 checkpoint first). A non-finite loss stops the run; the last good
/// checkpoint stays on disk.
pub fn train(tr: &mut Trainer, dir: &Path, on_step: &mut dyn FnMut(&StepStats)) -> Result<()> {
    let metrics = dir.join("metrics.jsonl");
    trim_metrics(&metrics, tr.step)?;
    let io = |e: std::io::Error| TrainError::Io {
        path: metrics.display().to_string(),
        source: e,
    };
    let mut log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&metrics)
        .map_err(io)?;
    let o = tr.opts.clone();
    if !checkpoint::path(dir).exists() {
        checkpoint::save(tr, dir)?; // a run always has a checkpoint, from step 0 on
    }
    while tr.step < o.steps {
        let s = tr.train_step()?;
        on_step(&s);
        let done = s.step == o.steps;
        if s.step % o.log_every.max(1) == 0 || done {
            let line = serde_json::to_string(&s)?;
            writeln!(log, "{line}").map_err(io)?;
        }
        if s.step % o.sample_every.max(1) == 0 || done {
            write_samples(tr, dir)?;
        }
        if s.step % o.checkpoint_every.max(1) == 0 || done {
            checkpoint::save(tr, dir)?;
        }
    }
    Ok(())
}
