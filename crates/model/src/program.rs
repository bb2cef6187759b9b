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
//! `nn.Sequential` names them.

use serde::{Deserialize, Serialize};

use crate::backend::{Activation, Backend, BatchNormParams, Init, ParamSource};
use crate::layers::batch_norm;
use crate::{Error, Result};

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

fn bad<T>(m: String) -> Result<T> {
    Err(Error::InvalidConfig(m))
}

fn check_conv(what: &str, out: usize, kernel: usize, stride: usize) -> Result<()> {
    if !(1..=MAX_CHANNELS).contains(&out) {
        return bad(format!(
            "{what} with {out} output channels (1..={MAX_CHANNELS})"
        ));
    }
    if !(1..=MAX_KERNEL).contains(&kernel) || !(1..=MAX_STRIDE).contains(&stride) {
        return bad(format!(
            "{what} with kernel {kernel} and stride {stride} (kernel 1..={MAX_KERNEL}, stride 1..={MAX_STRIDE})"
        ));
    }
    Ok(())
}

/// The output shape of `op` on an input of shape `s`, every field checked.
pub fn op_shape(op: &Op, s: [usize; 3], depth: usize) -> Result<[usize; 3]> {
    let [c, h, w] = s;
    let out = match op {
        Op::Dense { out, .. } => {
            if !(1..=MAX_ELEMENTS).contains(out) {
                return bad(format!("dense layer with {out} outputs"));
            }
            [*out, 1, 1]
        }
        Op::Reshape { shape } => {
            if shape.iter().product::<usize>() != c * h * w || shape.contains(&0) {
                return bad(format!(
                    "reshape of {s:?} into {shape:?}: element counts differ"
                ));
            }
            *shape
        }
        Op::Conv {
            out,
            kernel,
            stride,
            padding,
            ..
        } => {
            check_conv("conv", *out, *kernel, *stride)?;
            if h + 2 * padding < *kernel || w + 2 * padding < *kernel {
                return bad(format!(
                    "conv {kernel}x{kernel} with padding {padding} on a {h}x{w} input"
                ));
            }
            let side = |v: usize| (v + 2 * padding - kernel) / stride + 1;
            [*out, side(h), side(w)]
        }
        Op::ConvTranspose {
            out,
            kernel,
            stride,
            padding,
            ..
        } => {
            check_conv("conv_transpose", *out, *kernel, *stride)?;
            let full = |v: usize| (v - 1) * stride + kernel;
            if full(h) <= 2 * padding || full(w) <= 2 * padding {
                return bad(format!(
                    "conv_transpose {kernel}x{kernel} with padding {padding} on a {h}x{w} input leaves nothing"
                ));
            }
            [*out, full(h) - 2 * padding, full(w) - 2 * padding]
        }
        Op::BatchNorm | Op::Relu | Op::Tanh | Op::Sigmoid => s,
        Op::LeakyRelu { slope } => {
            if !slope.is_finite() {
                return bad(format!("LeakyReLU slope {slope}"));
            }
            s
        }
        Op::Upsample { .. } => [c, 2 * h, 2 * w],
        Op::Residual { main, shortcut } => {
            if depth >= MAX_DEPTH {
                return bad(format!("residual ops nest deeper than {MAX_DEPTH}"));
            }
            let a = chain_shape(main, s, depth + 1)?;
            let b = chain_shape(shortcut, s, depth + 1)?;
            if a != b {
                return bad(format!(
                    "a residual op's main chain gives {a:?} and its shortcut {b:?}"
                ));
            }
            a
        }
    };
    if out[1] > MAX_SIDE || out[2] > MAX_SIDE || out.iter().product::<usize>() > MAX_ELEMENTS {
        return bad(format!(
            "an op's output {out:?} is larger than this tool allows"
        ));
    }
    Ok(out)
}

/// The output shape of a chain of ops.
pub fn chain_shape(ops: &[Op], s: [usize; 3], depth: usize) -> Result<[usize; 3]> {
    ops.iter().try_fold(s, |s, op| op_shape(op, s, depth))
}

/// A short text of an op (`conv_transpose 4x4/2 pad 1 -> 256`), for model cards.
pub fn describe(op: &Op) -> String {
    let conv = |name: &str, out, k, s, p, b: bool| {
        let b = if b { "" } else { ", no bias" };
        format!("{name} {k}x{k}/{s} pad {p} -> {out}{b}")
    };
    match op {
        Op::Dense { out, bias } => {
            format!("dense -> {out}{}", if *bias { "" } else { ", no bias" })
        }
        Op::Reshape { shape } => format!("reshape {shape:?}"),
        Op::Conv {
            out,
            kernel,
            stride,
            padding,
            bias,
        } => conv("conv", out, kernel, stride, padding, *bias),
        Op::ConvTranspose {
            out,
            kernel,
            stride,
            padding,
            bias,
        } => conv("conv_transpose", out, kernel, stride, padding, *bias),
        Op::BatchNorm => "batch_norm".into(),
        Op::Relu => "relu".into(),
        Op::LeakyRelu { slope } => format!("leaky_relu {slope}"),
        Op::Tanh => "tanh".into(),
        Op::Sigmoid => "sigmoid".into(),
        Op::Upsample { mode } => format!("upsample 2x {mode:?}").to_lowercase(),
        Op::Residual { main, shortcut } => {
            let chain = |c: &[Op]| c.iter().map(describe).collect::<Vec<_>>().join(", ");
            let sc = if shortcut.is_empty() {
                "identity".to_string()
            } else {
                chain(shortcut)
            };
            format!("residual [{}] + [{sc}]", chain(main))
        }
    }
}

/// Number of ops, residual chains counted.
pub fn op_count(ops: &[Op]) -> usize {
    ops.iter()
        .map(|op| match op {
            Op::Residual { main, shortcut } => 1 + op_count(main) + op_count(shortcut),
            _ => 1,
        })
        .sum()
}

/// Every op's output shape of a chain, nested chains included (for buffer sizing).
pub fn all_shapes(ops: &[Op], s: [usize; 3]) -> Vec<[usize; 3]> {
    let mut out = Vec::new();
    let mut cur = s;
    for op in ops {
        if let Op::Residual { main, shortcut } = op {
            out.extend(all_shapes(main, cur));
            out.extend(all_shapes(shortcut, cur));
        }
        match op_shape(op, cur, 0) {
            Ok(next) => cur = next,
            Err(_) => return out,
        }
        out.push(cur);
    }
    out
}

/// An op with its parameters in backend tensors.
#[derive(Clone, Debug)]
pub enum Node<T> {
    /// Flatten, project, view as `[out, 1, 1]`.
    Dense {
        /// `[out, in]`.
        weight: T,
        /// `[out]`.
        bias: Option<T>,
    },
    /// A view as `[C, H, W]`.
    Reshape([usize; 3]),
    /// A convolution or transposed convolution.
    Conv {
        /// `[O, I, k, k]`, or `[I, O, k, k]` transposed.
        weight: T,
        /// `[O]`.
        bias: Option<T>,
        /// Stride.
        stride: usize,
        /// Padding.
        padding: usize,
        /// Transposed.
        transposed: bool,
    },
    /// Inference BatchNorm.
    BatchNorm(BatchNormParams<T>),
    /// An activation.
    Act(Activation),
    /// 2x up-sampling.
    Upsample(Resize),
    /// `main(x) + shortcut(x)`.
    Residual {
        /// The main chain.
        main: Vec<Node<T>>,
        /// The shortcut chain (empty: identity).
        shortcut: Vec<Node<T>>,
    },
}

fn bias<T>(src: &mut dyn ParamSource<T>, has: bool, out: usize) -> Result<Option<T>> {
    has.then(|| src.param("bias", &[out], Init::Const(0.0)))
        .transpose()
}

/// Builds a chain of ops on an input of shape `s`, op `k`'s parameters under `src.pp(k)`.
pub fn build<T>(ops: &[Op], s: [usize; 3], src: &mut dyn ParamSource<T>) -> Result<Vec<Node<T>>> {
    let mut cur = s;
    let mut nodes = Vec::with_capacity(ops.len());
    for (k, op) in ops.iter().enumerate() {
        let mut p = src.pp(&k.to_string());
        let c = cur[0];
        let node = match op {
            Op::Dense { out, bias: b } => {
                let inp = cur.iter().product();
                Node::Dense {
                    weight: p.param("weight", &[*out, inp], Init::Normal(0.02))?, // [out, in]
                    bias: bias(&mut p, *b, *out)?,
                }
            }
            Op::Reshape { shape } => Node::Reshape(*shape),
            Op::Conv {
                out,
                kernel,
                stride,
                padding,
                bias: b,
            }
            | Op::ConvTranspose {
                out,
                kernel,
                stride,
                padding,
                bias: b,
            } => {
                let transposed = matches!(op, Op::ConvTranspose { .. });
                let shape = if transposed {
                    [c, *out, *kernel, *kernel]
                } else {
                    [*out, c, *kernel, *kernel]
                };
                Node::Conv {
                    weight: p.param("weight", &shape, Init::Normal(0.02))?,
                    bias: bias(&mut p, *b, *out)?,
                    stride: *stride,
                    padding: *padding,
                    transposed,
                }
            }
            Op::BatchNorm => Node::BatchNorm(batch_norm(&mut p, c)?),
            Op::Relu => Node::Act(Activation::Relu),
            Op::LeakyRelu { slope } => Node::Act(Activation::LeakyRelu(*slope)),
            Op::Tanh => Node::Act(Activation::Tanh),
            Op::Sigmoid => Node::Act(Activation::Sigmoid),
            Op::Upsample { mode } => Node::Upsample(*mode),
            Op::Residual { main, shortcut } => Node::Residual {
                main: build(main, cur, &mut p.pp("main"))?,
                shortcut: build(shortcut, cur, &mut p.pp("shortcut"))?,
            },
        };
        nodes.push(node);
        cur = op_shape(op, cur, 0)?;
    }
    Ok(nodes)
}

/// Runs a chain on `x [N, C, H, W]` (or a latent `[N, D]`, viewed as `[N, D, 1, 1]`). A
/// BatchNorm followed by an activation runs as one fused op.
pub fn run<B: Backend>(b: &B, nodes: &[Node<B::Tensor>], x: &B::Tensor) -> Result<B::Tensor> {
    let d = b.dims(x);
    let n = d[0];
    let mut h = if d.len() == 2 {
        b.reshape(x, &[n, d[1], 1, 1])? // [N, D, 1, 1]
    } else {
        x.clone()
    };
    let mut i = 0;
    while i < nodes.len() {
        if let (Node::BatchNorm(p), Some(Node::Act(a))) = (&nodes[i], nodes.get(i + 1)) {
            h = b.batch_norm_act(&h, p, *a)?; // [N, C, H, W]
            i += 2;
            continue;
        }
        h = match &nodes[i] {
            Node::Dense { weight, bias } => {
                let inp = b.dims(&h)[1..].iter().product::<usize>();
                let flat = b.reshape(&h, &[n, inp])?; // [N, in]
                let y = b.linear(&flat, weight, bias.as_ref())?; // [N, out]
                let out = b.dims(&y)[1];
                b.reshape(&y, &[n, out, 1, 1])? // [N, out, 1, 1]
            }
            Node::Reshape(s) => b.reshape(&h, &[n, s[0], s[1], s[2]])?, // [N, C, H, W]
            Node::Conv {
                weight,
                bias,
                stride,
                padding,
                transposed: true,
            } => b.conv_transpose2d(&h, weight, bias.as_ref(), *stride, *padding)?,
            Node::Conv {
                weight,
                bias,
                stride,
                padding,
                transposed: false,
            } => b.conv2d(&h, weight, bias.as_ref(), *stride, *padding)?,
            Node::BatchNorm(p) => b.batch_norm(&h, p)?,
            Node::Act(a) => b.activation(&h, *a)?,
            Node::Upsample(Resize::Nearest) => b.upsample2x(&h)?, // [N, C, 2H, 2W]
            Node::Upsample(Resize::Bilinear) => b.upsample2x_bilinear(&h)?,
            Node::Residual { main, shortcut } => {
                let m = run(b, main, &h)?;
                let s = if shortcut.is_empty() {
                    h.clone()
                } else {
                    run(b, shortcut, &h)?
                };
                b.add(&m, &s)?
            }
        };
        i += 1;
    }
    Ok(h)
}
