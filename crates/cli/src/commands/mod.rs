//! One module per `ganscope` command: its arguments and what it runs.

pub mod analyze;
pub mod bench;
pub mod bench_train;
pub mod classifier;
pub mod compress;
pub mod export;
pub mod import;
pub mod info;
pub mod sample;
pub mod site;
pub mod train;

use anyhow::{Context, Result};
use std::path::Path;

/// Writes `text` to stdout; a closed pipe (`ganscope info m | head`) is not an error.
pub fn print_out(text: &str) -> Result<()> {
    use std::io::Write as _;
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => Ok(r?),
    }
}

/// A file's bytes, or an error naming it.
pub fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("reading {}", path.display()))
}
