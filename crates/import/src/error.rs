//! The one error type of the importer.

use thiserror::Error;

/// Why an import failed. Every message names the problem in the checkpoint's terms.
#[derive(Debug, Error)]
pub enum ImportError {
    /// The container could not be read (a damaged or hostile file).
    #[error("cannot read the checkpoint: {0}")]
    Checkpoint(String),
    /// The file is a ganscope model already.
    #[error("this is a ganscope model file already; open it as it is")]
    AlreadyGanscope,
    /// The file holds no floating-point tensors.
    #[error("the checkpoint holds no floating-point tensors{0}")]
    NoTensors(String),
    /// `--key` names nothing in the file.
    #[error("the checkpoint has no state dict under `{key}`; its top-level keys are: {available}")]
    MissingKey {
        /// The key asked for.
        key: String,
        /// What is there.
        available: String,
    },
    /// A tensor that cannot be a weight.
    #[error("tensor `{name}`: {why}")]
    BadTensor {
        /// The checkpoint's name.
        name: String,
        /// What is wrong.
        why: String,
    },
    /// No layout fits the keys.
    #[error("no known layout fits this state dict.\n{tried}\nits keys: {keys}")]
    UnknownLayout {
        /// What each layout said.
        tried: String,
        /// Keys left over.
        keys: String,
    },
    /// `--layout` names no layout.
    #[error("unknown layout `{0}`; the layouts are: {1}")]
    NoSuchLayout(String, String),
    /// The layout was chosen (or forced) but the state dict does not fit it.
    #[error("the state dict does not fit the {layout} layout: {why}")]
    Mismatch {
        /// The layout's name.
        layout: &'static str,
        /// What does not fit.
        why: String,
    },
    /// A `--set` entry the layout does not take or cannot parse.
    #[error("--set {0}")]
    Setting(String),
    /// The model the layout built is not valid.
    #[error(transparent)]
    Model(#[from] ganscope_model::Error),
}

/// The importer's result type.
pub type Result<T> = std::result::Result<T, ImportError>;
