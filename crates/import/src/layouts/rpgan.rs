//! The RPGAN authors' generators (`anvoynov/RandomPathGAN`, `lib/`): a `PathGenerator` whose
//! `const_noise` is the learned constant input and whose `model` is an `nn.Sequential` with
//! buckets `model.K` (`BlocksBunch`: `model.K.blocks.I.*`; block I of a bucket is the
//! authors' `blocks.I`, so a path written in their code selects the same blocks here). A
//! layer shared by every path between buckets (their shared BatchNorm) goes into each block
//! of the bucket it belongs to, with the same weights.
//!
//! - `rpgan-resnet` (`sn_gen_resnet.py`): a linear bucket viewed as `[C0, 4, 4]`, residual
//!   buckets (`ResBlockGenerator`: [bn1], LeakyReLU(leak), nearest 2x, 3x3 `conv1`, [bn2],
//!   LeakyReLU(leak), 3x3 `conv2`; bypass: nearest 2x, and a 3x3 conv when the widths
//!   differ; its `model.N` keys repeat `bn1`/`conv1`/`bn2`/`conv2`), then the shared
//!   BatchNorm and ReLU, a bucket of 3x3 output convs, tanh.
//! - `rpgan-fc` (`sn_gen_fc.py`): buckets of linear layers with LeakyReLU(leak), each
//!   followed by an optional shared BatchNorm1d, a last linear bucket, tanh, viewed as a
//!   `channels x S x S` image.
//!
//! The LeakyReLU slope is not in the state dict: `--set leak=0.2` (default 0, their default).

use ganscope_model::program::{Op, Resize};

use super::chain::mismatch;
use super::Signs;
use super::{assemble, dim, indices, is_batch_norm, module, Built, Chain, Layout, Settings};
use crate::state::StateDict;
use crate::Result;

/// The ResNet generators.
pub const RESNET: Layout = Layout {
    name: "rpgan-resnet",
    about: "the RPGAN authors' ResNet generators (const_noise, model.K.blocks.I.{conv1,conv2,bypass}.*)",
    signs: Signs::Keys(&["const_noise", "model.2.blocks.0.conv1.weight"]),
    found: "const_noise, model.K.blocks.I.*: an RPGAN of residual buckets",
    build: build_resnet,
};

/// The fully connected generator.
pub const FC: Layout = Layout {
    name: "rpgan-fc",
    about: "the RPGAN authors' fully connected generator (const_noise, model.K.blocks.I.0.*); --set leak=, channels=",
    signs: Signs::Keys(&["const_noise", "model.0.blocks.0.0.weight"]),
    found: "const_noise, model.K.blocks.I.0.*: a fully connected RPGAN",
    build: build_fc,
};

fn act(leak: f32) -> Op {
    if leak == 0.0 {
        Op::Relu
    } else {
        Op::LeakyRelu { slope: leak }
    }
}

/// `const_noise` as the constant input: its width.
fn constant(layout: &'static str, sd: &StateDict) -> Result<usize> {
    let c = sd.get("const_noise").ok_or_else(|| {
        mismatch(
            layout,
            "no const_noise (a generator trained with --nonfixed_noise has none)".into(),
        )
    })?;
    match c.shape[..] {
        [1, d] => Ok(d),
        _ => Err(mismatch(
            layout,
            format!(
                "const_noise has shape {:?}; one constant [1, D] is supported",
                c.shape
            ),
        )),
    }
}

fn blocks_of(sd: &StateDict, bucket: usize) -> Vec<usize> {
    indices(sd, &format!("model.{bucket}.blocks"))
}

fn build_resnet(sd: &StateDict, set: &mut Settings) -> Result<Built> {
    let name = RESNET.name;
    let leak = set.take_f32("leak")?.unwrap_or(0.0);
    let latent = constant(name, sd)?;
    let mut aliases = Vec::new();
    let first = module(sd, "model.2.blocks.0.conv1");
    let c0 = dim(sd, first.get("weight"), 1);
    let mut buckets = Vec::new();
    let mut input = Vec::new();
    for i in blocks_of(sd, 0) {
        let mut c = Chain::new();
        c.dense(name, sd, &format!("model.0.blocks.{i}"))?;
        c.op(Op::Reshape { shape: [c0, 4, 4] });
        input.push(c);
    }
    buckets.push(input);
    let mut k = 2;
    while sd
        .params
        .contains_key(&format!("model.{k}.blocks.0.conv1.weight"))
    {
        let mut bucket = Vec::new();
        for i in blocks_of(sd, k) {
            let p = |s: &str| format!("model.{k}.blocks.{i}.{s}");
            let bn = sd.params.contains_key(&p("bn1.running_mean"));
            let mut main = Chain::new();
            if bn {
                main.bn(name, sd, &p("bn1"))?;
            }
            main.op(act(leak)).op(Op::Upsample {
                mode: Resize::Nearest,
            });
            main.conv(name, sd, &p("conv1"), false, 1, 1)?;
            if bn {
                main.bn(name, sd, &p("bn2"))?;
            }
            main.op(act(leak));
            main.conv(name, sd, &p("conv2"), false, 1, 1)?;
            let mut short = Chain::new();
            short.op(Op::Upsample {
                mode: Resize::Nearest,
            });
            if sd.params.contains_key(&p("bypass.1.weight")) {
                short.conv(name, sd, &p("bypass.1"), false, 1, 1)?;
            }
            // the block's `model` Sequential holds the same modules again
            for (dup, orig) in [
                ("model.0", "bn1"),
                ("model.3", "conv1"),
                ("model.4", "bn2"),
                ("model.6", "conv2"),
            ] {
                for (param, key) in module(sd, &p(dup)) {
                    aliases.push((key, p(&format!("{orig}.{param}"))));
                }
            }
            let mut c = Chain::new();
            c.residual(main, short);
            bucket.push(c);
        }
        buckets.push(bucket);
        k += 1;
    }
    // the shared BatchNorm (model.k), ReLU (model.k+1), the output convs (model.k+2), tanh
    if !is_batch_norm(&module(sd, &format!("model.{k}"))) {
        return Err(mismatch(name, format!("no shared BatchNorm at model.{k}")));
    }
    let mut out = Vec::new();
    for i in blocks_of(sd, k + 2) {
        let mut c = Chain::new();
        c.bn(name, sd, &format!("model.{k}"))?;
        c.op(Op::Relu);
        c.conv(
            name,
            sd,
            &format!("model.{}.blocks.{i}", k + 2),
            false,
            1,
            1,
        )?;
        c.op(Op::Tanh);
        out.push(c);
    }
    buckets.push(out);
    let mut b = assemble(name, latent, Some("const_noise"), buckets)?;
    b.aliases = aliases;
    Ok(b)
}

fn build_fc(sd: &StateDict, set: &mut Settings) -> Result<Built> {
    let name = FC.name;
    let leak = set.take_f32("leak")?.unwrap_or(0.0);
    let channels = set.take_usize("channels")?.unwrap_or(1);
    let latent = constant(name, sd)?;
    let mut buckets = Vec::new();
    let mut k = 0;
    // hidden buckets: model.k.blocks.I.0 (Linear) with the activation, then model.k+1
    while sd
        .params
        .contains_key(&format!("model.{k}.blocks.0.0.weight"))
    {
        let norm = format!("model.{}", k + 1);
        let bn = is_batch_norm(&module(sd, &norm));
        let mut bucket = Vec::new();
        for i in blocks_of(sd, k) {
            let mut c = Chain::new();
            c.dense(name, sd, &format!("model.{k}.blocks.{i}.0"))?;
            c.op(act(leak));
            if bn {
                c.bn(name, sd, &norm)?;
            }
            bucket.push(c);
        }
        buckets.push(bucket);
        k += 2;
    }
    let mut out = Vec::new();
    for i in blocks_of(sd, k) {
        let mut c = Chain::new();
        let f = c.dense(name, sd, &format!("model.{k}.blocks.{i}"))?;
        let s = ((f / channels.max(1)) as f64).sqrt().round() as usize;
        if s * s * channels != f {
            return Err(mismatch(
                name,
                format!("{f} outputs are not a square {channels}-channel image (--set channels=)"),
            ));
        }
        c.op(Op::Tanh).op(Op::Reshape {
            shape: [channels, s, s],
        });
        out.push(c);
    }
    if out.is_empty() || buckets.is_empty() {
        return Err(mismatch(name, format!("no output bucket at model.{k}")));
    }
    buckets.push(out);
    assemble(name, latent, Some("const_noise"), buckets)
}
