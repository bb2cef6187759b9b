//! Datasets for ganscope.
//!
//! Loads images into memory as bytes (N x C x S x S, NCHW) from
//!
//! * MNIST, the original IDX files, raw or gzipped (`mnist:DIR`), optionally
//!   as *randomly colored MNIST* (each digit drawn in one random colour);
//! * CIFAR-10 as extracted JPEG folders, `DIR/train/<class>/*.jpg` and
//!   `DIR/test/<class>/*.jpg` (`cifar10:DIR`);
//! * any image folder, `DIR/<class>/*.{png,jpg,jpeg}` or images directly in
//!   `DIR` (`folder:DIR`).
//!
//! [`load`] brings every image to S x S with 1 or 3 channels; [`Dataset::batch`]
//! hands out f32 batches in [-1, 1].
//!
//! ```no_run
//! use ganscope_data::{load, LoadOptions, Source, Split};
//!
//! let source: Source = "mnist:data/mnist".parse()?;
//! let opts = LoadOptions { size: 32, channels: 1, colored: false,
//!                          split: Split::Train, limit: None, seed: 0 };
//! let data = load(&source, &opts)?;
//! let x = data.batch(&[0, 1, 2]); // 3 x 1 x 32 x 32 values in [-1, 1]
//! # Ok::<(), ganscope_data::DataError>(())
//! ```

mod dataset;
mod error;
mod folder;
mod idx;
mod resample;

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

pub use dataset::Dataset;
pub use error::{DataError, Result};

/// Largest image side [`load`] accepts.
const MAX_SIZE: usize = 1024;

/// Where data comes from, parsed from the CLI strings "mnist:DIR",
/// "cifar10:DIR", "folder:DIR".
#[derive(Clone, Debug, PartialEq)]
pub enum Source {
    /// MNIST IDX files (raw or .gz) in a folder.
    Mnist(PathBuf),
    /// Extracted CIFAR-10 JPEG archive (`train/` and `test/` class folders).
    Cifar10(PathBuf),
    /// A folder of class folders of images, or of images.
    Folder(PathBuf),
}

impl FromStr for Source {
    type Err = DataError;

    fn from_str(s: &str) -> Result<Self> {
        let bad = || DataError::InvalidSource { spec: s.into() };
        let (kind, dir) = s.split_once(':').ok_or_else(bad)?;
        if dir.is_empty() {
            return Err(bad());
        }
        let dir = PathBuf::from(dir);
        match kind {
            "mnist" => Ok(Source::Mnist(dir)),
            "cifar10" => Ok(Source::Cifar10(dir)),
            "folder" => Ok(Source::Folder(dir)),
            _ => Err(bad()),
        }
    }
}

impl fmt::Display for Source {
    /// The CLI form, e.g. `mnist:data/mnist`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (kind, dir) = match self {
            Source::Mnist(d) => ("mnist", d),
            Source::Cifar10(d) => ("cifar10", d),
            Source::Folder(d) => ("folder", d),
        };
        write!(f, "{kind}:{}", dir.display())
    }
}

impl Source {
    /// Short name: `mnist`, `cifar10`, or `folder:<last path component>`.
    pub fn name(&self) -> String {
        match self {
            Source::Mnist(_) => "mnist".into(),
            Source::Cifar10(_) => "cifar10".into(),
            Source::Folder(d) => format!("folder:{}", folder::last_component(d)),
        }
    }
}

/// Which part of a dataset to load.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Split {
    /// The training images.
    Train,
    /// The held-out test images.
    Test,
}

/// How to load a dataset.
#[derive(Clone, Debug)]
pub struct LoadOptions {
    /// Output side S (28, 32 or 64; any side from 1 to 1024 is accepted).
    pub size: usize,
    /// 1 or 3: grey images are replicated to RGB when 3, RGB converted to
    /// luma when 1.
    pub channels: usize,
    /// Randomly colored MNIST (only with [`Source::Mnist`]); forces 3 channels.
    pub colored: bool,
    /// Train or test split.
    pub split: Split,
    /// Keep only the first N images (in file order).
    pub limit: Option<usize>,
    /// Seeds the random colours of colored MNIST.
    pub seed: u64,
}

/// Loads `source` as described by `opts`.
///
/// Never panics on bad input: missing or damaged files, wrong layouts and
/// unsupported options are reported as [`DataError`]s.
pub fn load(source: &Source, opts: &LoadOptions) -> Result<Dataset> {
    let unsupported = |reason: String| DataError::Unsupported {
        source_spec: source.to_string(),
        reason,
    };
    if !(1..=MAX_SIZE).contains(&opts.size) {
        return Err(unsupported(format!(
            "image size {} is not supported (use 28, 32 or 64; at most {MAX_SIZE})",
            opts.size
        )));
    }
    if opts.channels != 1 && opts.channels != 3 && !opts.colored {
        return Err(unsupported(format!(
            "{} channels are not supported (use 1 for grey or 3 for RGB)",
            opts.channels
        )));
    }
    match source {
        Source::Mnist(dir) => idx::load_mnist(dir, opts, opts.colored),
        _ if opts.colored => Err(unsupported(
            "colored MNIST needs an mnist:DIR source".into(),
        )),
        Source::Cifar10(dir) => folder::load_cifar10(dir, opts),
        Source::Folder(dir) => folder::load_folder(dir, opts, source.name()),
    }
}
