//! Building a layout's program one module at a time: [`Chain`] is one block of one layer,
//! its ops and the checkpoint key of each of its tensors; [`assemble`] turns buckets of such
//! blocks into the generator config and the full tensor map.

use std::collections::BTreeMap;

use ganscope_model::config::{BucketConfig, Family, GeneratorConfig};
use ganscope_model::program::{chain_shape, Op};

use super::{is_batch_norm, module, Built};
use crate::state::StateDict;
use crate::{ImportError, Result};

/// One block of a layer: its ops and, per tensor (`{op}.{param}`, nested for residual
/// chains), the checkpoint key.
#[derive(Clone, Debug, Default)]
pub struct Chain {
    /// The ops.
    pub ops: Vec<Op>,
    /// `(suffix, key)`.
    pub map: Vec<(String, String)>,
}

/// A mismatch of `layout`.
pub fn mismatch(layout: &'static str, why: String) -> ImportError {
    ImportError::Mismatch { layout, why }
}

impl Chain {
    /// A new, empty chain.
    pub fn new() -> Self {
        Chain::default()
    }

    /// Appends an op without parameters.
    pub fn op(&mut self, op: Op) -> &mut Self {
        self.ops.push(op);
        self
    }

    fn put(&mut self, params: &BTreeMap<String, String>, names: &[&str]) {
        let k = self.ops.len();
        for n in names {
            if let Some(key) = params.get(*n) {
                self.map.push((format!("{k}.{n}"), key.clone()));
            }
        }
    }

    /// A convolution (or transposed one) at `prefix`: its kernel from the weight's shape,
    /// a bias if the checkpoint has one. Returns the output channels.
    pub fn conv(
        &mut self,
        layout: &'static str,
        sd: &StateDict,
        prefix: &str,
        transposed: bool,
        stride: usize,
        padding: usize,
    ) -> Result<usize> {
        let m = module(sd, prefix);
        let w = m
            .get("weight")
            .and_then(|k| sd.get(k))
            .ok_or_else(|| mismatch(layout, format!("no convolution weight `{prefix}.weight`")))?;
        let [a, b, k, k2] = w.shape[..] else {
            return Err(mismatch(
                layout,
                format!("`{prefix}.weight` has shape {:?}", w.shape),
            ));
        };
        if k != k2 {
            return Err(mismatch(
                layout,
                format!("`{prefix}` has a {k}x{k2} kernel"),
            ));
        }
        let out = if transposed { b } else { a };
        let bias = m.contains_key("bias");
        self.put(&m, &["weight", "bias"]);
        self.ops.push(if transposed {
            Op::ConvTranspose {
                out,
                kernel: k,
                stride,
                padding,
                bias,
            }
        } else {
            Op::Conv {
                out,
                kernel: k,
                stride,
                padding,
                bias,
            }
        });
        Ok(out)
    }

    /// A BatchNorm at `prefix`. Returns its channels.
    pub fn bn(&mut self, layout: &'static str, sd: &StateDict, prefix: &str) -> Result<usize> {
        let m = module(sd, prefix);
        if !is_batch_norm(&m) {
            return Err(mismatch(layout, format!("no BatchNorm at `{prefix}`")));
        }
        let c = sd.params[&m["running_mean"]]
            .shape
            .first()
            .copied()
            .unwrap_or(0);
        self.put(&m, &["weight", "bias", "running_mean", "running_var"]);
        self.ops.push(Op::BatchNorm);
        Ok(c)
    }

    /// A fully connected layer at `prefix`. Returns its output features.
    pub fn dense(&mut self, layout: &'static str, sd: &StateDict, prefix: &str) -> Result<usize> {
        let m = module(sd, prefix);
        let w = m
            .get("weight")
            .and_then(|k| sd.get(k))
            .filter(|w| w.shape.len() == 2)
            .ok_or_else(|| mismatch(layout, format!("no linear layer at `{prefix}`")))?;
        let out = w.shape[0];
        let bias = m.contains_key("bias");
        self.put(&m, &["weight", "bias"]);
        self.ops.push(Op::Dense { out, bias });
        Ok(out)
    }

    /// `main(x) + shortcut(x)`.
    pub fn residual(&mut self, main: Chain, shortcut: Chain) -> &mut Self {
        let k = self.ops.len();
        for (part, c) in [("main", &main), ("shortcut", &shortcut)] {
            for (s, key) in &c.map {
                self.map.push((format!("{k}.{part}.{s}"), key.clone()));
            }
        }
        self.ops.push(Op::Residual {
            main: main.ops,
            shortcut: shortcut.ops,
        });
        self
    }
}

/// The generator of `buckets` (bucket -> its blocks, each one layer), fed by noise of
/// `latent_dim` or by the learned constant at checkpoint key `constant`.
pub fn assemble(
    layout: &'static str,
    latent_dim: usize,
    constant: Option<&str>,
    buckets: Vec<Vec<Chain>>,
) -> Result<Built> {
    let mut layers = Vec::with_capacity(buckets.len());
    for (i, b) in buckets.iter().enumerate() {
        let first = b
            .first()
            .ok_or_else(|| mismatch(layout, format!("bucket {} has no blocks", i + 1)))?;
        if let Some(j) = b.iter().position(|c| c.ops != first.ops) {
            return Err(mismatch(
                layout,
                format!(
                    "block {j} of bucket {} has other layers than block 0",
                    i + 1
                ),
            ));
        }
        layers.push(first.ops.clone());
    }
    let mut s = [latent_dim, 1, 1];
    for (i, l) in layers.iter().enumerate() {
        s = chain_shape(l, s, 0).map_err(|e| mismatch(layout, format!("layer {}: {e}", i + 1)))?;
    }
    let [channels, h, w] = s;
    if h != w || !matches!(channels, 1 | 3) {
        return Err(mismatch(
            layout,
            format!("the generator draws {s:?}, not a square grey or RGB image"),
        ));
    }
    let mut map = BTreeMap::new();
    for (i, b) in buckets.iter().enumerate() {
        for (j, c) in b.iter().enumerate() {
            for (suffix, key) in &c.map {
                map.insert(
                    format!("g.bucket{}.block{j}.layer{}.{suffix}", i + 1, i + 1),
                    key.clone(),
                );
            }
        }
    }
    if let Some(k) = constant {
        map.insert("g.z".into(), k.to_string());
    }
    let config = GeneratorConfig {
        family: Family::Program,
        image_size: h,
        channels,
        latent_dim,
        constant_input: constant.is_some(),
        widths: Vec::new(),
        buckets: buckets
            .iter()
            .map(|b| BucketConfig {
                layers: 1,
                blocks: b.len(),
            })
            .collect(),
        program: Some(layers),
    };
    config.validate()?;
    Ok(Built {
        config,
        map,
        aliases: Vec::new(),
    })
}
