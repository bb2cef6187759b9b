//! The generator, written once over [`Backend`].
//!
//! Layers are grouped into buckets of independent blocks (see [`crate::config`]). A batch
//! carries one path per sample; each bucket groups its samples by block (gather, run,
//! scatter; in a training forward on candle's CPU, one node per bucket, [`crate::grouped`]),
//! so a batch costs one pass per *used block*, never one per sample. After every
//! bucket the forward calls a site hook (`b1`..`bn`), where interventions are applied and
//! activations observed.

use crate::backend::{Backend, Group, Init, ParamSource};
use crate::config::{Family, GeneratorConfig};
use crate::layers::WeightInit;
use crate::program::{self, Naming, Node, Op, Resize};
use crate::{Error, Result};

/// One backbone layer: its ops ([`crate::program`]). A family's layer is the program its
/// builder ([`family_layer`]) writes, so every generator runs through the one program forward.
pub type Layer<T> = Vec<Node<T>>;

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

/// Names of the family layers' tensors, as their files have always had them.
const INPUT_NAMES: &[(&str, &str)] = &[("0", "linear"), ("2", "bn")];
const UPCONV_NAMES: &[(&str, &str)] = &[("0", "conv"), ("1", "bn")];
const RESUP_NAMES: &[(&str, &str)] = &[
    ("0.main.0", "bn1"),
    ("0.main.3", "conv1"),
    ("0.main.4", "bn2"),
    ("0.main.6", "conv2"),
    ("0.shortcut.1", "shortcut"),
];
const OUTPUT_NAMES: &[(&str, &str)] = &[("0", "bn"), ("2", "conv")];
const DCGAN_OUTPUT_NAMES: &[(&str, &str)] = &[("0", "conv")];

fn named(names: &'static [(&'static str, &'static str)], init: WeightInit) -> Naming<'static> {
    Naming { names, init }
}

/// Layer `l` of a family generator as a program, with its tensors' names and init:
/// - dcgan: input `linear -> reshape -> BN -> ReLU`; `conv_transpose 4x4/2 -> BN -> ReLU`;
///   output `conv_transpose 4x4/2 -> tanh`;
/// - snresnet: input `linear -> reshape`; up-blocks `[BN, ReLU, up, conv3, BN, ReLU, conv3] +
///   [up, conv1]`; output `BN -> ReLU -> conv3 -> tanh`;
/// - linear: `dense -> reshape`, tanh after the last.
pub fn family_layer(cfg: &GeneratorConfig, l: usize) -> Result<(Vec<Op>, Naming<'static>)> {
    let (n, start) = cfg.layers()?;
    let shapes = cfg.layer_shapes();
    let shape = shapes[l];
    let cout = shape[0];
    let last = l + 1 == n;
    let up4 = Op::ConvTranspose {
        out: cout,
        kernel: 4,
        stride: 2,
        padding: 1,
        bias: true,
    };
    let conv = |out, kernel: usize| Op::Conv {
        out,
        kernel,
        stride: 1,
        padding: kernel / 2,
        bias: true,
    };
    let input = |bn: bool| {
        let mut ops = vec![
            Op::Dense {
                out: cout * start * start,
                bias: true,
            },
            Op::Reshape {
                shape: [cout, start, start],
            },
        ];
        if bn {
            ops.extend([Op::BatchNorm, Op::Relu]);
        }
        ops
    };
    Ok(match cfg.family {
        Family::Dcgan if l == 0 => (input(true), named(INPUT_NAMES, WeightInit::Dcgan)),
        Family::Dcgan if last => (
            vec![up4, Op::Tanh],
            named(DCGAN_OUTPUT_NAMES, WeightInit::TorchDefault),
        ),
        Family::Dcgan => (
            vec![up4, Op::BatchNorm, Op::Relu],
            named(UPCONV_NAMES, WeightInit::Dcgan),
        ),
        Family::SnResnet if l == 0 => (input(false), named(INPUT_NAMES, WeightInit::Glorot)),
        Family::SnResnet if last => (
            vec![Op::BatchNorm, Op::Relu, conv(cout, 3), Op::Tanh],
            named(OUTPUT_NAMES, WeightInit::Glorot),
        ),
        Family::SnResnet => {
            let up = Op::Upsample {
                mode: Resize::Nearest,
            };
            let main = vec![
                Op::BatchNorm,
                Op::Relu,
                up.clone(),
                conv(cout, 3),
                Op::BatchNorm,
                Op::Relu,
                conv(cout, 3),
            ];
            let shortcut = vec![up, conv(cout, 1)];
            (
                vec![Op::Residual { main, shortcut }],
                named(RESUP_NAMES, WeightInit::Glorot),
            )
        }
        Family::Linear => {
            let mut ops = vec![
                Op::Dense {
                    out: shape.iter().product(),
                    bias: true,
                },
                Op::Reshape { shape },
            ];
            if last {
                ops.push(Op::Tanh);
            }
            (ops, named(INPUT_NAMES, WeightInit::Glorot))
        }
        Family::Program => {
            return Err(Error::InvalidConfig(
                "a program generator's layers are its program's".into(),
            ))
        }
    })
}

fn build_layer<T>(
    cfg: &GeneratorConfig,
    src: &mut dyn ParamSource<T>,
    p: &str,
    l: usize,
) -> Result<Layer<T>> {
    let mut s = src.pp(p); // g.bucket{i}.block{j}.layer{l}
    let shapes = cfg.layer_shapes();
    let input = match l {
        0 => [cfg.latent_dim, 1, 1],
        _ => shapes[l - 1],
    };
    if let Some(layers) = &cfg.program {
        return program::build(&layers[l], input, &mut s);
    }
    let (ops, naming) = family_layer(cfg, l)?;
    program::build_named(&ops, input, &mut s, naming)
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
        h = program::run(b, layer, &h)?;
    }
    Ok(h)
}

/// Runs one bucket with sample n going through block `col[n]`: samples grouped by block
/// ([`Backend::run_groups`]).
pub(crate) fn run_bucket<B: Backend>(
    b: &B,
    blocks: &[Block<B::Tensor>],
    x: &B::Tensor,
    col: &[usize],
) -> Result<B::Tensor> {
    if col.iter().all(|&j| j == col[0]) {
        return run_block(b, &blocks[col[0]], x);
    }
    let mut used = Vec::new();
    let mut groups = Vec::new();
    for (j, block) in blocks.iter().enumerate() {
        let samples: Vec<usize> = (0..col.len()).filter(|&n| col[n] == j).collect();
        if samples.is_empty() {
            continue;
        }
        let params = block.iter().flat_map(|l| program::params(l)).collect();
        groups.push(Group { samples, params });
        used.push(j);
    }
    b.run_groups(x, &groups, &|g, xs| run_block(b, &blocks[used[g]], xs))
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
