//! ganscope-analysis: the measurements of the four papers, written once over a
//! [`Renderer`](renderer::Renderer), so the CLI (batch, on candle or wgpu) and the browser
//! share them.
//!
//! - [`metrics`]: colour histograms and the Hellinger distance, feature distances, the
//!   Fréchet distance and precision/recall;
//! - [`buckets`]: RPGAN bucket responsibility (RPGAN sec. 4.1) and the noise-injection
//!   baseline;
//! - [`dissect`]: GAN Dissection unit statistics, concept masks, IoU, ablation/insertion
//!   and the average causal effect (Bau et al. sec. 3);
//! - [`influence`]: counterfactual influence maps, their NMF clustering into modules and
//!   module hybrids (Besserve et al. sec. 3);
//! - [`groups`]: concept groups of filters and their exchange (Li et al.);
//! - [`nmf`], [`kmeans`]: the two clusterings, seeded.
//!
//! Every analysis is deterministic for a seed; none needs gradients except where noted.

pub mod buckets;
pub mod dissect;
mod error;
pub mod groups;
pub mod influence;
pub mod kmeans;
pub mod metrics;
pub mod nmf;
pub mod renderer;

pub(crate) use error::opts;
pub use error::{Error, Result};
