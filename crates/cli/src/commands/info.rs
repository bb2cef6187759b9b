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
    print_out(&text)
}

/// Writes `text` to stdout; a closed pipe (`ganscope info m | head`) is not an error.
fn print_out(text: &str) -> Result<()> {
    use std::io::Write as _;
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => Ok(r?),
    }
}
