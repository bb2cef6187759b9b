//! ganscope-train: native training of ganscope generators with candle (CPU, or CUDA with
//! the `cuda` feature), checkpoints and export to one model file. The `ganscope` command
//! that drives it is the `ganscope-cli` crate.
//!
//! The networks come from `ganscope-model`; this crate adds what only training needs:
//! seeded variables ([`store`]), spectral normalisation ([`spectral`]), the RPGAN diversity
//! loss ([`diversity`]), Adam with checkpointable state ([`adam`]), the step
//! ([`trainer`]), the run folder ([`run`], [`checkpoint`]) and [`export`]; [`bench_train`]
//! times the training step (and writes one out for a PyTorch twin to replay); [`classifier`]
//! trains the small classifier whose features the analysis crate compares images with;
//! [`extend`] grows a trained RPGAN with new blocks; [`interpret`] trains a site's filters
//! into groups (interpretable GANs); [`images`] lays samples out in PNG grids; [`health`]
//! finds RPGAN blocks that draw nothing.

pub mod adam;
pub mod bench_train;
pub mod checkpoint;
pub mod classifier;
pub mod diversity;
pub mod export;
pub mod extend;
pub mod health;
pub mod images;
pub mod interpret;
pub mod options;
pub mod run;
pub mod spectral;
pub mod store;
pub mod trainer;

/// Everything training, export and sampling can fail with.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// Options that cannot work together.
    #[error("{0}")]
    Options(String),
    /// The dataset could not be loaded.
    #[error(transparent)]
    Data(#[from] ganscope_data::DataError),
    /// The model crate refused something.
    #[error(transparent)]
    Model(#[from] ganscope_model::Error),
    /// An analysis failed.
    #[error(transparent)]
    Analysis(#[from] ganscope_analysis::Error),
    /// A tensor operation failed.
    #[error("candle: {0}")]
    Candle(#[from] candle_core::Error),
    /// A checkpoint that cannot be read or written.
    #[error("checkpoint: {0}")]
    Checkpoint(String),
    /// A loss became NaN or infinite; the last good checkpoint is kept.
    #[error("the {what} became NaN or infinite at step {step}; training stopped and the last good checkpoint is kept")]
    NonFinite {
        /// The step that failed.
        step: u64,
        /// Which loss.
        what: &'static str,
    },
    /// A file or folder could not be used.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: String,
        /// The error.
        source: std::io::Error,
    },
    /// Metadata or a log line that could not be written or read as JSON.
    #[error("JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// A safetensors file (a checkpoint) that could not be written or read.
    #[error("safetensors: {0}")]
    Safetensors(#[from] safetensors::SafeTensorError),
    /// Image encoding failed.
    #[error("image: {0}")]
    Image(#[from] image::ImageError),
}

/// This crate's result type.
pub type Result<T> = std::result::Result<T, TrainError>;
