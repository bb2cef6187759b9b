//! The GPU crate's one error type.

/// Everything that can go wrong while setting up or running the GPU backend.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No adapter (GPU or software rasteriser) could be found.
    #[error("no GPU adapter is available: {0}")]
    NoAdapter(String),
    /// The adapter refused to create a device.
    #[error("the GPU refused to create a device: {0}")]
    Device(String),
    /// The adapter lacks a capability the kernels need.
    #[error("this GPU cannot run the ganscope kernels: {0}")]
    Unsupported(String),
    /// The device was lost (driver reset, GPU removed, tab in the background too long).
    #[error("the GPU device was lost: {0}")]
    DeviceLost(String),
    /// A GPU operation failed (validation, out of memory, readback).
    #[error("GPU error: {0}")]
    Gpu(String),
    /// A tensor or a dispatch beyond what this GPU allows (buffer size, workgroup counts):
    /// the message names the limit and what to change. Raised inside the model crate's
    /// forward, it travels as `ganscope_model::Error::Backend` holding this error.
    #[error("{0}")]
    Limit(String),
    /// An error of the model definition (shapes, interventions, model file, limits).
    #[error(transparent)]
    Model(#[from] ganscope_model::Error),
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
