//! `ganscope bench-train`: the training step timed on a device, and one step written out so
//! another framework can replay it (the PyTorch twin in `tests/torch/train_twin.py`).
//!
//! [`dump_step`] writes, into a folder: `init.safetensors` (every variable before the step:
//! weights, BatchNorm running statistics, spectral-norm vectors), `inputs.safetensors` (what
//! the step draws: the real batch and the fakes' latents and paths of each discriminator step,
//! the generator step's latents and paths, the diversity pairs), `after.safetensors` (every
//! variable after it) and `step.json` (the options and the step's losses). [`time_steps`]
//! times whole steps and the phases of one.

use std::collections::HashMap;
use std::path::Path;
use std::time::Instant;

use candle_core::{Device, Tensor};
use serde::Serialize;

use crate::trainer::{step_seed, StepStats, Trainer, G_DRAW, PAIRS_DRAW};
use crate::{Result, TrainError};

/// Milliseconds of the training step and its phases.
#[derive(Clone, Debug, Serialize)]
pub struct Timing {
    /// Device.
    pub device: String,
    /// Batch size.
    pub batch: usize,
    /// Timed steps.
    pub steps: usize,
    /// Median ms of a whole step (`d_steps` D updates, one G update).
    pub step_ms_median: f64,
    /// Mean ms of a whole step.
    pub step_ms_mean: f64,
    /// Median ms of each phase: (name, ms).
    pub phases: Vec<(String, f64)>,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> TrainError + '_ {
    move |source| TrainError::Io {
        path: path.display().to_string(),
        source,
    }
}

fn save(tensors: HashMap<String, Tensor>, path: &Path) -> Result<()> {
    candle_core::safetensors::save(&tensors, path)?;
    Ok(())
}

fn variables(tr: &Trainer) -> HashMap<String, Tensor> {
    tr.store
        .vars
        .iter()
        .map(|(n, v)| (n.clone(), v.as_tensor().clone()))
        .collect()
}

/// A generator draw as tensors: `paths` `[n, buckets]` and, unless the input is constant,
/// `z` `[n, dim]`, on the CPU.
fn draw(tr: &Trainer, seed: u64, n: usize) -> Result<Vec<(String, Tensor)>> {
    let (z, paths) = tr.draw(seed, n, &Device::Cpu)?;
    let nb = tr.gcfg.buckets.len();
    let paths: Vec<i64> = paths.into_iter().flatten().map(|b| b as i64).collect();
    let mut out = vec![(
        "paths".to_string(),
        Tensor::from_vec(paths, (n, nb), &Device::Cpu)?,
    )];
    out.extend(z.map(|z| ("z".to_string(), z)));
    Ok(out)
}

/// Writes a fresh run's first step, its inputs and the variables around it into `dir` (see
/// the module doc), taking the step. Returns its losses. Only the first step: the variables
/// do not include Adam's moments, which a replay starts from zero.
pub fn dump_step(tr: &mut Trainer, dir: &Path) -> Result<StepStats> {
    if tr.step != 0 {
        return Err(TrainError::Options(format!(
            "only a fresh run's first step can be written out (this run is at step {})",
            tr.step
        )));
    }
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    // the seeds Trainer::train_step draws step 0 with
    let (seed, b) = (tr.opts.seed, tr.opts.batch);
    let mut inputs = HashMap::new();
    for k in 0..tr.opts.d_steps as u64 {
        let real = tr.real_for(0, k)?;
        inputs.insert(format!("d{k}.real"), real.to_device(&Device::Cpu)?);
        for (name, t) in draw(tr, step_seed(seed, 0, k), b)? {
            inputs.insert(format!("d{k}.{name}"), t);
        }
    }
    for (name, t) in draw(tr, step_seed(seed, 0, G_DRAW), b)? {
        inputs.insert(format!("g.{name}"), t);
    }
    let pairs: Vec<i64> = tr
        .diversity_pairs(step_seed(seed, 0, PAIRS_DRAW))
        .into_iter()
        .flat_map(|p| p.map_or([-1, -1], |(i, j)| [i as i64, j as i64]))
        .collect();
    let nb = pairs.len() / 2;
    inputs.insert(
        "g.pairs".into(),
        Tensor::from_vec(pairs, (nb, 2), &Device::Cpu)?,
    );
    save(inputs, &dir.join("inputs.safetensors"))?;
    save(variables(tr), &dir.join("init.safetensors"))?;
    let stats = tr.train_step()?;
    save(variables(tr), &dir.join("after.safetensors"))?;
    let json = serde_json::json!({
        "options": tr.opts,
        "generator": tr.gcfg,
        "discriminator": tr.dcfg,
        "stats": stats,
    });
    let path = dir.join("step.json");
    std::fs::write(
        &path,
        serde_json::to_string_pretty(&json).unwrap_or_default(),
    )
    .map_err(io(&path))?;
    Ok(stats)
}

fn sync(dev: &Device) -> Result<()> {
    dev.synchronize()?;
    Ok(())
}

fn median(xs: &mut [f64]) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs.get(xs.len() / 2).copied().unwrap_or(f64::NAN)
}

/// Times `steps` whole training steps after `warmup`, then the phases of one step (each the
/// median of `steps.clamp(3, 10)` runs): G forward and forward+backward, D forward and
/// forward+backward on real and fake, the diversity term.
pub fn time_steps(tr: &mut Trainer, warmup: usize, steps: usize) -> Result<Timing> {
    let dev = tr.device.clone();
    for _ in 0..warmup {
        tr.train_step()?;
    }
    sync(&dev)?;
    let mut ts = Vec::with_capacity(steps);
    for _ in 0..steps {
        let t = Instant::now();
        tr.train_step()?;
        sync(&dev)?;
        ts.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let mean = ts.iter().sum::<f64>() / ts.len().max(1) as f64;
    let b = tr.opts.batch;
    let reps = steps.clamp(3, 10);
    let mut phases = Vec::new();
    let mut phase = |name: &str, f: &mut dyn FnMut() -> Result<()>| -> Result<()> {
        let mut xs = Vec::with_capacity(reps);
        for _ in 0..reps {
            let t = Instant::now();
            f()?;
            sync(&dev)?;
            xs.push(t.elapsed().as_secs_f64() * 1e3);
        }
        phases.push((name.to_string(), median(&mut xs)));
        Ok(())
    };
    phase(
        &format!("G forward, training mode ({b} samples)"),
        &mut || {
            tr.fake(1, b, true)?;
            Ok(())
        },
    )?;
    phase("G forward + backward", &mut || {
        tr.backward(&tr.fake(1, b, true)?.sqr()?.sum_all()?)?;
        Ok(())
    })?;
    let be = tr.backend(true);
    let s = tr.gcfg.image_size;
    let x = Tensor::randn(0f32, 1., (2 * b, tr.gcfg.channels, s, s), &dev)?;
    let norm = tr.dcfg.norm.label();
    phase(
        &format!("D {norm} + forward ({} images)", 2 * b),
        &mut || {
            tr.discriminator(false)?.forward(&be, &x)?;
            Ok(())
        },
    )?;
    phase(&format!("D {norm} + forward + backward"), &mut || {
        let loss = tr.discriminator(false)?.forward(&be, &x)?.0.sum_all()?;
        tr.backward(&loss)?;
        Ok(())
    })?;
    if tr.gcfg.buckets.iter().any(|bc| bc.blocks > 1) {
        phase("diversity term", &mut || {
            tr.diversity_term(7)?;
            Ok(())
        })?;
    }
    Ok(Timing {
        device: tr.opts.device.clone(),
        batch: b,
        steps,
        step_ms_median: median(&mut ts),
        step_ms_mean: mean,
        phases,
    })
}
