//! The model crate's one error type.

/// Everything that can go wrong while building, running or loading a model.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An architecture config that cannot describe a working network.
    #[error("invalid architecture: {0}")]
    InvalidConfig(String),
    /// A tensor had a shape the operation cannot take.
    #[error("shape error: {0}")]
    Shape(String),
    /// A site name that the model does not have.
    #[error("unknown site `{name}`; this model has sites: {known}")]
    UnknownSite {
        /// The name asked for.
        name: String,
        /// The sites that exist, comma-separated.
        known: String,
    },
    /// A malformed path, edit or hybrid.
    #[error("invalid intervention: {0}")]
    InvalidIntervention(String),
    /// A model file that is not a ganscope safetensors file or fails a check.
    #[error("invalid model file: {0}")]
    InvalidFile(FileError),
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file concerned.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// An error from the candle backend.
    #[error("candle: {0}")]
    Candle(#[from] candle_core::Error),
    /// A failure inside another backend (the GPU: limits, device loss, readback), with
    /// that backend's own error inside.
    #[error(transparent)]
    Backend(Box<dyn std::error::Error + Send + Sync + 'static>),
    /// A model transformation (`ganscope compress`) that cannot apply to this model.
    #[error("{0}")]
    Compress(String),
}

impl Error {
    /// A backend's own error, kept as the source.
    pub fn backend(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Error::Backend(Box::new(e))
    }
}

// By hand, not `#[from]`: the message already holds the file error, so it is not also a
// `source` (a CLI printing the chain would repeat it).
impl From<FileError> for Error {
    fn from(e: FileError) -> Self {
        Error::InvalidFile(e)
    }
}

/// Why a model file was rejected; each check has its own variant.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum FileError {
    /// Fewer than the 8 bytes of the header length.
    #[error("the file is {0} bytes long; a safetensors file starts with an 8-byte header length")]
    TooShort(usize),
    /// The declared header is larger than the limit.
    #[error("the header declares {0} bytes, more than the {limit} bytes allowed", limit = crate::format::MAX_HEADER)]
    HeaderTooLarge(u64),
    /// The declared header runs past the end of the file.
    #[error("the header declares {declared} bytes but only {available} bytes follow")]
    HeaderPastEnd {
        /// Header length from the first 8 bytes.
        declared: u64,
        /// Bytes after the length field.
        available: usize,
    },
    /// The header is not the JSON a safetensors header must be.
    #[error("the header is not valid safetensors JSON: {0}")]
    BadHeaderJson(String),
    /// A dtype other than F32 or F16.
    #[error("tensor `{name}` has dtype {dtype}; only F32 and F16 are accepted")]
    UnsupportedDtype {
        /// Tensor name.
        name: String,
        /// The dtype found.
        dtype: String,
    },
    /// A shape with a zero or absurd dimension.
    #[error("tensor `{name}` has an unusable shape {shape:?}")]
    BadShape {
        /// Tensor name.
        name: String,
        /// The shape found.
        shape: Vec<u64>,
    },
    /// Data offsets that disagree with the shape, leave the file or overlap.
    #[error("tensor `{name}`: {why}")]
    BadOffsets {
        /// Tensor name.
        name: String,
        /// What is wrong with its offsets.
        why: String,
    },
    /// No `ganscope` key in `__metadata__`.
    #[error("the file has no `ganscope` metadata; was it written by `ganscope export`?")]
    MissingMetadata,
    /// A ganscope file of the other kind: a classifier read as a model, or the reverse.
    #[error("this file is {found}, not {wanted}")]
    WrongKind {
        /// What the file is, e.g. "a ganscope classifier (`ganscope_classifier` metadata)".
        found: String,
        /// What the reader needs.
        wanted: String,
    },
    /// The `ganscope` metadata is not valid.
    #[error("the `ganscope` metadata is not valid: {0}")]
    BadMetadata(String),
    /// A format version this build does not read.
    #[error(
        "format version {found} is not supported (this build reads versions 1 to {supported})"
    )]
    UnsupportedVersion {
        /// Version in the file.
        found: u32,
        /// Version this build reads.
        supported: u32,
    },
    /// The architecture needs a tensor that the file lacks.
    #[error("the architecture needs tensor `{0}`, which the file lacks")]
    MissingTensor(String),
    /// A tensor not described by the architecture.
    #[error("tensor `{0}` is not part of the architecture")]
    UnexpectedTensor(String),
    /// A tensor whose shape disagrees with the architecture.
    #[error("tensor `{name}` has shape {found:?}; the architecture needs {expected:?}")]
    ShapeMismatch {
        /// Tensor name.
        name: String,
        /// The shape the architecture needs.
        expected: Vec<usize>,
        /// The shape in the file.
        found: Vec<usize>,
    },
    /// NaN or infinity in a tensor.
    #[error("tensor `{0}` holds NaN or infinite values")]
    NonFinite(String),
}

/// The model crate's result type.
pub type Result<T> = std::result::Result<T, Error>;
