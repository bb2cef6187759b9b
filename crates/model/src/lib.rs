//! ganscope-model: the one model definition shared by every ganscope backend.
//!
//! The file format, the architectures and the math of every intervention are specified in
//! `docs/design.md`.
//!
//! - [`config`]: architectures as serde data (DCGAN-like, SN-ResNet; buckets of blocks for
//!   Random-Path GANs);
//! - [`backend`]: the operations a forward needs; [`generator`] and [`discriminator`] are
//!   written once over it;
//! - [`intervention`]: paths, unit edits and hybrids as serde data, applied at named sites;
//! - [`shift`]: moves along latent directions (SeFa, GANSpace) as intervention data;
//! - [`sample`]: seeded latents and paths and the one render function;
//! - [`shared`]: the same render computing each distinct partial state once (prefix reuse);
//! - [`format`]: the `.safetensors` file with its `ganscope` metadata, checked on load;
//! - [`candle_backend`]: the candle implementation (training, CPU reference, wasm fallback);
//! - [`grouped`]: an RPGAN bucket as one node of candle's graph in training;
//! - [`compress`]: merging the buckets of a linear RPGAN into products (RPGAN sec. 4.4);
//! - [`card`]: the text of `ganscope info`, shared by the CLI and the page;
//! - [`classifier`]: a small image classifier in its own file, the feature network for
//!   semantic distances between images.

mod approx;
pub mod backend;
pub mod candle_backend;
pub mod card;
pub mod classifier;
pub mod compress;
pub mod config;
pub mod conv;
mod conv_op;
pub mod discriminator;
mod epilogue;
mod error;
pub mod format;
pub mod fused;
#[doc(hidden)]
pub mod fuzzing;
pub mod generator;
pub mod grouped;
pub mod im2col;
pub mod intervention;
pub mod layers;
pub mod layout;
mod par;
pub mod program;
mod raw;
pub mod sample;
pub mod shared;
pub mod shift;

pub use error::{Error, FileError, Result};
