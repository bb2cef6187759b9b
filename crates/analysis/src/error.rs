//! The analysis crate's one error type.

/// Everything an analysis can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Options that cannot work (a rank of 0, more groups than filters, ...).
    #[error("{0}")]
    Options(String),
    /// The model crate refused something (a site, a path, a file).
    #[error(transparent)]
    Model(#[from] ganscope_model::Error),
    /// The GPU backend failed.
    #[cfg(feature = "gpu")]
    #[error(transparent)]
    Gpu(#[from] ganscope_gpu::Error),
    /// The caller stopped the analysis (the page's Cancel).
    #[error("cancelled")]
    Cancelled,
    /// A candle tensor operation failed.
    #[error("candle: {0}")]
    Candle(#[from] candle_core::Error),
}

/// The crate's result type.
pub type Result<T> = std::result::Result<T, Error>;

/// An options error.
pub(crate) fn opts(msg: impl Into<String>) -> Error {
    Error::Options(msg.into())
}
