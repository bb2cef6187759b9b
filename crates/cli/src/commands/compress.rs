//! `ganscope compress`: merges consecutive buckets of a linear RPGAN
//! ([`ganscope_model::compress`]).

use anyhow::{bail, Result};
use clap::Args;
use ganscope_model::compress::{compress, CompressOptions};
use std::path::PathBuf;

/// The options of `compress`.
#[derive(Args)]
pub struct CompressArgs {
    /// The linear model file.
    model: PathBuf,
    /// The buckets to merge, 1-based and inclusive, e.g. 3-5.
    #[arg(long)]
    merge: String,
    /// Blocks of the merged bucket: distinct random tuples of the merged blocks.
    #[arg(long)]
    blocks: usize,
    /// Seed of the tuples.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// The model file to write.
    #[arg(long)]
    out: PathBuf,
    /// Store tensors as f16.
    #[arg(long)]
    f16: bool,
}

/// Runs `ganscope compress`.
pub fn run(a: &CompressArgs) -> Result<()> {
    let merge = &a.merge;
    let range = merge
        .split_once('-')
        .and_then(|(a, b)| {
            Some((
                a.trim().parse::<usize>().ok()?,
                b.trim().parse::<usize>().ok()?,
            ))
        })
        .filter(|&(a, b)| a >= 1 && b >= 1);
    let Some((first, last)) = range else {
        bail!("--merge takes two 1-based bucket numbers, e.g. 3-5 (got `{merge}`)");
    };
    let bytes = super::read(&a.model)?;
    let opts = CompressOptions {
        first: first - 1,
        last: last - 1,
        blocks: a.blocks,
        seed: a.seed,
        f16: a.f16,
    };
    let (meta, out_bytes) = compress(&bytes, &opts)?;
    ganscope_model::format::write_atomic(&a.out, &out_bytes)?;
    let blocks: Vec<String> = meta
        .generator
        .blocks()
        .iter()
        .map(|b| b.to_string())
        .collect();
    eprintln!(
        "wrote {} ({} bytes): buckets {first}-{last} merged; blocks per bucket now {}",
        a.out.display(),
        out_bytes.len(),
        blocks.join(", ")
    );
    Ok(())
}
