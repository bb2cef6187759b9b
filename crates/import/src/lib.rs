//! Imports generators trained elsewhere as ganscope model files.
//!
//! [`import`] reads a checkpoint (a `torch.save` file in the zip format of PyTorch >= 1.6, or
//! a legacy or tar one, or a safetensors state dict; [`state`]), finds the generator's state
//! dict in it, matches its keys and shapes to a known [layout](layouts), and writes the
//! generator as a layer program ([`ganscope_model::program`]) with the checkpoint's name,
//! SHA-256, layout and key recorded in the file. Nothing from the checkpoint is ever run: the
//! pickle is read as data by `pytorch-reader`, whose parser refuses code references it
//! cannot represent and bounds nesting, memo copies and sizes, and every tensor is checked
//! against the file's size before its values are read.

mod error;
pub mod layouts;
pub mod state;

pub use error::{ImportError, Result};

use ganscope_model::format::{ModelMeta, NamedTensor, SourceMeta};
use sha2::{Digest, Sha256};

/// What to import.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// A layout name, or `None` / `auto` to detect it.
    pub layout: Option<String>,
    /// The key of the state dict inside the checkpoint (found by itself when `None`).
    pub key: Option<String>,
    /// `NAME=VALUE` settings for what the keys cannot tell.
    pub set: Vec<String>,
}

/// An imported generator.
#[derive(Clone, Debug)]
pub struct Imported {
    /// Its metadata (architecture, sites, provenance).
    pub meta: ModelMeta,
    /// Its tensors, named as ganscope names them.
    pub tensors: Vec<NamedTensor>,
    /// What was found and done, a line each.
    pub report: Vec<String>,
}

/// Whether `bytes` are something to import rather than a ganscope model file: a zip or tar
/// `torch.save` file, a safetensors file without ganscope metadata, or a pickle (legacy
/// `torch.save`). A ganscope file, or anything else, is left to the model file's own reader
/// and its errors. Only the first bytes are read: 262, or a safetensors file's header
/// ([`checkpoint_prefix_len`]).
pub fn is_checkpoint(bytes: &[u8]) -> bool {
    if bytes.starts_with(b"PK\x03\x04") || bytes.get(257..262) == Some(b"ustar") {
        return true;
    }
    // a safetensors file (8-byte header length, then JSON), whatever its length's first byte
    if bytes.get(8) == Some(&b'{') {
        return ganscope_model::format::lacks_ganscope_metadata(bytes);
    }
    // a pickle starts with the PROTO opcode
    bytes.first() == Some(&0x80)
}

/// How many of a file's first bytes [`is_checkpoint`] reads, from its first 262 (`first`):
/// 262, or up to the end of a safetensors header.
pub fn checkpoint_prefix_len(first: &[u8]) -> usize {
    match first.get(8) {
        Some(&b'{') => ganscope_model::format::header_end(first).map_or(262, |e| e.max(262)),
        _ => 262,
    }
}

/// Lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Imports the checkpoint `bytes`, named `file_name` (its folders are dropped).
pub fn import(bytes: &[u8], file_name: &str, o: &Options) -> Result<Imported> {
    let mut sd = state::read(bytes, o.key.as_deref())?;
    let auto = matches!(o.layout.as_deref(), None | Some("auto"));
    let set = layouts::Settings::parse(&o.set)?;
    let forced = match o.layout.as_deref() {
        Some(name) if !auto => Some(layouts::by_name(name)?),
        _ => None,
    };
    let fits = |sd: &state::StateDict| match forced {
        Some(l) => l.detect(sd, &set).is_ok(),
        None => layouts::detect(sd, &set).is_ok(),
    };
    // a bare state dict whose module is named like a checkpoint key (`model.*`, as the RPGAN
    // authors' files are): when the layout does not fit the part found under the key, the
    // whole file is tried
    if o.key.is_none() && sd.key.is_some() && !fits(&sd) {
        if let Ok(whole) = state::read_part(bytes, state::Choice::Whole) {
            // a tensor at the root (no dot in its name) says the file is a bare state dict
            if fits(&whole) || whole.params.keys().any(|k| !k.contains('.')) {
                sd = whole;
            }
        }
    }
    let mut report = vec![format!(
        "read {} tensors from a {} file{}",
        sd.total,
        sd.container,
        match &sd.key {
            Some(k) => format!(", the state dict under `{k}`"),
            None => String::new(),
        }
    )];
    report.extend(sd.notes.iter().cloned());
    let (layout, why) = match forced {
        Some(l) => (l, "chosen with --layout".to_string()),
        None => layouts::detect(&sd, &set)?,
    };
    report.push(format!("layout {}: {why}", layout.name));
    let mut set = set;
    let built = (layout.build)(&sd, &mut set)?;
    set.finish(layout.name)?;
    let tensors = layouts::tensors(layout.name, &sd, &built)?;
    let name = file_name
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or(file_name)
        .to_string();
    let mut meta = ModelMeta::new(built.config, None);
    meta.source = Some(SourceMeta {
        file: name,
        sha256: sha256_hex(bytes),
        container: sd.container.into(),
        layout: layout.name.into(),
        key: sd.key.clone(),
        tensors: [sd.total, tensors.len()],
    });
    Ok(Imported {
        meta,
        tensors,
        report,
    })
}

/// The body of the `checkpoint` fuzz target (`fuzz/`), also run over its saved corpus by
/// `tests/hostile.rs`: arbitrary bytes as a checkpoint, imported with the layout detected,
/// must give a model or an error, never a panic.
pub fn fuzz_checkpoint(data: &[u8]) {
    if let Ok(m) = import(data, "fuzz.pt", &Options::default()) {
        let _ = to_bytes(&m, true);
    }
}

/// The model file of an import (f16 storage when `half`).
pub fn to_bytes(m: &Imported, half: bool) -> Result<Vec<u8>> {
    Ok(ganscope_model::format::to_bytes(&m.meta, &m.tensors, half)?)
}
