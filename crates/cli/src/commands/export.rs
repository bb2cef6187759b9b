//! `ganscope export`: a run folder's networks as one model file.

use anyhow::Result;
use clap::Args;
use ganscope_train::export::{export, ExportOptions};
use std::path::PathBuf;

/// The options of `export`.
#[derive(Args)]
pub struct ExportArgs {
    /// The run folder (`train --out`).
    run: PathBuf,
    /// The model file to write.
    #[arg(long)]
    out: PathBuf,
    /// Store tensors as f16 (half the download).
    #[arg(long)]
    f16: bool,
    /// Export the raw generator weights even when the run kept an EMA.
    #[arg(long)]
    no_ema: bool,
    /// Leave the discriminator out.
    #[arg(long)]
    no_disc: bool,
}

/// Runs `ganscope export`.
pub fn run(a: &ExportArgs) -> Result<()> {
    let opts = ExportOptions {
        f16: a.f16,
        ema: !a.no_ema,
        discriminator: !a.no_disc,
    };
    let meta = export(&a.run, &a.out, opts)?;
    eprintln!(
        "wrote {} ({} buckets, {} sites)",
        a.out.display(),
        meta.generator.buckets.len(),
        meta.sites.len()
    );
    Ok(())
}
