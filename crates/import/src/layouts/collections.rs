//! pytorch-gan-collections' SNGAN / WGAN-GP generators (`source/models/sngan.py`, the same
//! in `wgangp.py`; checkpoints hold them under `net_G`):
//!
//! - `Generator` ("cnn32"): `linear` to `[8n, M, M]`, then `main`: BatchNorm + ReLU (absent
//!   in older commits), transposed convolutions 4x4/2 each with BatchNorm + ReLU, a 3x3
//!   convolution and tanh. Buckets: the input, each transposed convolution, the output.
//! - `ResGenerator32` ("res32"): `linear` to `[C, 4, 4]`, residual `blocks.b` (`residual`:
//!   BatchNorm, ReLU, nearest 2x, 3x3 conv, BatchNorm, ReLU, 3x3 conv; `shortcut`: nearest 2x
//!   then a 1x1 conv), and `output` (BatchNorm, ReLU, 3x3 conv, tanh; `blocks.3`/`blocks.5`
//!   in older commits). Buckets: the input, each residual block, the output.

use ganscope_model::program::{Op, Resize};

use super::chain::mismatch;
use super::Signs;
use super::{
    assemble, dim, indices, is_batch_norm, module, sequential, Built, Chain, Layout, Settings,
};
use crate::state::StateDict;
use crate::Result;

/// The CNN generator.
pub const CNN: Layout = Layout {
    name: "gan-collections-cnn",
    about: "pytorch-gan-collections' SNGAN/WGAN-GP CNN generator (linear.*, main.N.*)",
    signs: Signs::Under(&["linear", "main"]),
    found: "linear.* and main.N.*: a linear input, transposed convolutions, a 3x3 output conv",
    build: build_cnn,
};

/// The ResNet generator.
pub const RESNET: Layout = Layout {
    name: "gan-collections-resnet",
    about:
        "pytorch-gan-collections' ResGenerator32 (linear.*, blocks.N.residual/shortcut.*, output.*)",
    signs: Signs::Keys(&["blocks.0.residual.0.running_mean"]),
    found: "linear.*, blocks.N.residual/shortcut.*: residual up-blocks with nearest up-sampling",
    build: build_resnet,
};

fn side(layout: &'static str, features: usize, channels: usize) -> Result<usize> {
    let s = ((features / channels.max(1)) as f64).sqrt().round() as usize;
    if s * s * channels != features {
        return Err(mismatch(
            layout,
            format!("{features} features are not {channels} square maps"),
        ));
    }
    Ok(s)
}

/// The input layer: `linear` viewed as `[C, S, S]`, `C` from the next BatchNorm or conv.
fn input(layout: &'static str, sd: &StateDict, channels: usize) -> Result<(Chain, usize)> {
    let mut c = Chain::new();
    let f = c.dense(layout, sd, "linear")?;
    let s = side(layout, f, channels)?;
    c.op(Op::Reshape {
        shape: [channels, s, s],
    });
    let latent = sd.params["linear.weight"].shape[1];
    Ok((c, latent))
}

fn build_cnn(sd: &StateDict, _: &mut Settings) -> Result<Built> {
    let name = CNN.name;
    let mods: Vec<_> = sequential(sd, "main").into_iter().collect();
    let Some((first, m0)) = mods.first() else {
        return Err(mismatch(name, "no main.N modules".into()));
    };
    let lead_bn = is_batch_norm(m0);
    let channels = if lead_bn {
        dim(sd, m0.get("running_mean"), 0)
    } else {
        dim(sd, m0.get("weight"), 0)
    };
    let (mut inp, latent) = input(name, sd, channels)?;
    let mut rest = &mods[..];
    if lead_bn {
        inp.bn(name, sd, &format!("main.{first}"))?;
        inp.op(Op::Relu);
        rest = &mods[1..];
    }
    let mut buckets = vec![vec![inp]];
    let mut i = 0;
    while i < rest.len() {
        let (k, _) = &rest[i];
        let last = i + 1 == rest.len();
        let mut c = Chain::new();
        if last {
            c.conv(name, sd, &format!("main.{k}"), false, 1, 1)?;
            c.op(Op::Tanh);
            i += 1;
        } else {
            c.conv(name, sd, &format!("main.{k}"), true, 2, 1)?;
            let (j, bn) = &rest[i + 1];
            if !is_batch_norm(bn) {
                return Err(mismatch(
                    name,
                    format!("main.{k} is not followed by a BatchNorm"),
                ));
            }
            c.bn(name, sd, &format!("main.{j}"))?;
            c.op(Op::Relu);
            i += 2;
        }
        buckets.push(vec![c]);
    }
    assemble(name, latent, None, buckets)
}

fn build_resnet(sd: &StateDict, _: &mut Settings) -> Result<Built> {
    let name = RESNET.name;
    let c0 = module(sd, "blocks.0.residual.0");
    let channels = dim(sd, c0.get("running_mean"), 0);
    let (inp, latent) = input(name, sd, channels)?;
    let mut buckets = vec![vec![inp]];
    let blocks: Vec<usize> = indices(sd, "blocks")
        .into_iter()
        .filter(|b| {
            sd.params
                .contains_key(&format!("blocks.{b}.residual.0.running_mean"))
        })
        .collect();
    for b in &blocks {
        let p = |s: &str| format!("blocks.{b}.{s}");
        let mut main = Chain::new();
        main.bn(name, sd, &p("residual.0"))?;
        main.op(Op::Relu).op(Op::Upsample {
            mode: Resize::Nearest,
        });
        main.conv(name, sd, &p("residual.3"), false, 1, 1)?;
        main.bn(name, sd, &p("residual.4"))?;
        main.op(Op::Relu);
        main.conv(name, sd, &p("residual.6"), false, 1, 1)?;
        let mut short = Chain::new();
        short.op(Op::Upsample {
            mode: Resize::Nearest,
        });
        short.conv(name, sd, &p("shortcut.1"), false, 1, 0)?;
        let mut c = Chain::new();
        c.residual(main, short);
        buckets.push(vec![c]);
    }
    // the output: `output.{0,2}`, or `blocks.{n,n+2}` in older commits
    let n = blocks.len();
    let (bn, conv) = if sd.params.contains_key("output.0.running_mean") {
        ("output.0".to_string(), "output.2".to_string())
    } else {
        (format!("blocks.{n}"), format!("blocks.{}", n + 2))
    };
    let mut out = Chain::new();
    out.bn(name, sd, &bn)?;
    out.op(Op::Relu);
    out.conv(name, sd, &conv, false, 1, 1)?;
    out.op(Op::Tanh);
    buckets.push(vec![out]);
    assemble(name, latent, None, buckets)
}
