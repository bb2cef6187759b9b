//! The discriminator, written once over [`Backend`]. It is always a standard network. With
//! [`DNorm::Spectral`] every weight reaches it spectrally normalised during training (the
//! training crate's parameter source divides by sigma), and exported files hold the
//! normalised weights, so inference needs no power iteration. With [`DNorm::Batch`] (dcgan
//! only) BatchNorm follows every convolution but the first.

use crate::backend::{Activation, Backend, BatchNormParams, ParamSource};
use crate::config::{DNorm, DiscriminatorConfig, Family};
use crate::layers::{batch_norm, Conv, ConvSpec, Linear, WeightInit};
use crate::Result;

/// Slope of the dcgan discriminator's LeakyReLU.
pub const LRELU_SLOPE: f32 = 0.1;

/// One SN-ResNet discriminator block.
#[derive(Clone, Debug)]
pub struct ResDown<T> {
    conv1: Conv<T>,
    conv2: Conv<T>,
    shortcut: Option<Conv<T>>,
    down: bool,
    first: bool,
}

/// The discriminator's layers.
#[derive(Clone, Debug)]
pub enum Body<T> {
    /// One 4x4 stride-2 conv per width, each followed by its BatchNorm if it has one, then
    /// LeakyReLU; then a linear head.
    Dcgan(Vec<(Conv<T>, Option<BatchNormParams<T>>)>),
    /// Residual down-blocks.
    SnResnet(Vec<ResDown<T>>),
}

/// A discriminator with its parameters in backend tensors.
#[derive(Clone, Debug)]
pub struct Discriminator<T> {
    /// The architecture.
    pub config: DiscriminatorConfig,
    body: Body<T>,
    head: Linear<T>,
}

impl<T: Clone> Discriminator<T> {
    /// Builds the discriminator, taking every parameter (`d.*`) from `src`.
    pub fn new(cfg: &DiscriminatorConfig, src: &mut dyn ParamSource<T>) -> Result<Self> {
        cfg.validate()?;
        let wi = WeightInit::Glorot;
        let mut d = src.pp("d");
        let (body, feat) = match cfg.family {
            // `validate` refuses a linear or program discriminator
            Family::Dcgan | Family::Linear | Family::Program => {
                let mut cin = cfg.channels;
                let mut side = cfg.image_size;
                let mut convs = Vec::new();
                for (i, &w) in cfg.widths.iter().enumerate() {
                    let mut c = d.pp(&format!("conv{}", i + 1));
                    let conv = Conv::new(&mut c, ConvSpec::down4(cin, w), wi)?;
                    let bn = match cfg.norm {
                        DNorm::Batch if i > 0 => Some(batch_norm(&mut c.pp("bn"), w)?),
                        _ => None,
                    };
                    convs.push((conv, bn));
                    cin = w;
                    side /= 2;
                }
                (Body::Dcgan(convs), cin * side * side)
            }
            Family::SnResnet => {
                let n_down = if cfg.image_size == 64 { 3 } else { 2 };
                let mut cin = cfg.channels;
                let mut blocks = Vec::new();
                for (i, &w) in cfg.widths.iter().enumerate() {
                    let mut b = d.pp(&format!("block{}", i + 1));
                    let down = i < n_down;
                    blocks.push(ResDown {
                        conv1: Conv::new(&mut b.pp("conv1"), ConvSpec::same(cin, w, 3), wi)?,
                        conv2: Conv::new(&mut b.pp("conv2"), ConvSpec::same(w, w, 3), wi)?,
                        shortcut: if down || cin != w {
                            Some(Conv::new(
                                &mut b.pp("shortcut"),
                                ConvSpec::same(cin, w, 1),
                                wi,
                            )?)
                        } else {
                            None
                        },
                        down,
                        first: i == 0,
                    });
                    cin = w;
                }
                (Body::SnResnet(blocks), cin)
            }
        };
        let head = Linear::new(&mut d.pp("linear"), feat, cfg.outputs, wi)?;
        Ok(Discriminator {
            config: cfg.clone(),
            body,
            head,
        })
    }

    /// `x [N, C, S, S]` -> (logits `[N, outputs]`, penultimate features `[N, F]`).
    pub fn forward<B: Backend<Tensor = T>>(&self, b: &B, x: &T) -> Result<(T, T)> {
        let feats = match &self.body {
            Body::Dcgan(convs) => {
                let mut h = x.clone();
                let act = Activation::LeakyRelu(LRELU_SLOPE);
                for (c, bn) in convs {
                    h = c.forward(b, &h)?; // [N, W, S/2, S/2]
                    h = match bn {
                        Some(bn) => b.batch_norm_act(&h, bn, act)?,
                        None => b.activation(&h, act)?,
                    };
                }
                let d = b.dims(&h);
                b.reshape(&h, &[d[0], d[1] * d[2] * d[3]])? // [N, F]
            }
            Body::SnResnet(blocks) => {
                let mut h = x.clone();
                for blk in blocks {
                    h = blk.forward(b, &h)?; // [N, W, S', S']
                }
                let h = b.activation(&h, Activation::Relu)?;
                b.sum_spatial(&h)? // [N, W]
            }
        };
        let logits = self.head.forward(b, &feats)?; // [N, outputs]
        Ok((logits, feats))
    }
}

impl<T: Clone> ResDown<T> {
    fn forward<B: Backend<Tensor = T>>(&self, b: &B, x: &T) -> Result<T> {
        let h = if self.first {
            x.clone()
        } else {
            b.activation(x, Activation::Relu)?
        };
        let h = self.conv1.forward(b, &h)?; // [N, W, H, W]
        let h = b.activation(&h, Activation::Relu)?;
        let mut h = self.conv2.forward(b, &h)?; // [N, W, H, W]
        let mut s = x.clone();
        if self.down {
            h = b.avg_pool2x(&h)?; // [N, W, H/2, W/2]
        }
        if self.first {
            s = b.avg_pool2x(&s)?; // pool first, then 1x1 conv (Miyato's optimized block)
        }
        if let Some(sc) = &self.shortcut {
            s = sc.forward(b, &s)?; // [N, W, ., .]
        }
        if self.down && !self.first {
            s = b.avg_pool2x(&s)?;
        }
        b.add(&h, &s)
    }
}
