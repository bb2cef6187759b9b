//! The progress bars of every command, styled in one place.

use indicatif::{ProgressBar, ProgressStyle};

/// A bar of training steps (`train`, `classifier`): position, rate, time left and a message.
pub fn steps(total: u64, done: u64) -> ProgressBar {
    let bar = ProgressBar::new(total).with_position(done);
    if let Ok(style) = ProgressStyle::with_template(
        "{bar:30} {pos}/{len} [{elapsed_precise} < {eta_precise}] {per_sec} {msg}",
    ) {
        bar.set_style(style);
    }
    bar
}

/// A bar of one analysis step's `total` units of work, labelled `what`.
pub fn task(what: &str, total: u64) -> ProgressBar {
    let bar = ProgressBar::new(total);
    if let Ok(style) = ProgressStyle::with_template("{msg:>14} [{bar:30}] {pos}/{len} {elapsed}") {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(what.to_string());
    bar
}
