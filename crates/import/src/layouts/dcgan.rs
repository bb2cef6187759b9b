//! The DCGAN of the PyTorch examples and of the PyTorch DCGAN tutorial: an `nn.Sequential`
//! `main` of transposed convolutions without bias (4x4; the first stride 1 padding 0 from the
//! `[nz, 1, 1]` noise, the others stride 2 padding 1), each but the last followed by
//! BatchNorm and ReLU, the last by tanh. Any `nz`, `ngf`, `nc` and depth (32 to 128 px).
//! One bucket per transposed convolution: the sites are the feature maps after each
//! BatchNorm + ReLU, and the image.

use std::collections::BTreeMap;

use ganscope_model::config::{BucketConfig, Family, GeneratorConfig};
use ganscope_model::program::Op;

use super::{is_batch_norm, sequential, Built, Layout, Settings};
use crate::state::StateDict;
use crate::{ImportError, Result};

/// The layout.
pub const LAYOUT: Layout = Layout {
    name: "pytorch-dcgan",
    about: "the PyTorch examples' and tutorial's DCGAN (main.N.* of an nn.Sequential)",
    detect,
    build,
};

fn detect(sd: &StateDict) -> std::result::Result<String, String> {
    if let Some(k) = sd.params.keys().find(|k| !k.starts_with("main.")) {
        return Err(format!("`{k}` is not under main.N"));
    }
    let b = build(sd, &mut Settings::default()).map_err(|e| e.to_string())?;
    let chans: Vec<String> = b
        .config
        .layer_shapes()
        .iter()
        .map(|s| s[0].to_string())
        .collect();
    Ok(format!(
        "keys main.N.* of an nn.Sequential: {} transposed convolutions ({} -> {}) with BatchNorm between, {}x{} output",
        chans.len(),
        b.config.latent_dim,
        chans.join(" -> "),
        b.config.image_size,
        b.config.image_size
    ))
}

fn mismatch(why: String) -> ImportError {
    ImportError::Mismatch {
        layout: LAYOUT.name,
        why,
    }
}

fn build(sd: &StateDict, _: &mut Settings) -> Result<Built> {
    let mods = sequential(sd, "main");
    let mut map = BTreeMap::new();
    let mut layers: Vec<Vec<Op>> = Vec::new();
    let mut cin = None;
    let mut latent_dim = 0;
    let mut it = mods.iter().peekable();
    while let Some((i, m)) = it.next() {
        let wkey = m
            .get("weight")
            .filter(|_| !is_batch_norm(m))
            .ok_or_else(|| mismatch(format!("main.{i} is not a transposed convolution")))?;
        let w = &sd.params[wkey];
        let [ci, co, k, k2] = w.shape[..] else {
            return Err(mismatch(format!("main.{i}.weight has shape {:?}", w.shape)));
        };
        if k != k2 || k != 4 {
            return Err(mismatch(format!("main.{i} has a {k}x{k2} kernel, not 4x4")));
        }
        if cin.is_some_and(|c| c != ci) {
            return Err(mismatch(format!(
                "main.{i} takes {ci} channels; the layer before gives {}",
                cin.unwrap_or(0)
            )));
        }
        let l = layers.len() + 1;
        if l == 1 {
            latent_dim = ci;
        }
        let prefix = format!("g.bucket{l}.block0.layer{l}");
        let (stride, padding) = if l == 1 { (1, 0) } else { (2, 1) };
        let bias = m.contains_key("bias");
        let mut ops = vec![Op::ConvTranspose {
            out: co,
            kernel: k,
            stride,
            padding,
            bias,
        }];
        for (p, key) in m {
            map.insert(format!("{prefix}.0.{p}"), key.clone());
        }
        match it.peek() {
            Some((j, bn)) if is_batch_norm(bn) => {
                for (p, key) in *bn {
                    map.insert(format!("{prefix}.1.{p}"), key.clone());
                }
                if sd.params[&bn["running_mean"]].shape != [co] {
                    return Err(mismatch(format!(
                        "main.{j} normalises another channel count than main.{i} gives"
                    )));
                }
                ops.extend([Op::BatchNorm, Op::Relu]);
                it.next();
            }
            Some((j, _)) => {
                return Err(mismatch(format!(
                    "main.{i} is followed by main.{j}, not by a BatchNorm"
                )))
            }
            None => ops.push(Op::Tanh),
        }
        layers.push(ops);
        cin = Some(co);
    }
    if layers.len() < 2 {
        return Err(mismatch(format!(
            "{} transposed convolutions; a DCGAN has at least 2",
            layers.len()
        )));
    }
    let channels = cin.unwrap_or(0);
    let image_size = 4 << (layers.len() - 1);
    let config = GeneratorConfig {
        family: Family::Program,
        image_size,
        channels,
        latent_dim,
        constant_input: false,
        widths: Vec::new(),
        buckets: vec![
            BucketConfig {
                layers: 1,
                blocks: 1
            };
            layers.len()
        ],
        program: Some(layers),
    };
    config.validate()?;
    Ok(Built { config, map })
}
