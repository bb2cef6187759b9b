//! The DCGAN of the PyTorch examples and of the PyTorch DCGAN tutorial, and
//! pytorch-gan-collections' `dcgan.Generator`: an `nn.Sequential` `main` of transposed
//! convolutions (the first from the `[nz, 1, 1]` noise with stride 1 and no padding, any
//! kernel; then 4x4 with stride 2 and padding 1), each but the last followed by BatchNorm
//! and ReLU, the last by tanh. Any `nz`, `ngf`, `nc` and depth (32 to 128 px). One bucket
//! per transposed convolution: the sites are the feature maps after each BatchNorm + ReLU,
//! and the image.

use ganscope_model::program::Op;

use super::chain::mismatch;
use super::{assemble, is_batch_norm, sequential, Built, Chain, Layout, Settings, Signs};
use crate::state::StateDict;
use crate::Result;

/// The layout.
pub const LAYOUT: Layout = Layout {
    name: "pytorch-dcgan",
    about: "the PyTorch examples' and tutorial's DCGAN, and pytorch-gan-collections' DCGAN (main.N.* transposed convolutions)",
    signs: Signs::Under(&["main"]),
    found: "keys main.N.* of an nn.Sequential: transposed convolutions with BatchNorm between",
    build,
};

fn build(sd: &StateDict, _: &mut Settings) -> Result<Built> {
    let name = LAYOUT.name;
    let mods = sequential(sd, "main");
    let mut buckets = Vec::new();
    let mut latent = 0;
    let mut it = mods.iter().peekable();
    while let Some((i, m)) = it.next() {
        if is_batch_norm(m) {
            return Err(mismatch(
                name,
                format!("main.{i} is a BatchNorm with no convolution before it"),
            ));
        }
        let w = m
            .get("weight")
            .and_then(|k| sd.get(k))
            .ok_or_else(|| mismatch(name, format!("main.{i} has no weight")))?;
        let first = buckets.is_empty();
        if first {
            latent = w.shape.first().copied().unwrap_or(0);
        } else if w.shape.get(2) != Some(&4) {
            return Err(mismatch(
                name,
                format!("main.{i} has shape {:?}, not a 4x4 kernel", w.shape),
            ));
        }
        let (stride, padding) = if first { (1, 0) } else { (2, 1) };
        let mut c = Chain::new();
        let out = c.conv(name, sd, &format!("main.{i}"), true, stride, padding)?;
        match it.peek() {
            Some((j, bn)) if is_batch_norm(bn) => {
                if c.bn(name, sd, &format!("main.{j}"))? != out {
                    return Err(mismatch(
                        name,
                        format!("main.{j} normalises another channel count than main.{i} gives"),
                    ));
                }
                c.op(Op::Relu);
                it.next();
            }
            Some((j, _)) => {
                return Err(mismatch(
                    name,
                    format!("main.{i} is followed by main.{j}, not by a BatchNorm"),
                ))
            }
            None => {
                c.op(Op::Tanh);
            }
        }
        buckets.push(vec![c]);
    }
    if buckets.len() < 2 {
        return Err(mismatch(
            name,
            format!(
                "{} transposed convolutions; a DCGAN has at least 2",
                buckets.len()
            ),
        ));
    }
    assemble(name, latent, None, buckets)
}
