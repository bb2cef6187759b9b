//! The one error type of the site writer.

use std::path::PathBuf;
use thiserror::Error;

/// Why a site could not be written. Nothing is replaced when one of these is returned.
#[derive(Debug, Error)]
pub enum SiteError {
    /// The page's own files are not where they were looked for.
    #[error("{path}: {why}")]
    Page {
        /// What is missing.
        path: PathBuf,
        /// What to do about it.
        why: String,
    },
    /// A model given is not a ganscope model file.
    #[error("{path} is not a ganscope model file: {why}")]
    Model {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        why: String,
    },
    /// What was asked for cannot be written (a name clash, an unknown model to open, a bad
    /// view).
    #[error("{0}")]
    Invalid(String),
    /// `--out` is a folder that a site did not write.
    #[error("{0} exists and is not a site ganscope wrote (its sw.js is not one `ganscope site` writes); choose an empty or new folder")]
    NotASite(PathBuf),
    /// Reading or writing failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The system's error.
        source: std::io::Error,
    },
}

/// The site writer's result.
pub type Result<T> = std::result::Result<T, SiteError>;

/// Attaches `path` to an I/O error.
pub(crate) fn io(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> SiteError + '_ {
    move |source| SiteError::Io {
        path: path.to_path_buf(),
        source,
    }
}
