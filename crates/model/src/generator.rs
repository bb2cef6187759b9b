//! The generator, written once over [`Backend`].
//!
//! Layers are grouped into buckets of independent blocks (see [`crate::config`]). A batch
//! carries one path per sample; each bucket groups its samples by block (gather, run,
//! scatter), so a batch costs one pass per *used block*, never one per sample. After every
//! bucket the forward calls a site hook (`b1`..`bn`), where interventions are applied and
//! activations observed.

use crate::backend::{Activation, Backend, BatchNormParams, Init, ParamSource};
use crate::config::{Family, GeneratorConfig};
use crate::layers::{batch_norm, bn_relu, Conv, ConvSpec, Linear, WeightInit};
use crate::program::{self, Node};
use crate::{Error, Result};

/// One backbone layer.
#[derive(Clone, Debug)]
pub enum Layer<T> {
    /// `z [N, D] -> linear -> [N, C, S, S]`, then BN + ReLU for dcgan.
    Input {
        /// The projection.
        linear: Linear<T>,
        /// dcgan only.
        bn: Option<BatchNormParams<T>>,
        /// `[C, S, S]`.
        shape: [usize; 3],
    },
    /// dcgan hidden layer: conv_transpose 4x4 s2 -> BN -> ReLU.
    UpConv {
        /// The transposed convolution.
        conv: Conv<T>,
        /// Its BatchNorm.
        bn: BatchNormParams<T>,
    },
    /// SN-ResNet up-block: `conv2(relu(bn2(conv1(up(relu(bn1 x)))))) + conv_sc(up x)`.
    ResUp {
        /// First BatchNorm.
        bn1: BatchNormParams<T>,
        /// First 3x3 conv.
        conv1: Conv<T>,
        /// Second BatchNorm.
        bn2: BatchNormParams<T>,
        /// Second 3x3 conv.
        conv2: Conv<T>,
        /// 1x1 shortcut conv.
        shortcut: Conv<T>,
    },
    /// Linear family: `x [N, ...] -> flatten -> linear -> [N, C, H, W]`, tanh on the last
    /// layer only (no other nonlinearity).
    Dense {
        /// The projection.
        linear: Linear<T>,
        /// `[C, H, W]` of the output (`[w, 1, 1]` for a hidden layer).
        shape: [usize; 3],
        /// The output layer: tanh after the projection.
        tanh: bool,
    },
    /// A layer of a program generator: its ops in order ([`crate::program`]).
    Program(Vec<Node<T>>),
    /// Output: [BN -> ReLU ->] conv -> tanh.
    Output {
        /// snresnet only.
        bn: Option<BatchNormParams<T>>,
        /// dcgan: conv_transpose 4x4 s2; snresnet: conv 3x3.
        conv: Conv<T>,
    },
}

impl<T: Clone> Layer<T> {
    /// Applies the layer.
    pub fn forward<B: Backend<Tensor = T>>(&self, b: &B, x: &T) -> Result<T> {
        match self {
            Layer::Input { linear, bn, shape } => {
                let n = b.dims(x)[0];
                let h = linear.forward(b, x)?; // [N, C*S*S]
                let h = b.reshape(&h, &[n, shape[0], shape[1], shape[2]])?; // [N, C, S, S]
                match bn {
                    Some(bn) => bn_relu(b, &h, bn),
                    None => Ok(h),
                }
            }
            Layer::UpConv { conv, bn } => {
                let h = conv.forward(b, x)?; // [N, O, 2H, 2W]
                bn_relu(b, &h, bn)
            }
            Layer::ResUp {
                bn1,
                conv1,
                bn2,
                conv2,
                shortcut,
            } => {
                let h = bn_relu(b, x, bn1)?; // [N, C, H, W]
                let h = b.upsample2x(&h)?; // [N, C, 2H, 2W]
                let h = conv1.forward(b, &h)?; // [N, C, 2H, 2W]
                let h = bn_relu(b, &h, bn2)?;
                let h = conv2.forward(b, &h)?; // [N, C, 2H, 2W]
                let s = b.upsample2x(x)?; // [N, C, 2H, 2W]
                let s = shortcut.forward(b, &s)?; // [N, C, 2H, 2W]
                b.add(&h, &s)
            }
            Layer::Dense {
                linear,
                shape,
                tanh,
            } => {
                let d = b.dims(x);
                let (n, inp) = (d[0], d[1..].iter().product::<usize>());
                let h = b.reshape(x, &[n, inp])?; // [N, in]
                let h = linear.forward(b, &h)?; // [N, C*H*W]
                let h = b.reshape(&h, &[n, shape[0], shape[1], shape[2]])?; // [N, C, H, W]
                if *tanh {
                    b.activation(&h, Activation::Tanh)
                } else {
                    Ok(h)
                }
            }
            Layer::Program(nodes) => program::run(b, nodes, x),
            Layer::Output { bn, conv } => {
                let h = match bn {
                    Some(bn) => bn_relu(b, x, bn)?,
                    None => x.clone(),
                };
                let h = conv.forward(b, &h)?; // [N, channels, size, size]
                b.activation(&h, Activation::Tanh)
            }
        }
    }
}

/// A block: one copy of a bucket's layers.
pub type Block<T> = Vec<Layer<T>>;

/// A generator with its parameters in backend tensors.
#[derive(Clone, Debug)]
pub struct Generator<T> {
    /// The architecture.
    pub config: GeneratorConfig,
    /// `buckets[i][j]` is block j of bucket i+1.
    pub buckets: Vec<Vec<Block<T>>>,
    /// The learned constant input `[1, latent_dim]` of an RPGAN.
    pub constant: Option<T>,
}

/// The tensor-name prefix of a layer: `g.bucket{i}.block{j}.layer{l}` (bucket and layer
/// 1-based, block 0-based like path indices).
pub fn layer_prefix(bucket: usize, block: usize, layer: usize) -> String {
    format!("g.bucket{}.block{block}.layer{}", bucket + 1, layer + 1)
}

/// The name of the site after bucket `i` (0-based): `b{i+1}`.
pub fn site_name(bucket: usize) -> String {
    format!("b{}", bucket + 1)
}

fn build_layer<T>(
    cfg: &GeneratorConfig,
    src: &mut dyn ParamSource<T>,
    p: &str,
    l: usize,
) -> Result<Layer<T>> {
    let mut s = src.pp(p); // g.bucket{i}.block{j}.layer{l}
    let (n, start) = cfg.layers()?;
    let shapes = cfg.layer_shapes();
    if let Some(layers) = &cfg.program {
        let input = match l {
            0 => [cfg.latent_dim, 1, 1],
            _ => shapes[l - 1],
        };
        return Ok(Layer::Program(program::build(&layers[l], input, &mut s)?));
    }
    let cin = if l == 0 {
        cfg.latent_dim
    } else {
        shapes[l - 1][0]
    };
    let cout = shapes[l][0];
    let (wi, dc) = match cfg.family {
        Family::Dcgan => (WeightInit::Dcgan, true),
        Family::SnResnet => (WeightInit::Glorot, false),
        Family::Program => {
            return Err(Error::InvalidConfig(
                "a program generator without a program".into(),
            ))
        }
        Family::Linear => {
            let inp = if l == 0 {
                cfg.latent_dim
            } else {
                shapes[l - 1].iter().product()
            };
            let shape = shapes[l];
            let out = shape.iter().product();
            return Ok(Layer::Dense {
                linear: Linear::new(&mut s.pp("linear"), inp, out, WeightInit::Glorot)?,
                shape,
                tanh: l + 1 == n,
            });
        }
    };
    Ok(if l == 0 {
        let shape = [cout, start, start];
        Layer::Input {
            linear: Linear::new(&mut s.pp("linear"), cin, cout * start * start, wi)?,
            bn: if dc {
                Some(batch_norm(&mut s.pp("bn"), cout)?)
            } else {
                None
            },
            shape,
        }
    } else if l + 1 == n {
        let (bn, spec) = if dc {
            (None, ConvSpec::up4(cin, cout))
        } else {
            (
                Some(batch_norm(&mut s.pp("bn"), cin)?),
                ConvSpec::same(cin, cout, 3),
            )
        };
        Layer::Output {
            bn,
            conv: Conv::new(&mut s.pp("conv"), spec, wi)?,
        }
    } else if dc {
        Layer::UpConv {
            conv: Conv::new(&mut s.pp("conv"), ConvSpec::up4(cin, cout), wi)?,
            bn: batch_norm(&mut s.pp("bn"), cout)?,
        }
    } else {
        Layer::ResUp {
            bn1: batch_norm(&mut s.pp("bn1"), cin)?,
            conv1: Conv::new(&mut s.pp("conv1"), ConvSpec::same(cin, cout, 3), wi)?,
            bn2: batch_norm(&mut s.pp("bn2"), cout)?,
            conv2: Conv::new(&mut s.pp("conv2"), ConvSpec::same(cout, cout, 3), wi)?,
            shortcut: Conv::new(&mut s.pp("shortcut"), ConvSpec::same(cin, cout, 1), wi)?,
        }
    })
}

impl<T: Clone> Generator<T> {
    /// Builds the generator, taking every parameter from `src`.
    pub fn new(cfg: &GeneratorConfig, src: &mut dyn ParamSource<T>) -> Result<Self> {
        cfg.validate()?;
        let mut buckets = Vec::with_capacity(cfg.buckets.len());
        let mut first = 0;
        for (bi, bc) in cfg.buckets.iter().enumerate() {
            let blocks = (0..bc.blocks)
                .map(|j| {
                    (first..first + bc.layers)
                        .map(|l| build_layer(cfg, src, &layer_prefix(bi, j, l), l))
                        .collect::<Result<Vec<_>>>()
                })
                .collect::<Result<Vec<_>>>()?;
            buckets.push(blocks);
            first += bc.layers;
        }
        let constant = if cfg.constant_input {
            Some(src.param("g.z", &[1, cfg.latent_dim], Init::Normal(1.0))?)
        } else {
            None
        };
        Ok(Generator {
            config: cfg.clone(),
            buckets,
            constant,
        })
    }

    /// Site names and `[C, H, W]` shapes, first to last.
    pub fn sites(&self) -> Vec<(String, [usize; 3])> {
        site_shapes(&self.config)
    }

    /// Checks a batch of paths: one per sample, one block index per bucket, each in range.
    pub fn check_paths(&self, paths: &[Vec<usize>]) -> Result<()> {
        let blocks = self.config.blocks();
        for (n, p) in paths.iter().enumerate() {
            if p.len() != blocks.len() {
                return Err(Error::InvalidIntervention(format!(
                    "path of sample {n} has {} entries; the model has {} buckets",
                    p.len(),
                    blocks.len()
                )));
            }
            if let Some((i, (&s, &m))) =
                p.iter().zip(&blocks).enumerate().find(|(_, (s, m))| s >= m)
            {
                return Err(Error::InvalidIntervention(format!(
                    "path of sample {n}: block {s} does not exist in bucket {} (it has {m} blocks, 0..={})",
                    i + 1,
                    m - 1
                )));
            }
        }
        Ok(())
    }

    /// The forward pass of `n = paths.len()` samples. `z [N, latent_dim]` is required for a
    /// noise-input generator and ignored by an RPGAN. After bucket i the activation goes
    /// through `hook(i, x)`, which returns the (possibly edited) activation.
    pub fn forward<B: Backend<Tensor = T>>(
        &self,
        b: &B,
        z: Option<&T>,
        paths: &[Vec<usize>],
        hook: &mut dyn FnMut(usize, T) -> Result<T>,
    ) -> Result<T> {
        self.check_paths(paths)?;
        let n = paths.len();
        if n == 0 {
            return Err(Error::Shape("a batch needs at least one sample".into()));
        }
        let mut x = match (&self.constant, z) {
            (Some(c), _) => b.repeat_batch(c, n)?, // [N, D]
            (None, Some(z)) => {
                let d = b.dims(z);
                if d != [n, self.config.latent_dim] {
                    return Err(Error::Shape(format!(
                        "latent has shape {d:?}; expected [{n}, {}]",
                        self.config.latent_dim
                    )));
                }
                z.clone()
            }
            (None, None) => {
                return Err(Error::Shape("this generator needs a latent z".into()));
            }
        };
        for (bi, blocks) in self.buckets.iter().enumerate() {
            let col: Vec<usize> = paths.iter().map(|p| p[bi]).collect();
            x = run_bucket(b, blocks, &x, &col)?;
            x = hook(bi, x)?;
        }
        Ok(x)
    }
}

fn run_block<B: Backend>(b: &B, block: &[Layer<B::Tensor>], x: &B::Tensor) -> Result<B::Tensor> {
    let mut h = x.clone();
    for layer in block {
        h = layer.forward(b, &h)?;
    }
    Ok(h)
}

/// Runs one bucket with sample n going through block `col[n]`: samples grouped by block
/// (gather, run, scatter).
pub(crate) fn run_bucket<B: Backend>(
    b: &B,
    blocks: &[Block<B::Tensor>],
    x: &B::Tensor,
    col: &[usize],
) -> Result<B::Tensor> {
    if col.iter().all(|&j| j == col[0]) {
        return run_block(b, &blocks[col[0]], x);
    }
    let mut order = Vec::with_capacity(col.len());
    let mut parts = Vec::new();
    for (j, block) in blocks.iter().enumerate() {
        let idx: Vec<usize> = (0..col.len()).filter(|&n| col[n] == j).collect();
        if idx.is_empty() {
            continue;
        }
        let xs = b.select_batch(x, &idx)?; // [n_j, ...]
        parts.push(run_block(b, block, &xs)?); // [n_j, C, H, W]
        order.extend(idx);
    }
    let y = b.concat_batch(&parts)?; // [N, C, H, W], rows in `order`
    let mut inv = vec![0; order.len()];
    for (k, &n) in order.iter().enumerate() {
        inv[n] = k;
    }
    b.select_batch(&y, &inv) // [N, C, H, W], rows in sample order
}

/// Site names and `[C, H, W]` shapes of a generator config.
pub fn site_shapes(cfg: &GeneratorConfig) -> Vec<(String, [usize; 3])> {
    let shapes = cfg.layer_shapes();
    let mut last = 0;
    cfg.buckets
        .iter()
        .enumerate()
        .map(|(i, bc)| {
            last += bc.layers;
            (site_name(i), shapes[last - 1])
        })
        .collect()
}
