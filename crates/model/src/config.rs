//! Architecture configs: plain serde data with documented defaults.
//!
//! A generator is a chain of *layers* (the input linear layer, up-sampling layers, the output
//! layer). Consecutive layers are grouped into *buckets*; each bucket holds `blocks`
//! independent copies of its layers. A standard GAN is the special case of one block per
//! bucket and a noise input; an RPGAN (Random-Path GAN) has several blocks per bucket and a
//! learned constant input Z, so a path (one block index per bucket) is its only latent.

use crate::program::{self, Op};
use crate::{Error, Result};
use serde::{Deserialize, Serialize};

/// The backbone family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Family {
    /// linear -> [conv_transpose 4x4 s2 + BN + ReLU] x n -> conv_transpose -> tanh.
    Dcgan,
    /// linear -> residual up-blocks -> BN/ReLU -> conv 3x3 -> tanh (Miyato et al. 2018).
    SnResnet,
    /// Fully connected layers without nonlinearities, tanh only at the end (RPGAN paper,
    /// sec. 4.4 and Table 3): hidden layers output `[w, 1, 1]`, the last one the image.
    /// Consecutive buckets of such a generator can be merged by multiplying their matrices
    /// (`ganscope compress`). Its discriminator is the dcgan one.
    Linear,
    /// Any chain of layers, written out in [`GeneratorConfig::program`] (an imported
    /// generator; see [`crate::program`]). Not trained by ganscope.
    Program,
}

impl Family {
    /// The family's lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Family::Dcgan => "dcgan",
            Family::SnResnet => "snresnet",
            Family::Linear => "linear",
            Family::Program => "program",
        }
    }
}

/// One bucket: `layers` consecutive layers of the backbone, replicated `blocks` times.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BucketConfig {
    /// How many consecutive backbone layers the bucket holds.
    pub layers: usize,
    /// How many independent blocks (copies) the bucket holds.
    pub blocks: usize,
}

/// The generator architecture.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GeneratorConfig {
    /// Backbone family.
    pub family: Family,
    /// Output height = width: 28, 32 or 64.
    pub image_size: usize,
    /// Output channels: 1 (grey) or 3 (RGB).
    pub channels: usize,
    /// Size of the input vector (noise z, or the learned constant Z).
    pub latent_dim: usize,
    /// `true` for an RPGAN: the input is one learned constant Z, paths are the latent.
    pub constant_input: bool,
    /// Output channels of every layer but the last (the last outputs the image).
    pub widths: Vec<usize>,
    /// Grouping of the layers into buckets, first to last.
    pub buckets: Vec<BucketConfig>,
    /// [`Family::Program`] only: every layer's ops (`widths` is then empty).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub program: Option<Vec<Vec<Op>>>,
}

/// Limits that keep a config (possibly from an untrusted file) within reason.
const MAX_WIDTH: usize = 4096;
const MAX_BLOCKS: usize = 4096;
const MAX_LATENT: usize = 65536;
const MAX_LINEAR_LAYERS: usize = 64;

/// Layers of the default linear generator: `latent -> w -> 2w -> 4w -> 8w -> image`.
pub const LINEAR_LAYERS: usize = 5;

/// Number of backbone layers and the side of the first feature map for a family and size
/// (for [`Family::Linear`], the default depth [`LINEAR_LAYERS`]; a config's own depth is
/// [`GeneratorConfig::layers`]).
pub fn layer_count(family: Family, image_size: usize) -> Result<(usize, usize)> {
    let start = match image_size {
        28 => 7,
        32 | 64 => 4,
        s => {
            return Err(Error::InvalidConfig(format!(
                "image size {s} is not supported (use 28, 32 or 64)"
            )))
        }
    };
    let ups = (image_size / start).trailing_zeros() as usize;
    // dcgan: input + (ups - 1) hidden up-convs + output up-conv; snresnet: input + ups res-blocks + output conv
    Ok(match family {
        Family::Dcgan => (ups + 1, start),
        Family::SnResnet => (ups + 2, start),
        Family::Linear => (LINEAR_LAYERS, 1),
        Family::Program => {
            return Err(Error::InvalidConfig(
                "a program generator's layers are its program's".into(),
            ))
        }
    })
}

/// Groups `n` layers into `buckets` contiguous buckets as evenly as possible (later buckets
/// get the extra layers).
pub fn group_layers(n: usize, buckets: usize, blocks: usize) -> Result<Vec<BucketConfig>> {
    if buckets == 0 || buckets > n {
        return Err(Error::InvalidConfig(format!(
            "this backbone has {n} layers, so the number of buckets must be 1..={n} (got {buckets})"
        )));
    }
    Ok((0..buckets)
        .map(|i| BucketConfig {
            layers: n / buckets + usize::from(i >= buckets - n % buckets),
            blocks,
        })
        .collect())
}

/// The Random-Path GAN shape of a generator (Voynov & Babenko): its layers grouped into
/// `buckets` buckets of `blocks` independent blocks each, fed by a learned constant.
/// Stored (in checkpoints' options) as the pair `[buckets, blocks]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "(usize, usize)", into = "(usize, usize)")]
pub struct Rpgan {
    /// Buckets (consecutive groups of layers).
    pub buckets: usize,
    /// Blocks per bucket.
    pub blocks: usize,
}

impl Rpgan {
    /// `buckets` buckets of `blocks` blocks.
    pub fn new(buckets: usize, blocks: usize) -> Self {
        Rpgan { buckets, blocks }
    }
}

impl From<(usize, usize)> for Rpgan {
    fn from((buckets, blocks): (usize, usize)) -> Self {
        Rpgan { buckets, blocks }
    }
}

impl From<Rpgan> for (usize, usize) {
    fn from(r: Rpgan) -> Self {
        (r.buckets, r.blocks)
    }
}

impl GeneratorConfig {
    /// The default generator for a family and image: `width` sets the channel count
    /// (dcgan: widths 4w, 2w, w, ...; snresnet: w everywhere; linear: w, 2w, 4w, 8w, the
    /// RPGAN paper's Table 3 at w = 128); one bucket per layer.
    pub fn new(
        family: Family,
        image_size: usize,
        channels: usize,
        width: usize,
        rpgan: Option<Rpgan>,
    ) -> Result<Self> {
        let (n, _) = layer_count(family, image_size)?;
        if width == 0 || width > MAX_WIDTH {
            return Err(Error::InvalidConfig(format!(
                "width {width} is outside 1..={MAX_WIDTH}"
            )));
        }
        let widths = (0..n - 1)
            .map(|i| match family {
                Family::Dcgan => width << (n - 2 - i),
                Family::SnResnet => width,
                Family::Linear | Family::Program => width << i,
            })
            .collect();
        let (buckets, blocks, constant_input) = match rpgan {
            Some(r) => (r.buckets, r.blocks, true),
            None => (n, 1, false),
        };
        let cfg = GeneratorConfig {
            family,
            image_size,
            channels,
            latent_dim: 128,
            constant_input,
            widths,
            buckets: group_layers(n, buckets, blocks)?,
            program: None,
        };
        cfg.validate()?;
        Ok(cfg)
    }

    /// Checks every field; a config from a file goes through this before anything is built.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::InvalidConfig(m));
        match (self.family, &self.program) {
            (Family::Program, Some(layers)) => return self.validate_program(layers),
            (Family::Program, None) => return bad("a program generator without a program".into()),
            (f, Some(_)) => return bad(format!("a {} generator with a program", f.name())),
            _ => {}
        }
        layer_count(self.family, self.image_size)?;
        if self.family == Family::Linear && self.widths.len() >= MAX_LINEAR_LAYERS {
            return bad(format!(
                "a linear generator has at most {MAX_LINEAR_LAYERS} layers, not {}",
                self.widths.len() + 1
            ));
        }
        let (n, _) = self.layers()?;
        if !matches!(self.channels, 1 | 3) {
            return bad(format!("channels must be 1 or 3, not {}", self.channels));
        }
        if self.latent_dim == 0 || self.latent_dim > MAX_LATENT {
            return bad(format!(
                "latent_dim {} is outside 1..={MAX_LATENT}",
                self.latent_dim
            ));
        }
        if self.widths.len() != n - 1 {
            return bad(format!(
                "a {} generator at {}x{} has {n} layers and needs {} widths, not {}",
                self.family.name(),
                self.image_size,
                self.image_size,
                n - 1,
                self.widths.len()
            ));
        }
        if let Some(w) = self.widths.iter().find(|&&w| w == 0 || w > MAX_WIDTH) {
            return bad(format!("width {w} is outside 1..={MAX_WIDTH}"));
        }
        if self.family == Family::SnResnet && self.widths.windows(2).any(|p| p[0] != p[1]) {
            return bad("snresnet widths must all be equal".into());
        }
        self.validate_buckets(n)
    }

    /// The buckets cover the `n` layers exactly, each with 1..=MAX_BLOCKS blocks.
    fn validate_buckets(&self, n: usize) -> Result<()> {
        let bad = |m: String| Err(Error::InvalidConfig(m));
        let total: usize = self.buckets.iter().map(|b| b.layers).sum();
        if total != n || self.buckets.iter().any(|b| b.layers == 0) {
            return bad(format!(
                "the buckets must cover the {n} layers exactly, each at least one (they cover {total})"
            ));
        }
        if let Some(b) = self
            .buckets
            .iter()
            .find(|b| b.blocks == 0 || b.blocks > MAX_BLOCKS)
        {
            return bad(format!(
                "{} blocks in a bucket is outside 1..={MAX_BLOCKS}",
                b.blocks
            ));
        }
        Ok(())
    }

    /// The checks of a program generator: its layers, the buckets over them, the image.
    fn validate_program(&self, layers: &[Vec<Op>]) -> Result<()> {
        let bad = |m: String| Err(Error::InvalidConfig(m));
        if self.latent_dim == 0 || self.latent_dim > MAX_LATENT {
            return bad(format!(
                "latent_dim {} is outside 1..={MAX_LATENT}",
                self.latent_dim
            ));
        }
        if !self.widths.is_empty() {
            return bad("a program generator has no widths".into());
        }
        let ops: usize = layers.iter().map(|l| program::op_count(l)).sum();
        if layers.is_empty() || layers.iter().any(|l| l.is_empty()) || ops > program::MAX_OPS {
            return bad(format!(
                "a program needs 1 or more layers of at least one op each, {} ops in all",
                program::MAX_OPS
            ));
        }
        let mut s = [self.latent_dim, 1, 1];
        for (i, l) in layers.iter().enumerate() {
            s = program::chain_shape(l, s, 0)
                .map_err(|e| Error::InvalidConfig(format!("layer {}: {e}", i + 1)))?;
        }
        let want = [self.channels, self.image_size, self.image_size];
        if s != want || !matches!(self.channels, 1 | 3) {
            return bad(format!(
                "the program draws {s:?}; the config says {want:?} (1 or 3 channels, square)"
            ));
        }
        self.validate_buckets(layers.len())
    }

    /// Number of backbone layers and the side of the first feature map: the family's for
    /// the convolutional ones, `widths + 1` layers of side 1 for a linear generator, the
    /// program's layers (from `[latent_dim, 1, 1]`) for a program.
    pub fn layers(&self) -> Result<(usize, usize)> {
        match self.family {
            Family::Program => match &self.program {
                Some(p) => Ok((p.len(), 1)),
                None => Err(Error::InvalidConfig(
                    "a program generator without a program".into(),
                )),
            },
            Family::Linear => {
                layer_count(self.family, self.image_size)?;
                Ok((self.widths.len() + 1, 1))
            }
            f => layer_count(f, self.image_size),
        }
    }

    /// Blocks per bucket.
    pub fn blocks(&self) -> Vec<usize> {
        self.buckets.iter().map(|b| b.blocks).collect()
    }

    /// `true` when some bucket has more than one block (random paths exist).
    pub fn is_rpgan(&self) -> bool {
        self.buckets.iter().any(|b| b.blocks > 1) || self.constant_input
    }

    /// The shape of every intermediate activation of one sample, the ops inside a program's
    /// layers included (what the largest buffer must hold).
    pub fn activation_shapes(&self) -> Vec<[usize; 3]> {
        match &self.program {
            Some(p) => {
                let mut s = [self.latent_dim, 1, 1];
                let mut all = Vec::new();
                for l in p {
                    all.extend(program::all_shapes(l, s));
                    s = *all.last().unwrap_or(&s);
                }
                all
            }
            None => self.layer_shapes(),
        }
    }

    /// The output shape `[C, H, W]` of every layer, first to last.
    pub fn layer_shapes(&self) -> Vec<[usize; 3]> {
        if let Some(p) = &self.program {
            let mut s = [self.latent_dim, 1, 1];
            return p
                .iter()
                .map_while(|l| {
                    s = program::chain_shape(l, s, 0).ok()?;
                    Some(s)
                })
                .collect();
        }
        let (n, start) = self.layers().unwrap_or((0, 1));
        let mut side = start;
        (0..n)
            .map(|i| {
                let up = match self.family {
                    Family::Dcgan => i > 0,
                    Family::SnResnet => i > 0 && i + 1 < n,
                    Family::Linear | Family::Program => false,
                };
                if self.family == Family::Linear && i + 1 == n {
                    side = self.image_size;
                }
                if up {
                    side *= 2;
                }
                let c = if i + 1 == n {
                    self.channels
                } else {
                    self.widths[i]
                };
                [c, side, side]
            })
            .collect()
    }
}

/// How a discriminator's layers are normalised in training.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DNorm {
    /// Every weight spectrally normalised (Miyato et al. 2018; one power iteration a step).
    #[default]
    Spectral,
    /// DCGAN's (Radford et al. 2016): no spectral norm, BatchNorm in training mode after
    /// every convolution but the first (dcgan family only). Real and fake images go through
    /// it as separate batches, so neither's statistics leak into the other's.
    Batch,
}

impl DNorm {
    /// How a person reads it: `spectral norm` or `BatchNorm`.
    pub fn label(self) -> &'static str {
        match self {
            DNorm::Spectral => "spectral norm",
            DNorm::Batch => "BatchNorm",
        }
    }
}

/// The discriminator architecture (always a standard network).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DiscriminatorConfig {
    /// Backbone family.
    pub family: Family,
    /// Input height = width.
    pub image_size: usize,
    /// Input channels.
    pub channels: usize,
    /// dcgan: output channels of each 4x4 stride-2 conv (each halves the side);
    /// snresnet: channels of each res-block.
    pub widths: Vec<usize>,
    /// Outputs of the linear head: 1 for a GAN discriminator, the class count for a
    /// classifier (1..=1000).
    #[serde(default = "one_output")]
    pub outputs: usize,
    /// Normalisation in training (files written before it was a choice: spectral). A
    /// classifier trains without either and ignores it.
    #[serde(default)]
    pub norm: DNorm,
}

/// Most outputs a discriminator head may have (a classifier's classes).
pub const MAX_OUTPUTS: usize = 1000;

fn one_output() -> usize {
    1
}

impl DiscriminatorConfig {
    /// The default discriminator matching a generator: dcgan widths w, 2w, 4w, ...;
    /// snresnet four res-blocks of width w.
    pub fn new(family: Family, image_size: usize, channels: usize, width: usize) -> Result<Self> {
        if width == 0 || width > MAX_WIDTH {
            return Err(Error::InvalidConfig(format!(
                "width {width} is outside 1..={MAX_WIDTH}"
            )));
        }
        // a linear or program generator is judged by the dcgan discriminator
        let family = match family {
            Family::Linear | Family::Program => Family::Dcgan,
            f => f,
        };
        let (n, _) = layer_count(family, image_size)?;
        let widths = match family {
            Family::SnResnet => vec![width; 4],
            _ => (0..n - 1).map(|i| width << i).collect(),
        };
        let cfg = DiscriminatorConfig {
            family,
            image_size,
            channels,
            widths,
            outputs: 1,
            norm: DNorm::Spectral,
        };
        cfg.validate()?;
        Ok(cfg)
    }

    /// Checks every field.
    pub fn validate(&self) -> Result<()> {
        layer_count(self.family, self.image_size)?;
        if matches!(self.family, Family::Linear | Family::Program) {
            return Err(Error::InvalidConfig(
                "a discriminator is dcgan or snresnet".into(),
            ));
        }
        if !(1..=MAX_OUTPUTS).contains(&self.outputs) {
            return Err(Error::InvalidConfig(format!(
                "{} discriminator outputs is outside 1..={MAX_OUTPUTS}",
                self.outputs
            )));
        }
        if !matches!(self.channels, 1 | 3) {
            return Err(Error::InvalidConfig("channels must be 1 or 3".into()));
        }
        if self.widths.is_empty()
            || self.widths.len() > 8
            || self.widths.iter().any(|&w| w == 0 || w > MAX_WIDTH)
        {
            return Err(Error::InvalidConfig(format!(
                "discriminator widths {:?} must be 1..=8 values in 1..={MAX_WIDTH}",
                self.widths
            )));
        }
        if self.family == Family::Dcgan && self.image_size >> self.widths.len() == 0 {
            return Err(Error::InvalidConfig(format!(
                "{} stride-2 convs leave nothing of a {}x{} image",
                self.widths.len(),
                self.image_size,
                self.image_size
            )));
        }
        if self.norm == DNorm::Batch && self.family != Family::Dcgan {
            return Err(Error::InvalidConfig(
                "a BatchNorm discriminator is dcgan only (snresnet's is spectrally normalised)"
                    .into(),
            ));
        }
        if self.family == Family::SnResnet && self.widths.len() < 2 {
            return Err(Error::InvalidConfig(
                "an snresnet discriminator needs at least 2 blocks".into(),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configs_out_of_reach_are_refused() {
        let d = |widths: Vec<usize>| DiscriminatorConfig {
            family: Family::Dcgan,
            image_size: 32,
            channels: 3,
            widths,
            outputs: 1,
            norm: DNorm::Spectral,
        };
        assert!(d(vec![8; 5]).validate().is_ok(), "32 -> 1 after five convs");
        for (outputs, ok) in [(0, false), (10, true), (1000, true), (1001, false)] {
            let c = DiscriminatorConfig {
                outputs,
                ..d(vec![8; 3])
            };
            assert_eq!(c.validate().is_ok(), ok, "{outputs} outputs");
        }
        assert!(
            d(vec![8; 6]).validate().is_err(),
            "six stride-2 convs leave nothing of 32x32"
        );
        let huge = usize::MAX / 2 + 2;
        assert!(
            GeneratorConfig::new(Family::Dcgan, 32, 3, huge, None).is_err(),
            "no silent overflow"
        );
        assert!(DiscriminatorConfig::new(Family::Dcgan, 32, 3, 0).is_err());
        assert!(group_layers(4, 5, 2).is_err() && group_layers(4, 0, 2).is_err());
        let layers: Vec<usize> = group_layers(5, 2, 3)
            .expect("ok")
            .iter()
            .map(|b| b.layers)
            .collect();
        assert_eq!(layers, vec![2, 3]);
    }
}
