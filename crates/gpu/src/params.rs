//! The kernels' parameter blocks: one `#[repr(C)]` [`Pod`](bytemuck::Pod) struct per block,
//! the Rust twin of its shader's `struct P` (the same fields in the same order, 4 bytes each),
//! written as they are into the uniform buffer. [`crate::kernels::Params`] names each block's
//! kernel; `tests/shaders.rs` checks every struct's size against its shader's.

use bytemuck::{Pod, Zeroable};

/// `fill.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct FillParams {
    /// Words to fill.
    pub n: u32,
    /// The bit pattern.
    pub bits: u32,
}

/// Activation codes of `common/activation.wgsl`: none, ReLU, LeakyReLU, tanh, sigmoid.
pub mod act {
    /// No activation.
    pub const NONE: u32 = 0;
    /// ReLU.
    pub const RELU: u32 = 1;
    /// LeakyReLU (with the block's slope).
    pub const LEAKY_RELU: u32 = 2;
    /// tanh.
    pub const TANH: u32 = 3;
    /// The logistic sigmoid.
    pub const SIGMOID: u32 = 4;
}

/// `activation.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct ActivationParams {
    /// Elements.
    pub n: u32,
    /// The activation ([`act`]).
    pub act: u32,
    /// LeakyReLU's negative slope.
    pub slope: f32,
}

/// `add.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct AddParams {
    /// Elements.
    pub n: u32,
}

/// `batch_norm.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct NormParams {
    /// Elements.
    pub n: u32,
    /// Channels.
    pub c: u32,
    /// Elements per channel plane (H * W).
    pub hw: u32,
    /// Added to the variance.
    pub eps: f32,
    /// The activation fused in ([`act`]).
    pub act: u32,
    /// LeakyReLU's negative slope.
    pub slope: f32,
}

/// `upsample2x.wgsl`, `upsample2x_bilinear.wgsl` and `avg_pool2x.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct Resample2xParams {
    /// Output elements.
    pub n: u32,
    /// Input height.
    pub h: u32,
    /// Input width.
    pub w: u32,
}

/// `sum_spatial.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct SumSpatialParams {
    /// Output elements (N * C).
    pub n: u32,
    /// Elements summed into each (H * W).
    pub hw: u32,
}

/// `unit_edit.wgsl`; the offsets are in u32 words of `aux`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct UnitEditParams {
    /// Elements.
    pub n: u32,
    /// Channels.
    pub c: u32,
    /// Elements per channel plane (H * W).
    pub hw: u32,
    /// Offset of the per-unit strengths (C).
    pub alpha: u32,
    /// Offset of the per-unit values (C).
    pub value: u32,
    /// Offset of the mask (H * W).
    pub mask: u32,
}

/// `mix.wgsl`; the offsets are in u32 words of `aux`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct MixParams {
    /// Output elements (K * C * H * W).
    pub n: u32,
    /// Channels.
    pub c: u32,
    /// Elements per channel plane (H * W).
    pub hw: u32,
    /// Offset of the base rows (K).
    pub base: u32,
    /// Offset of the donor rows (K).
    pub donor: u32,
    /// Offset of the channel weights (C).
    pub channels: u32,
    /// Offset of the mask (H * W).
    pub mask: u32,
}

/// `gather.wgsl`; the offset is in u32 words of `aux`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct GatherParams {
    /// Output elements.
    pub n: u32,
    /// Elements per row.
    pub row: u32,
    /// Offset of the row indices.
    pub idx: u32,
}

/// `copy.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct CopyParams {
    /// Elements copied.
    pub n: u32,
    /// Where in the output they go.
    pub offset: u32,
}

/// `linear.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct LinearParams {
    /// Samples.
    pub n: u32,
    /// Input features.
    pub i: u32,
    /// Output features.
    pub o: u32,
    /// 1 when a bias is bound.
    pub has_bias: u32,
}

/// `conv2d.wgsl` and `conv_transpose2d.wgsl` (`common/conv.wgsl`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct ConvParams {
    /// Samples.
    pub n: u32,
    /// Input channels.
    pub cin: u32,
    /// Input height.
    pub h: u32,
    /// Input width.
    pub w: u32,
    /// Output channels.
    pub cout: u32,
    /// Output height.
    pub ho: u32,
    /// Output width.
    pub wo: u32,
    /// Kernel side.
    pub k: u32,
    /// Stride.
    pub stride: u32,
    /// Padding.
    pub pad: u32,
    /// 1 when a bias is bound.
    pub has_bias: u32,
}

/// `to_rgba.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct ToRgbaParams {
    /// Output pixels (N * H * W).
    pub n: u32,
    /// Input channels (1 or 3).
    pub c: u32,
    /// Pixels per image (H * W).
    pub hw: u32,
}
