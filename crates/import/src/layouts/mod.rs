//! Layouts: how the keys and shapes of a project's generator map onto a layer program.
//!
//! Each layout says whether a state dict is its own (and why), and builds the program and a
//! map from every ganscope tensor name to the checkpoint's name. The shared part here checks
//! the map against the program's own list of tensors, so a layout cannot leave a weight out,
//! place one with the wrong shape, or ignore a key of the checkpoint.

mod chain;
pub mod collections;
pub mod dcgan;
pub mod mimicry;
pub mod rpgan;

use std::collections::{BTreeMap, BTreeSet};

use ganscope_model::config::GeneratorConfig;
use ganscope_model::format::{expected_tensors, NamedTensor};

pub use chain::{assemble, Chain};

use crate::state::StateDict;
use crate::{ImportError, Result};

/// What a layout builds: the architecture and where each tensor comes from.
#[derive(Clone, Debug)]
pub struct Built {
    /// The program generator.
    pub config: GeneratorConfig,
    /// ganscope tensor name -> checkpoint key.
    pub map: BTreeMap<String, String>,
    /// Checkpoint keys that repeat another key's values (`(alias, original)`): accounted
    /// for, checked equal, not stored twice.
    pub aliases: Vec<(String, String)>,
}

/// `--set NAME=VALUE` entries; a layout takes the ones it understands.
#[derive(Clone, Debug, Default)]
pub struct Settings(pub BTreeMap<String, String>);

impl Settings {
    /// Parses `NAME=VALUE` entries.
    pub fn parse(entries: &[String]) -> Result<Self> {
        let mut m = BTreeMap::new();
        for e in entries {
            let (k, v) = e
                .split_once('=')
                .ok_or_else(|| ImportError::Setting(format!("{e}: expected NAME=VALUE")))?;
            m.insert(k.trim().to_string(), v.trim().to_string());
        }
        Ok(Settings(m))
    }

    /// Takes `name` as a float, if set.
    pub fn take_f32(&mut self, name: &str) -> Result<Option<f32>> {
        self.0
            .remove(name)
            .map(|v| match v.parse::<f32>() {
                Ok(x) if x.is_finite() => Ok(x),
                _ => Err(ImportError::Setting(format!("{name}={v}: not a number"))),
            })
            .transpose()
    }

    /// Takes `name` as a number, if set.
    pub fn take_usize(&mut self, name: &str) -> Result<Option<usize>> {
        self.0
            .remove(name)
            .map(|v| {
                v.parse()
                    .map_err(|_| ImportError::Setting(format!("{name}={v}: not a whole number")))
            })
            .transpose()
    }

    /// Fails on any entry no layout took.
    pub fn finish(self, layout: &str) -> Result<()> {
        match self.0.keys().next() {
            Some(k) => Err(ImportError::Setting(format!(
                "{k}: the {layout} layout takes no such setting"
            ))),
            None => Ok(()),
        }
    }
}

/// The keys that mark a layout's state dicts, checked before its builder runs.
pub enum Signs {
    /// Every key lies under one of these prefixes.
    Under(&'static [&'static str]),
    /// These keys are present.
    Keys(&'static [&'static str]),
}

/// A layout.
pub struct Layout {
    /// Its name (`--layout NAME`).
    pub name: &'static str,
    /// The project and generators it reads.
    pub about: &'static str,
    /// What marks its state dicts.
    pub signs: Signs,
    /// What it found, for the detection message (its channels and size follow).
    pub found: &'static str,
    /// The program and tensor map.
    pub build: fn(&StateDict, &mut Settings) -> Result<Built>,
}

impl Layout {
    /// `Ok(why)` if `sd` is this layout's (built with the user's settings), `Err(why not)`.
    pub fn detect(&self, sd: &StateDict, set: &Settings) -> std::result::Result<String, String> {
        match self.signs {
            Signs::Under(prefixes) => {
                if let Some(k) = sd
                    .params
                    .keys()
                    .find(|k| !prefixes.iter().any(|p| k.starts_with(&format!("{p}."))))
                {
                    return Err(format!("`{k}` is not under {}", prefixes.join(" or ")));
                }
            }
            Signs::Keys(keys) => {
                if !keys.iter().all(|k| sd.params.contains_key(*k)) {
                    return Err(format!("no {}", keys.join(" and ")));
                }
            }
        }
        let b = (self.build)(sd, &mut set.clone()).map_err(|e| e.to_string())?;
        Ok(describe(&b, self.found))
    }
}

/// Every layout, in the order auto-detection tries them.
pub const LAYOUTS: &[Layout] = &[
    rpgan::RESNET,
    rpgan::FC,
    collections::RESNET,
    collections::CNN,
    mimicry::SNGAN,
    dcgan::LAYOUT,
];

/// The layout named `name`.
pub fn by_name(name: &str) -> Result<&'static Layout> {
    LAYOUTS.iter().find(|l| l.name == name).ok_or_else(|| {
        ImportError::NoSuchLayout(
            name.into(),
            LAYOUTS
                .iter()
                .map(|l| l.name)
                .collect::<Vec<_>>()
                .join(", "),
        )
    })
}

/// The first layout whose detection accepts `sd`, with its reason; otherwise every layout's
/// reason for refusing, and the keys.
pub fn detect(sd: &StateDict, set: &Settings) -> Result<(&'static Layout, String)> {
    let mut tried = Vec::new();
    for l in LAYOUTS {
        match l.detect(sd, set) {
            Ok(why) => return Ok((l, why)),
            Err(why) => tried.push(format!("  {}: {why}", l.name)),
        }
    }
    Err(ImportError::UnknownLayout {
        tried: tried.join("\n"),
        keys: key_list(sd.params.keys()),
    })
}

fn key_list<'a>(keys: impl Iterator<Item = &'a String>) -> String {
    let keys: Vec<&String> = keys.collect();
    let mut s = keys
        .iter()
        .take(24)
        .map(|k| k.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    if keys.len() > 24 {
        s.push_str(&format!(", ... ({} in all)", keys.len()));
    }
    s
}

/// The tensors of `built`, taken from `sd`: every tensor the program needs, with the shape it
/// needs, and no key of `sd` left over.
pub fn tensors(layout: &'static str, sd: &StateDict, built: &Built) -> Result<Vec<NamedTensor>> {
    let mismatch = |why: String| ImportError::Mismatch { layout, why };
    let want = expected_tensors(&built.config, None)?;
    if let Some(extra) = built.map.keys().find(|k| !want.contains_key(*k)) {
        return Err(mismatch(format!(
            "the layout places `{extra}`, which the architecture does not have"
        )));
    }
    let mut out = Vec::with_capacity(want.len());
    for (name, shape) in &want {
        let src = built
            .map
            .get(name)
            .ok_or_else(|| mismatch(format!("nothing in the checkpoint for `{name}`")))?;
        let p = sd
            .get(src)
            .ok_or_else(|| mismatch(format!("the key `{src}` is missing")))?;
        if &p.shape != shape {
            return Err(mismatch(format!(
                "`{src}` has shape {:?}; this architecture needs {shape:?}",
                p.shape
            )));
        }
        out.push((name.clone(), shape.clone(), p.data.clone()));
    }
    for (alias, original) in &built.aliases {
        let (a, o) = (sd.get(alias), sd.get(original));
        if a.is_none() || a != o {
            return Err(mismatch(format!(
                "`{alias}` should repeat `{original}` and does not"
            )));
        }
    }
    let used: BTreeSet<&String> = built
        .map
        .values()
        .chain(built.aliases.iter().map(|(a, _)| a))
        .collect();
    let left: Vec<&String> = sd.params.keys().filter(|k| !used.contains(k)).collect();
    if !left.is_empty() {
        return Err(mismatch(format!(
            "keys it could not place: {}",
            key_list(left.into_iter())
        )));
    }
    Ok(out)
}

/// The modules of an `nn.Sequential` under `prefix`: index -> (parameter name -> key).
pub fn sequential(sd: &StateDict, prefix: &str) -> BTreeMap<usize, BTreeMap<String, String>> {
    let mut m: BTreeMap<usize, BTreeMap<String, String>> = BTreeMap::new();
    let p = format!("{prefix}.");
    for k in sd.params.keys() {
        let Some(rest) = k.strip_prefix(&p) else {
            continue;
        };
        let Some((i, param)) = rest.split_once('.') else {
            continue;
        };
        if let Ok(i) = i.parse::<usize>() {
            m.entry(i).or_default().insert(param.to_string(), k.clone());
        }
    }
    m
}

/// What a built layout holds, for its detection message: `what`, the channels from the
/// latent to the image, and the output size (and the blocks per bucket of an RPGAN).
fn describe(b: &Built, what: &str) -> String {
    let chans: Vec<String> = b
        .config
        .layer_shapes()
        .iter()
        .map(|s| s[0].to_string())
        .collect();
    let blocks = if b.config.is_rpgan() {
        format!(
            ", blocks per bucket {:?}, a learned constant input",
            b.config.blocks()
        )
    } else {
        String::new()
    };
    format!(
        "{what}, {} layer groups ({} -> {}), {}x{} output{blocks}",
        chans.len(),
        b.config.latent_dim,
        chans.join(" -> "),
        b.config.image_size,
        b.config.image_size
    )
}

/// The parameters of the module at `prefix` (`prefix.weight` -> `weight`, ...), one level.
pub fn module(sd: &StateDict, prefix: &str) -> BTreeMap<String, String> {
    let p = format!("{prefix}.");
    sd.params
        .keys()
        .filter_map(|k| {
            let rest = k.strip_prefix(&p)?;
            (!rest.contains('.')).then(|| (rest.to_string(), k.clone()))
        })
        .collect()
}

/// The indices `i` of `{prefix}.{i}.*` keys, sorted.
pub fn indices(sd: &StateDict, prefix: &str) -> Vec<usize> {
    let p = format!("{prefix}.");
    let mut v: Vec<usize> = sd
        .params
        .keys()
        .filter_map(|k| k.strip_prefix(&p)?.split('.').next()?.parse().ok())
        .collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// Dimension `i` of the tensor at `key` (0 when the key or the dimension is missing).
pub fn dim(sd: &StateDict, key: Option<&String>, i: usize) -> usize {
    key.and_then(|k| sd.get(k))
        .and_then(|p| p.shape.get(i).copied())
        .unwrap_or(0)
}

/// A module's parameter set is a BatchNorm's.
pub fn is_batch_norm(params: &BTreeMap<String, String>) -> bool {
    params.contains_key("running_mean") && params.contains_key("running_var")
}
