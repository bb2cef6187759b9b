//! `ganscope info`: a model file's card (the same text the page shows).

use anyhow::{Context, Result};
use clap::Args;
use ganscope_model::card::{card, ParamCounts};
use ganscope_model::format::ModelFile;
use std::path::PathBuf;

/// The options of `info`.
#[derive(Args)]
pub struct InfoArgs {
    /// The model file.
    model: PathBuf,
}

/// Runs `ganscope info`.
pub fn run(a: &InfoArgs) -> Result<()> {
    let bytes = super::read(&a.model)?;
    let file =
        ModelFile::parse(&bytes).with_context(|| format!("checking {}", a.model.display()))?;
    let text = card(
        &file.meta,
        ParamCounts::of(&file),
        &a.model.display().to_string(),
        bytes.len(),
    );
    super::print_out(&text)
}
