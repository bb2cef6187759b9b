//! ganscope-analysis: the measurements of the four papers, written once over a
//! [`Renderer`](renderer::Renderer), so the CLI (batch, on candle or wgpu) and the browser
//! share them.
//!
//! - [`metrics`]: colour histograms and the Hellinger distance, feature distances, the
//!   Fréchet distance and precision/recall;
//! - [`buckets`]: RPGAN bucket responsibility (RPGAN sec. 4.1);
//! - [`dissect`]: GAN Dissection unit statistics, concept masks and IoU (Bau et al. sec. 3.1);
//!   [`ace`]: ablation, insertion and the average causal effect (sec. 3.2); [`alpha`]: the
//!   optimised insertion strengths of eq. 6 (candle, with gradients);
//! - [`influence`]: counterfactual influence maps, their NMF clustering into modules and
//!   module hybrids (Besserve et al. sec. 3);
//! - [`groups`]: concept groups of filters and their exchange (Li et al.); [`locality`]:
//!   how local a group's exchange is and how consistently each filter fires in one place;
//! - [`artifacts`]: artifact units (Bau et al. sec. 4.2) and the RPGAN paper's
//!   noise-injection baseline;
//! - [`directions`]: latent directions without labels, SeFa and GANSpace, as shifts;
//! - [`nmf`], [`kmeans`]: the two clusterings, seeded.
//!
//! Every analysis is deterministic for a seed; only [`alpha`] needs gradients (candle).

pub mod ace;
pub mod alpha;
pub mod artifacts;
pub mod buckets;
pub mod directions;
pub mod dissect;
mod error;
pub mod groups;
pub mod influence;
pub mod kmeans;
pub mod locality;
pub mod metrics;
pub mod nmf;
pub mod renderer;

pub(crate) use error::opts;
pub use error::{Error, Result};
