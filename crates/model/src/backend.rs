//! The backend abstraction: the only operations the shared forward uses.
//!
//! The generator and discriminator in [`crate::generator`] and [`crate::discriminator`]
//! are written once over this trait. The candle backend ([`crate::candle_backend`]) is the
//! training backend and the CPU reference; the wgpu backend implements the same trait.
//! Tensors are NCHW (`[N, C, H, W]`) or `[N, D]`, f32.

use crate::Result;

/// How parameters are initialised when a parameter source creates them.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Init {
    /// Normal(0, std).
    Normal(f32),
    /// Uniform(-bound, bound).
    Uniform(f32),
    /// Every element equal to the value.
    Const(f32),
}

/// Where parameters come from: created and initialised (training), read from a file
/// (inference), or uploaded to a GPU. `name` is the full dotted path, e.g.
/// `g.bucket2.block7.conv1.weight`.
pub trait ParamSource<T> {
    /// The parameter `name` of `shape`; `init` says how to create it if the source creates.
    fn param(&mut self, name: &str, shape: &[usize], init: Init) -> Result<T>;
    /// A non-trained state tensor (BatchNorm running statistics).
    fn state(&mut self, name: &str, shape: &[usize], init: Init) -> Result<T> {
        self.param(name, shape, init)
    }
}

/// A parameter source seen under a name prefix (candle's `VarBuilder::pp`): `name` is asked
/// of the source as `{prefix}.{name}`. Made by [`pp`](trait.ParamSource.html#method.pp) on
/// a `dyn ParamSource`; scopes nest (`src.pp("g").pp("bucket1")`).
pub struct Scope<'a, T> {
    src: &'a mut dyn ParamSource<T>,
    prefix: String,
}

impl<T> dyn ParamSource<T> + '_ {
    /// This source under the prefix `name`.
    pub fn pp(&mut self, name: &str) -> Scope<'_, T> {
        Scope {
            src: self,
            prefix: name.to_string(),
        }
    }
}

impl<T> Scope<'_, T> {
    /// This scope under the further prefix `name`.
    pub fn pp(&mut self, name: &str) -> Scope<'_, T> {
        Scope {
            prefix: format!("{}.{name}", self.prefix),
            src: &mut *self.src,
        }
    }
}

impl<T> ParamSource<T> for Scope<'_, T> {
    fn param(&mut self, name: &str, shape: &[usize], init: Init) -> Result<T> {
        self.src
            .param(&format!("{}.{name}", self.prefix), shape, init)
    }

    fn state(&mut self, name: &str, shape: &[usize], init: Init) -> Result<T> {
        self.src
            .state(&format!("{}.{name}", self.prefix), shape, init)
    }
}

/// The parameters of a BatchNorm layer.
#[derive(Clone, Debug)]
pub struct BatchNormParams<T> {
    /// Scale gamma, `[C]`.
    pub weight: T,
    /// Shift beta, `[C]`.
    pub bias: T,
    /// Running mean, `[C]`.
    pub running_mean: T,
    /// Running variance, `[C]`.
    pub running_var: T,
}

/// Epsilon of every BatchNorm.
pub const BN_EPS: f64 = 1e-5;
/// Momentum of the BatchNorm running statistics (PyTorch's convention).
pub const BN_MOMENTUM: f64 = 0.1;

/// Element-wise activations.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Activation {
    /// max(x, 0).
    Relu,
    /// x if x > 0 else slope * x.
    LeakyRelu(f32),
    /// tanh(x).
    Tanh,
    /// 1 / (1 + exp(-x)).
    Sigmoid,
}

/// Samples of a batch that run through one block ([`Backend::run_groups`]).
#[derive(Clone, Debug)]
pub struct Group<T> {
    /// The samples' rows in the input, in order.
    pub samples: Vec<usize>,
    /// The block's trainable parameters (weights, biases, BatchNorm's scale and shift).
    pub params: Vec<T>,
}

/// What [`Backend::run_groups`] runs on group j's rows: `run(j, rows)`.
pub type RunGroup<'a, T> = dyn Fn(usize, &T) -> Result<T> + 'a;

/// [`Backend::run_groups`] as a gather of each group's rows, its run, and one scatter of
/// all outputs back into sample order.
pub fn run_groups_gathered<B: Backend>(
    b: &B,
    x: &B::Tensor,
    groups: &[Group<B::Tensor>],
    run: &RunGroup<'_, B::Tensor>,
) -> Result<B::Tensor> {
    let mut order: Vec<usize> = Vec::new();
    let mut parts = Vec::with_capacity(groups.len());
    for (j, g) in groups.iter().enumerate() {
        let xs = b.select_batch(x, &g.samples)?; // [n_j, ...]
        parts.push(run(j, &xs)?); // [n_j, C, H, W]
        order.extend(&g.samples);
    }
    let y = b.concat_batch(&parts)?; // [N, C, H, W], rows in `order`
    let mut inv = vec![0; order.len()];
    for (k, &n) in order.iter().enumerate() {
        inv[n] = k;
    }
    b.select_batch(&y, &inv) // [N, C, H, W], rows in sample order
}

/// The operations of a backend.
pub trait Backend {
    /// The backend's tensor handle.
    type Tensor: Clone;

    /// The dimensions of `x`.
    fn dims(&self, x: &Self::Tensor) -> Vec<usize>;
    /// A tensor holding `data` with `shape` (row-major).
    fn tensor(&self, data: Vec<f32>, shape: &[usize]) -> Result<Self::Tensor>;
    /// `x` reshaped (same number of elements).
    fn reshape(&self, x: &Self::Tensor, shape: &[usize]) -> Result<Self::Tensor>;
    /// `x [1, ...]` repeated `n` times along dim 0.
    fn repeat_batch(&self, x: &Self::Tensor, n: usize) -> Result<Self::Tensor>;
    /// Rows `idx` of `x` along dim 0 (a gather; indices may repeat).
    fn select_batch(&self, x: &Self::Tensor, idx: &[usize]) -> Result<Self::Tensor>;
    /// `parts` concatenated along dim 0.
    fn concat_batch(&self, parts: &[Self::Tensor]) -> Result<Self::Tensor>;
    /// `x [N, ...]` with the rows of group j run through `run(j, rows)`, the outputs
    /// `[N, ...]` in sample order (an RPGAN bucket: one group per block that has samples).
    /// The default gathers, runs and scatters ([`run_groups_gathered`]); candle in training
    /// runs each group as a graph of its own ([`crate::grouped`]).
    fn run_groups(
        &self,
        x: &Self::Tensor,
        groups: &[Group<Self::Tensor>],
        run: &RunGroup<'_, Self::Tensor>,
    ) -> Result<Self::Tensor>
    where
        Self: Sized,
    {
        run_groups_gathered(self, x, groups, run)
    }

    /// `x [N, I] @ w[O, I]^T + b[O]`.
    fn linear(
        &self,
        x: &Self::Tensor,
        w: &Self::Tensor,
        b: Option<&Self::Tensor>,
    ) -> Result<Self::Tensor>;
    /// 2-D convolution, `w [O, I, K, K]`, square stride and padding.
    fn conv2d(
        &self,
        x: &Self::Tensor,
        w: &Self::Tensor,
        b: Option<&Self::Tensor>,
        stride: usize,
        padding: usize,
    ) -> Result<Self::Tensor>;
    /// 2-D transposed convolution, `w [I, O, K, K]` (PyTorch layout).
    fn conv_transpose2d(
        &self,
        x: &Self::Tensor,
        w: &Self::Tensor,
        b: Option<&Self::Tensor>,
        stride: usize,
        padding: usize,
    ) -> Result<Self::Tensor>;
    /// [`Backend::conv_transpose2d`], then BatchNorm (`bn`), then `act`, each when given; a
    /// backend may fuse them (candle's CPU does in renders: one pass per part of samples as
    /// col2im writes it).
    fn conv_transpose2d_then(
        &self,
        x: &Self::Tensor,
        w: &Self::Tensor,
        b: Option<&Self::Tensor>,
        (stride, padding): (usize, usize),
        bn: Option<&BatchNormParams<Self::Tensor>>,
        act: Option<Activation>,
    ) -> Result<Self::Tensor> {
        conv_transpose2d_then_unfused(self, x, w, b, (stride, padding), bn, act)
    }
    /// BatchNorm over (N, H, W) per channel: batch statistics in training mode (and the
    /// running statistics updated), running statistics otherwise.
    fn batch_norm(
        &self,
        x: &Self::Tensor,
        p: &BatchNormParams<Self::Tensor>,
    ) -> Result<Self::Tensor>;
    /// An element-wise activation.
    fn activation(&self, x: &Self::Tensor, act: Activation) -> Result<Self::Tensor>;
    /// BatchNorm then `act`; a backend may fuse the two (the GPU does: one pass, one
    /// dispatch).
    fn batch_norm_act(
        &self,
        x: &Self::Tensor,
        p: &BatchNormParams<Self::Tensor>,
        act: Activation,
    ) -> Result<Self::Tensor> {
        let h = self.batch_norm(x, p)?; // [N, C, H, W]
        self.activation(&h, act)
    }
    /// `a + b`, same shape.
    fn add(&self, a: &Self::Tensor, b: &Self::Tensor) -> Result<Self::Tensor>;
    /// Nearest-neighbour 2x up-sampling of `[N, C, H, W]`.
    fn upsample2x(&self, x: &Self::Tensor) -> Result<Self::Tensor>;
    /// Bilinear 2x up-sampling of `[N, C, H, W]` with PyTorch's `align_corners=False` rule
    /// (source coordinate `(o + 0.5) / 2 - 0.5`, clamped at the edges).
    fn upsample2x_bilinear(&self, x: &Self::Tensor) -> Result<Self::Tensor>;
    /// 2x2 average pooling of `[N, C, H, W]` (odd sides lose their last row/column).
    fn avg_pool2x(&self, x: &Self::Tensor) -> Result<Self::Tensor>;
    /// Sum over H and W: `[N, C, H, W] -> [N, C]`.
    fn sum_spatial(&self, x: &Self::Tensor) -> Result<Self::Tensor>;

    /// Unit edit (GAN Dissection eq. 3/5) of `x [N, C, H, W]`:
    /// `x'[n,u,p] = (1 - a_u m_p) x[n,u,p] + a_u m_p k_u` with `alpha`, `value` of length C
    /// and `mask` of length H*W.
    fn unit_edit(
        &self,
        x: &Self::Tensor,
        alpha: &[f32],
        value: &[f32],
        mask: &[f32],
    ) -> Result<Self::Tensor>;
    /// Hybrid / concept exchange of `x [N, C, H, W]`: with `M = channels ⊗ mask`
    /// (lengths C and H*W, entries in [0, 1]), `x'[n] = (1 - M) x[n] + M x[donor[n]]`.
    fn mix(
        &self,
        x: &Self::Tensor,
        donor: &[usize],
        channels: &[f32],
        mask: &[f32],
    ) -> Result<Self::Tensor>;
    /// Hybrids of row pairs of `x [N, C, H, W]`: row k of the `[K, C, H, W]` result is
    /// `(1 - M) x[base[k]] + M x[donor[k]]` (`base` and `donor` of length K). A backend may do
    /// it in one pass; the default gathers the pairs and calls [`Backend::mix`].
    fn mix_pairs(
        &self,
        x: &Self::Tensor,
        base: &[usize],
        donor: &[usize],
        channels: &[f32],
        mask: &[f32],
    ) -> Result<Self::Tensor> {
        let k = base.len();
        if donor.len() != k {
            return Err(crate::Error::Shape(format!(
                "{k} base rows and {} donor rows",
                donor.len()
            )));
        }
        let idx: Vec<usize> = base.iter().chain(donor).copied().collect();
        let ext = self.select_batch(x, &idx)?; // [2K, C, H, W]: bases, then donors
        let d: Vec<usize> = (k..2 * k).chain(k..2 * k).collect();
        let mixed = self.mix(&ext, &d, channels, mask)?; // [2K, C, H, W]
        self.select_batch(&mixed, &(0..k).collect::<Vec<_>>()) // [K, C, H, W]
    }
}

/// [`Backend::conv_transpose2d_then`] as its three ops, one after the other.
pub fn conv_transpose2d_then_unfused<B: Backend + ?Sized>(
    be: &B,
    x: &B::Tensor,
    w: &B::Tensor,
    b: Option<&B::Tensor>,
    (stride, padding): (usize, usize),
    bn: Option<&BatchNormParams<B::Tensor>>,
    act: Option<Activation>,
) -> Result<B::Tensor> {
    let y = be.conv_transpose2d(x, w, b, stride, padding)?; // [N, O, H', W']
    match (bn, act) {
        (Some(p), Some(a)) => be.batch_norm_act(&y, p, a),
        (Some(p), None) => be.batch_norm(&y, p),
        (None, Some(a)) => be.activation(&y, a),
        (None, None) => Ok(y),
    }
}
