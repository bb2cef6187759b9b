//! The error type of the crate.

use std::path::PathBuf;

/// Everything that can go wrong while loading a dataset.
///
/// Every message names the file or folder concerned and says what is wrong.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// The data source string is not one of `mnist:DIR`, `cifar10:DIR`, `folder:DIR`.
    #[error("unknown data source {spec:?}: expected one of mnist:DIR, cifar10:DIR or folder:DIR")]
    InvalidSource {
        /// The string as given.
        spec: String,
    },
    /// The load options cannot be used with this source.
    #[error("cannot load {source_spec}: {reason}")]
    Unsupported {
        /// The source, as `kind:DIR`.
        source_spec: String,
        /// What is unsupported.
        reason: String,
    },
    /// A required file or folder does not exist.
    #[error("{what} {path} does not exist")]
    NotFound {
        /// The missing path.
        path: PathBuf,
        /// What it should have been ("MNIST folder", "image folder", ...).
        what: String,
    },
    /// An MNIST folder lacks one of the IDX files.
    #[error("MNIST folder {dir} has no {kind} file: looked for {looked_for}")]
    MnistFileMissing {
        /// The MNIST folder.
        dir: PathBuf,
        /// "images" or "labels".
        kind: String,
        /// The file names tried, joined with " or ".
        looked_for: String,
    },
    /// Reading a file or folder failed at the operating-system level.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// An IDX file starts with the wrong magic number.
    #[error("{path} is not an IDX {kind} file: its magic number is 0x{found:08x}, expected 0x{expected:08x}")]
    BadMagic {
        /// The file.
        path: PathBuf,
        /// "images" or "labels".
        kind: String,
        /// The magic number read.
        found: u32,
        /// The magic number wanted.
        expected: u32,
    },
    /// An IDX header declares impossible or unsupported dimensions.
    #[error("{path} has an invalid IDX header: {reason}")]
    BadHeader {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// An IDX file holds fewer bytes than its header declares.
    #[error("{path} is truncated: its header declares {expected} bytes of data but only {found} are present")]
    Truncated {
        /// The file.
        path: PathBuf,
        /// Bytes declared (header included).
        expected: u64,
        /// Bytes present (header included).
        found: u64,
    },
    /// An IDX file holds more bytes than its header declares.
    #[error("{path} has extra bytes after the {expected} bytes its header declares (wrong or damaged file?)")]
    TrailingBytes {
        /// The file.
        path: PathBuf,
        /// Bytes declared (header included).
        expected: u64,
    },
    /// The labels file and the images file disagree on the number of items.
    #[error("{labels} holds {n_labels} labels but {images} holds {n_images} images")]
    CountMismatch {
        /// The images file.
        images: PathBuf,
        /// Number of images.
        n_images: usize,
        /// The labels file.
        labels: PathBuf,
        /// Number of labels.
        n_labels: usize,
    },
    /// A label is outside `0..=9`.
    #[error("{path}: label number {index} is {value}, but MNIST labels must be 0 to 9")]
    BadLabel {
        /// The labels file.
        path: PathBuf,
        /// Position of the label.
        index: usize,
        /// Its value.
        value: u8,
    },
    /// A gzip stream is damaged.
    #[error("{path} is not a valid gzip file: {reason}")]
    CorruptGzip {
        /// The file.
        path: PathBuf,
        /// The decoder's reason.
        reason: String,
    },
    /// An image file cannot be decoded.
    #[error("cannot decode image {path}: {reason}")]
    CorruptImage {
        /// The file.
        path: PathBuf,
        /// The decoder's reason.
        reason: String,
    },
    /// A folder holds no usable images.
    #[error("no images found in {path}: {detail}")]
    NoImages {
        /// The folder or file.
        path: PathBuf,
        /// What was looked for.
        detail: String,
    },
    /// A folder is not laid out as expected.
    #[error("{path} has the wrong layout: {reason}")]
    BadLayout {
        /// The folder.
        path: PathBuf,
        /// What was expected.
        reason: String,
    },
}

/// Result with [`DataError`].
pub type Result<T> = std::result::Result<T, DataError>;

impl DataError {
    /// An [`DataError::Io`] for `path`.
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> DataError {
        let path = path.into();
        move |source| DataError::Io { path, source }
    }
}
