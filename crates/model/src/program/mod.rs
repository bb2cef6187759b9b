//! Layer programs: a generator's architecture written as data, for generators that none of
//! the built-in families describes (an imported PyTorch model; see `docs/design.md`,
//! "Layer programs").
//!
//! A program generator ([`crate::config::Family::Program`]) lists its backbone layers, each a
//! short sequence of [`Op`]s; the layers are grouped into buckets of blocks exactly as the
//! families' layers are, so sites, paths and every intervention work unchanged. A layer's
//! input is `[N, latent_dim, 1, 1]` for the first layer (a `[N, D]` latent is viewed as
//! such) and the previous layer's output otherwise. Op `k` of a layer keeps its parameters
//! under `{layer}.{k}.*` (`weight`, `bias`, BatchNorm's `running_mean` and `running_var`), a
//! residual op's chains under `{layer}.{k}.main.{m}.*` and `{layer}.{k}.shortcut.{m}.*`, as
//! `nn.Sequential` names them. The built-in families are programs too
//! ([`crate::generator`] builds theirs), with a [`Naming`] that keeps the tensor names their
//! files have always had (`linear`, `bn`, `conv`, `bn1`, `conv1`, ..., `shortcut`) and their
//! weight initialisation.

mod node;
mod shape;

use serde::{Deserialize, Serialize};

pub use node::{build, build_named, params, run, Naming, Node};
pub use shape::{all_shapes, chain_shape, describe, op_count, op_shape};

/// Most ops in one program, residual chains counted.
pub const MAX_OPS: usize = 1024;
/// Deepest nesting of residual ops.
pub const MAX_DEPTH: usize = 4;
/// Largest feature-map side.
pub const MAX_SIDE: usize = 1024;
/// Largest channel count.
pub const MAX_CHANNELS: usize = 8192;
/// Largest kernel side.
pub const MAX_KERNEL: usize = 16;
/// Largest stride.
pub const MAX_STRIDE: usize = 8;
/// Largest activation of one sample, in elements.
pub const MAX_ELEMENTS: usize = 1 << 26;

/// An up-sampling rule (always by 2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Resize {
    /// Nearest neighbour (`nn.Upsample(scale_factor=2)`).
    Nearest,
    /// Bilinear with `align_corners=False`.
    Bilinear,
}

/// One operation of a layer program. Shapes are per sample, `[C, H, W]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Op {
    /// Flatten, then `x @ W^T (+ b)`: `[C, H, W] -> [out, 1, 1]`; `weight [out, C*H*W]`.
    Dense {
        /// Output features.
        out: usize,
        /// With a bias `[out]`.
        bias: bool,
    },
    /// A view of the same elements as `shape`.
    Reshape {
        /// `[C, H, W]`.
        shape: [usize; 3],
    },
    /// 2-D convolution, `weight [out, C, k, k]`.
    Conv {
        /// Output channels.
        out: usize,
        /// Kernel side.
        kernel: usize,
        /// Stride.
        stride: usize,
        /// Zero padding on every side.
        padding: usize,
        /// With a bias `[out]`.
        bias: bool,
    },
    /// 2-D transposed convolution, `weight [C, out, k, k]` (PyTorch's layout).
    ConvTranspose {
        /// Output channels.
        out: usize,
        /// Kernel side.
        kernel: usize,
        /// Stride.
        stride: usize,
        /// Padding (removed from every side of the full output).
        padding: usize,
        /// With a bias `[out]`.
        bias: bool,
    },
    /// BatchNorm over each channel: running statistics at inference.
    BatchNorm,
    /// max(x, 0).
    Relu,
    /// x if x > 0 else slope * x.
    LeakyRelu {
        /// The negative slope.
        slope: f32,
    },
    /// tanh.
    Tanh,
    /// The logistic sigmoid.
    Sigmoid,
    /// 2x up-sampling.
    Upsample {
        /// Nearest or bilinear.
        mode: Resize,
    },
    /// `main(x) + shortcut(x)`; an empty shortcut is the identity.
    Residual {
        /// The main chain.
        main: Vec<Op>,
        /// The shortcut chain.
        shortcut: Vec<Op>,
    },
}
