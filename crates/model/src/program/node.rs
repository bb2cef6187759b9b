//! Layer programs in backend tensors: building them from a parameter source, and the one
//! forward every backend runs.

use super::{op_shape, Op, Resize};
use crate::backend::{Activation, Backend, BatchNormParams, Init, ParamSource};
use crate::layers::{batch_norm, WeightInit};
use crate::Result;

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

/// How a program's tensors are named and created.
#[derive(Clone, Copy, Debug)]
pub struct Naming<'a> {
    /// `(path, name)`: the op at `path` (`"0"`, `"2.main.3"`) keeps its tensors under `name`
    /// instead of its path.
    pub names: &'a [(&'a str, &'a str)],
    /// How weights are initialised when the source creates them.
    pub init: WeightInit,
}

impl Naming<'static> {
    /// Ops named by their paths, weights N(0, 0.02): an imported program.
    pub const PATHS: Naming<'static> = Naming {
        names: &[],
        init: WeightInit::Dcgan,
    };
}

/// Builds a chain of ops on an input of shape `s`, op `k`'s parameters under `src.pp(k)`.
pub fn build<T>(ops: &[Op], s: [usize; 3], src: &mut dyn ParamSource<T>) -> Result<Vec<Node<T>>> {
    build_named(ops, s, src, Naming::PATHS)
}

/// [`build`] with the tensors named and initialised by `naming`.
pub fn build_named<T>(
    ops: &[Op],
    s: [usize; 3],
    src: &mut dyn ParamSource<T>,
    naming: Naming<'_>,
) -> Result<Vec<Node<T>>> {
    build_at(ops, s, src, naming, "")
}

fn build_at<T>(
    ops: &[Op],
    s: [usize; 3],
    src: &mut dyn ParamSource<T>,
    naming: Naming<'_>,
    prefix: &str,
) -> Result<Vec<Node<T>>> {
    let mut cur = s;
    let mut nodes = Vec::with_capacity(ops.len());
    for (k, op) in ops.iter().enumerate() {
        let path = if prefix.is_empty() {
            k.to_string()
        } else {
            format!("{prefix}.{k}")
        };
        let scope = naming
            .names
            .iter()
            .find(|(p, _)| *p == path)
            .map_or(path.as_str(), |(_, n)| n);
        let c = cur[0];
        let node = match op {
            Op::Dense { out, bias: b } => {
                let inp = cur.iter().product();
                let mut p = src.pp(scope);
                Node::Dense {
                    weight: p.param("weight", &[*out, inp], naming.init.init(&[*out, inp]))?, // [out, in]
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
                let init = naming.init.init(&shape);
                let mut p = src.pp(scope);
                Node::Conv {
                    weight: p.param("weight", &shape, init)?,
                    bias: bias(&mut p, *b, *out)?,
                    stride: *stride,
                    padding: *padding,
                    transposed,
                }
            }
            Op::BatchNorm => Node::BatchNorm(batch_norm(&mut src.pp(scope), c)?),
            Op::Relu => Node::Act(Activation::Relu),
            Op::LeakyRelu { slope } => Node::Act(Activation::LeakyRelu(*slope)),
            Op::Tanh => Node::Act(Activation::Tanh),
            Op::Sigmoid => Node::Act(Activation::Sigmoid),
            Op::Upsample { mode } => Node::Upsample(*mode),
            Op::Residual { main, shortcut } => Node::Residual {
                main: build_at(main, cur, src, naming, &format!("{path}.main"))?,
                shortcut: build_at(shortcut, cur, src, naming, &format!("{path}.shortcut"))?,
            },
        };
        nodes.push(node);
        cur = op_shape(op, cur, 0)?;
    }
    Ok(nodes)
}

/// The trainable parameters of a chain (weights, biases, BatchNorm's scale and shift; not
/// its running statistics), in order.
pub fn params<T: Clone>(nodes: &[Node<T>]) -> Vec<T> {
    let mut out = Vec::new();
    for node in nodes {
        match node {
            Node::Dense { weight, bias } | Node::Conv { weight, bias, .. } => {
                out.push(weight.clone());
                out.extend(bias.clone());
            }
            Node::BatchNorm(p) => out.extend([p.weight.clone(), p.bias.clone()]),
            Node::Residual { main, shortcut } => {
                out.extend(params(main));
                out.extend(params(shortcut));
            }
            Node::Reshape(_) | Node::Act(_) | Node::Upsample(_) => {}
        }
    }
    out
}

/// Runs a chain on `x [N, C, H, W]` (or a latent `[N, D]`, viewed as `[N, D, 1, 1]`). A
/// BatchNorm followed by an activation runs as one fused op, and so does a transposed
/// convolution with the BatchNorm and activation after it.
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
        let mut used = 1;
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
            } => {
                let (bn, act) = after_conv(&nodes[i + 1..]);
                used += usize::from(bn.is_some()) + usize::from(act.is_some());
                let sp = (*stride, *padding);
                // [N, O, H', W']
                b.conv_transpose2d_then(&h, weight, bias.as_ref(), sp, bn, act)?
            }
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
        i += used;
    }
    Ok(h)
}

/// The BatchNorm and the activation that follow a transposed convolution at the start of
/// `rest`, where there are: [`Backend::conv_transpose2d_then`] runs them with it.
fn after_conv<T>(rest: &[Node<T>]) -> (Option<&BatchNormParams<T>>, Option<Activation>) {
    let bn = match rest.first() {
        Some(Node::BatchNorm(p)) => Some(p),
        _ => None,
    };
    let act = match rest.get(usize::from(bn.is_some())) {
        Some(Node::Act(a)) => Some(*a),
        _ => None,
    };
    (bn, act)
}
