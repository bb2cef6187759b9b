//! `ganscope bench-train`: times training steps and writes one out for the PyTorch twin.

use super::train::{resolved_options, TrainArgs};
use anyhow::{bail, Context, Result};
use clap::Args;
use ganscope_train::bench_train::{dump_step, time_steps};

/// The options of `bench-train`.
#[derive(Args)]
pub struct BenchTrainArgs {
    #[command(flatten)]
    train: Box<TrainArgs>,
    /// Untimed steps first (after the written-out one).
    #[arg(long, default_value_t = 3)]
    warmup: usize,
    /// Timed steps.
    #[arg(long, default_value_t = 10)]
    timed: usize,
}

/// Runs `ganscope bench-train`.
pub fn run(args: &BenchTrainArgs) -> Result<()> {
    let a = &args.train;
    let opts = resolved_options(a)?;
    if args.timed == 0 {
        bail!("--timed must be at least 1");
    }
    let data = ganscope_train::run::load_data(&opts)?;
    let mut tr = ganscope_train::trainer::Trainer::new(opts, data)?;
    let stats = dump_step(&mut tr, &a.out)?;
    eprintln!(
        "step 1 written to {}: D {:.4} G {:.4} diversity {:.4}",
        a.out.display(),
        stats.d_loss,
        stats.g_loss,
        stats.diversity
    );
    let t = time_steps(&mut tr, args.warmup, args.timed)?;
    let mut text = format!(
        "ganscope (candle) on {}, batch {}: {:.2} ms per training step (median of {}; mean {:.2})\n",
        t.device, t.batch, t.step_ms_median, t.steps, t.step_ms_mean
    );
    for (name, ms) in &t.phases {
        text.push_str(&format!("  {name:<44} {ms:9.2} ms\n"));
    }
    super::print_out(&text)?;
    let path = a.out.join("timing.json");
    std::fs::write(&path, serde_json::to_string_pretty(&t)?)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}
