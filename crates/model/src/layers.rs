//! Backend-generic layers: parameters plus a forward over [`Backend`].

use crate::backend::{Activation, Backend, BatchNormParams, Init, ParamSource};
use crate::Result;

/// Weight init of a layer: DCGAN's N(0, 0.02), Glorot-uniform for SN-ResNet, or PyTorch's
/// default for the dcgan generator's output layer.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum WeightInit {
    /// Normal(0, 0.02) (Radford et al.).
    Dcgan,
    /// Uniform(+-sqrt(6 / (fan_in + fan_out))) (Glorot; Miyato et al.).
    Glorot,
    /// Uniform(+-1 / sqrt(fan_in)): PyTorch's default for convolutions and linear layers
    /// (Kaiming-uniform with a = sqrt(5)). The dcgan generator's output layer, which no
    /// BatchNorm rescales, starts so: with N(0, 0.02) its first images are nearly flat grey
    /// and the hinge GAN collapses to one image (`docs/training.md`).
    TorchDefault,
}

impl WeightInit {
    /// The init of a weight of this shape (`[out, in]`, `[O, I, k, k]`, or a transposed
    /// convolution's `[I, O, k, k]`), its fans counted as PyTorch counts them: fan in =
    /// `shape[1]` times the kernel's area, fan out = `shape[0]` times it.
    pub fn init(self, shape: &[usize]) -> Init {
        let area: usize = shape.iter().skip(2).product();
        let fan_in = shape.get(1).copied().unwrap_or(1) * area;
        let fan_out = shape.first().copied().unwrap_or(1) * area;
        match self {
            WeightInit::Dcgan => Init::Normal(0.02),
            WeightInit::Glorot => Init::Uniform((6.0 / (fan_in + fan_out) as f32).sqrt()),
            WeightInit::TorchDefault => Init::Uniform(1.0 / (fan_in.max(1) as f32).sqrt()),
        }
    }
}

/// A fully connected layer: weight `[out, in]`, bias `[out]`.
#[derive(Clone, Debug)]
pub struct Linear<T> {
    /// `[out, in]`.
    pub weight: T,
    /// `[out]`.
    pub bias: T,
}

impl<T> Linear<T> {
    /// Creates or loads `weight` and `bias` of `src` (a scope such as `src.pp("linear")`).
    pub fn new(
        src: &mut dyn ParamSource<T>,
        inp: usize,
        out: usize,
        wi: WeightInit,
    ) -> Result<Self> {
        Ok(Linear {
            weight: src.param("weight", &[out, inp], wi.init(&[out, inp]))?, // [out, in]
            bias: src.param("bias", &[out], Init::Const(0.0))?,              // [out]
        })
    }

    /// `x [N, in] -> [N, out]`.
    pub fn forward<B: Backend<Tensor = T>>(&self, b: &B, x: &T) -> Result<T> {
        b.linear(x, &self.weight, Some(&self.bias))
    }
}

/// A convolution or transposed convolution with square kernel, stride and padding.
#[derive(Clone, Debug)]
pub struct Conv<T> {
    /// `[O, I, K, K]` for a convolution, `[I, O, K, K]` for a transposed one.
    pub weight: T,
    /// `[O]`.
    pub bias: T,
    /// Stride.
    pub stride: usize,
    /// Padding.
    pub padding: usize,
    /// Transposed convolution (up-sampling by `stride`).
    pub transposed: bool,
}

/// Shape of a convolution: channels in/out, kernel, stride, padding, transposed.
#[derive(Clone, Copy, Debug)]
pub struct ConvSpec {
    /// Input channels.
    pub inp: usize,
    /// Output channels.
    pub out: usize,
    /// Kernel side.
    pub k: usize,
    /// Stride.
    pub stride: usize,
    /// Padding.
    pub padding: usize,
    /// Transposed.
    pub transposed: bool,
}

impl ConvSpec {
    /// A `k`x`k` convolution, stride 1, "same" padding.
    pub fn same(inp: usize, out: usize, k: usize) -> Self {
        ConvSpec {
            inp,
            out,
            k,
            stride: 1,
            padding: k / 2,
            transposed: false,
        }
    }
    /// A 4x4 stride-2 padding-1 convolution (halves the side).
    pub fn down4(inp: usize, out: usize) -> Self {
        ConvSpec {
            inp,
            out,
            k: 4,
            stride: 2,
            padding: 1,
            transposed: false,
        }
    }
    /// A 4x4 stride-2 padding-1 transposed convolution (doubles the side).
    pub fn up4(inp: usize, out: usize) -> Self {
        ConvSpec {
            inp,
            out,
            k: 4,
            stride: 2,
            padding: 1,
            transposed: true,
        }
    }
}

impl<T> Conv<T> {
    /// Creates or loads `{name}.weight` and `{name}.bias`.
    pub fn new(src: &mut dyn ParamSource<T>, s: ConvSpec, wi: WeightInit) -> Result<Self> {
        let shape = if s.transposed {
            [s.inp, s.out, s.k, s.k]
        } else {
            [s.out, s.inp, s.k, s.k]
        };
        Ok(Conv {
            weight: src.param("weight", &shape, wi.init(&shape))?, // [I, O, k, k] or [O, I, k, k]
            bias: src.param("bias", &[s.out], Init::Const(0.0))?,  // [O]
            stride: s.stride,
            padding: s.padding,
            transposed: s.transposed,
        })
    }

    /// `x [N, I, H, W] -> [N, O, H', W']`.
    pub fn forward<B: Backend<Tensor = T>>(&self, b: &B, x: &T) -> Result<T> {
        if self.transposed {
            b.conv_transpose2d(x, &self.weight, Some(&self.bias), self.stride, self.padding)
        } else {
            b.conv2d(x, &self.weight, Some(&self.bias), self.stride, self.padding)
        }
    }
}

/// Creates or loads a BatchNorm of `src` (a scope such as `src.pp("bn")`): `weight`, `bias`,
/// `running_mean`, `running_var`, each `[C]`.
pub fn batch_norm<T>(src: &mut dyn ParamSource<T>, c: usize) -> Result<BatchNormParams<T>> {
    Ok(BatchNormParams {
        weight: src.param("weight", &[c], Init::Const(1.0))?,
        bias: src.param("bias", &[c], Init::Const(0.0))?,
        running_mean: src.state("running_mean", &[c], Init::Const(0.0))?,
        running_var: src.state("running_var", &[c], Init::Const(1.0))?,
    })
}

/// BatchNorm then ReLU.
pub fn bn_relu<B: Backend>(
    b: &B,
    x: &B::Tensor,
    bn: &BatchNormParams<B::Tensor>,
) -> Result<B::Tensor> {
    b.batch_norm_act(x, bn, Activation::Relu) // [N, C, H, W]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fans_are_counted_as_pytorch_counts_them() {
        // a transposed conv [I=32, O=1, 4, 4]: PyTorch's fan in is O x 16 = 16, bound 1/4
        assert_eq!(
            WeightInit::TorchDefault.init(&[32, 1, 4, 4]),
            Init::Uniform(0.25)
        );
        // a conv [O=8, I=2, 3, 3]: fan in 18; a linear [out=4, in=9]: fan in 9
        assert_eq!(
            WeightInit::TorchDefault.init(&[8, 2, 3, 3]),
            Init::Uniform(1.0 / 18f32.sqrt())
        );
        assert_eq!(
            WeightInit::TorchDefault.init(&[4, 9]),
            Init::Uniform(1.0 / 3.0)
        );
        // Glorot counts both fans, so either layout of the same conv gets the same bound
        let glorot = Init::Uniform((6.0f32 / (32.0 * 16.0 + 16.0)).sqrt());
        assert_eq!(WeightInit::Glorot.init(&[32, 1, 4, 4]), glorot);
        assert_eq!(WeightInit::Glorot.init(&[1, 32, 4, 4]), glorot);
        assert_eq!(WeightInit::Dcgan.init(&[4, 9]), Init::Normal(0.02));
    }
}
