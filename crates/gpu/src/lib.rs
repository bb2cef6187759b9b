//! ganscope-gpu: the shared generator forward on wgpu, natively (Vulkan, Metal, DX12; lavapipe
//! in tests) and in the browser (WebGPU), from one crate.
//!
//! - [`kernels`]: the WGSL kernels of `crates/gpu/shaders/` (one file each, after the shared
//!   parts in `shaders/common/` they use), listed once with their typed parameter blocks
//!   ([`params`]), and their cached pipelines;
//! - [`backend::WgpuBackend`]: the model crate's `Backend` trait on those kernels; every op
//!   records a [`recorder::Dispatch`], nothing runs until a readback submits the recording at
//!   once;
//! - [`pool`]: buffers recycled by size class, so a repeated forward allocates nothing;
//! - [`model::GpuModel`]: a model file uploaded once; renders with every intervention, site
//!   readback and RGBA output, split under the device's limits, re-created after device loss.
//!
//! Natively, [`block_on`] waits for a readback; on wasm32 every readback is awaited.

pub mod backend;
pub mod context;
mod conv;
mod error;
pub mod kernels;
mod lru;
pub mod model;
pub mod params;
pub mod pool;
pub mod readback;
pub mod recorder;

pub use backend::{GpuTensor, WgpuBackend};
pub use context::Gpu;
pub use error::{Error, Result};
pub use model::{GpuModel, Rendered, SiteActivation};

/// Runs a future to completion on this thread (native only; readbacks poll the device).
#[cfg(not(target_arch = "wasm32"))]
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    pollster::block_on(f)
}
