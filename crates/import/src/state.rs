//! Reading a state dict: the container (a `torch.save` file in any of its formats, or a
//! safetensors file), the state dict inside it, the common wrappers, and f32 values.
//!
//! Nothing in the file is executed: `pytorch-reader` interprets the pickle as data, refuses
//! what it cannot represent, and bounds nesting and memo copies. Every tensor's byte length
//! is checked against the file's size before its values are read, so a view that declares
//! more elements than the file holds is refused instead of allocated.

use std::collections::BTreeMap;

use half::{bf16, f16};
use pytorch_reader::{DType, FileFormat, PytorchReader};

use crate::{ImportError, Result};

/// The keys under which a checkpoint commonly nests a generator's state dict, in the order
/// they are tried when `--key` is not given.
pub const KNOWN_KEYS: [&str; 12] = [
    "netG_state_dict",
    "net_G",
    "netG",
    "generator",
    "gen_state_dict",
    "G",
    "g_ema",
    "model_state_dict",
    "state_dict",
    "model",
    "params",
    "weights",
];

/// One tensor as f32.
#[derive(Clone, Debug, PartialEq)]
pub struct Param {
    /// The shape.
    pub shape: Vec<usize>,
    /// Row-major values.
    pub data: Vec<f32>,
}

/// A state dict read from a checkpoint.
#[derive(Clone, Debug)]
pub struct StateDict {
    /// The parameters and buffers, by name (wrappers removed).
    pub params: BTreeMap<String, Param>,
    /// The container: `torch-zip`, `torch-legacy`, `torch-tar`, `torch-pickle`,
    /// `safetensors`.
    pub container: &'static str,
    /// The key the state dict was nested under, if any.
    pub key: Option<String>,
    /// How many tensors the whole file holds.
    pub total: usize,
    /// What was changed on the way: prefixes stripped, spectral norms folded.
    pub notes: Vec<String>,
}

impl StateDict {
    /// The parameter `name`, if present.
    pub fn get(&self, name: &str) -> Option<&Param> {
        self.params.get(name)
    }
}

/// A tensor as found in the file, before the state dict is chosen.
struct Entry {
    shape: Vec<usize>,
    dtype: DType,
    bytes: Box<dyn Fn() -> std::io::Result<Vec<u8>>>,
}

fn is_safetensors(bytes: &[u8]) -> bool {
    bytes.len() >= 9
        && bytes[8] == b'{'
        && u64::from_le_bytes(bytes[..8].try_into().unwrap_or([0xff; 8])) <= bytes.len() as u64 - 8
}

fn checkpoint_err(e: impl std::fmt::Display) -> ImportError {
    ImportError::Checkpoint(e.to_string())
}

fn torch_entries(bytes: &[u8]) -> Result<(BTreeMap<String, Entry>, &'static str)> {
    let reader = PytorchReader::from_bytes(bytes.to_vec(), None).map_err(checkpoint_err)?;
    let container = match reader.metadata().format_type {
        FileFormat::Zip => "torch-zip",
        FileFormat::Legacy => "torch-legacy",
        FileFormat::Tar => "torch-tar",
        _ => "torch-pickle",
    };
    let entries = reader
        .into_tensors()
        .into_iter()
        .map(|(name, t)| {
            let e = Entry {
                shape: t.shape().to_vec(),
                dtype: t.dtype(),
                bytes: Box::new(move || t.read()),
            };
            (name, e)
        })
        .collect();
    Ok((entries, container))
}

fn safetensors_entries(bytes: &[u8]) -> Result<BTreeMap<String, Entry>> {
    let st = safetensors::SafeTensors::deserialize(bytes).map_err(checkpoint_err)?;
    let (_, header) = safetensors::SafeTensors::read_metadata(bytes).map_err(checkpoint_err)?;
    if header
        .metadata()
        .as_ref()
        .is_some_and(|m| m.contains_key(ganscope_model::format::META_KEY))
    {
        return Err(ImportError::AlreadyGanscope);
    }
    let mut out = BTreeMap::new();
    for (name, view) in st.tensors() {
        use safetensors::Dtype as S;
        let dtype = match view.dtype() {
            S::F32 => DType::F32,
            S::F16 => DType::F16,
            S::BF16 => DType::BF16,
            S::F64 => DType::F64,
            S::I64 => DType::I64,
            _ => DType::U8,
        };
        let data = view.data().to_vec();
        let e = Entry {
            shape: view.shape().to_vec(),
            dtype,
            bytes: Box::new(move || Ok(data.clone())),
        };
        out.insert(name, e);
    }
    Ok(out)
}

/// Which part of the file is the state dict.
#[derive(Clone, Copy, Debug)]
pub enum Choice<'a> {
    /// Under this key.
    Key(&'a str),
    /// Under the first of [`KNOWN_KEYS`] that holds tensors, else the whole file.
    Auto,
    /// The whole file.
    Whole,
}

/// The state dict's part of the names (see [`Choice`]).
fn choose(
    entries: BTreeMap<String, Entry>,
    choice: Choice<'_>,
) -> Result<(BTreeMap<String, Entry>, Option<String>)> {
    let key = match choice {
        Choice::Key(k) => Some(k),
        Choice::Auto => None,
        Choice::Whole => return Ok((entries, None)),
    };
    let under = |k: &str| {
        let p = format!("{k}.");
        entries.keys().any(|n| n.starts_with(&p))
    };
    let chosen = match key {
        Some(k) if under(k) => Some(k.to_string()),
        Some(k) => {
            let tops: std::collections::BTreeSet<&str> = entries
                .keys()
                .map(|n| n.split('.').next().unwrap_or(n))
                .collect();
            let tops: Vec<&str> = tops.into_iter().collect();
            return Err(ImportError::MissingKey {
                key: k.into(),
                available: tops.join(", "),
            });
        }
        None => KNOWN_KEYS.iter().find(|k| under(k)).map(|k| k.to_string()),
    };
    Ok(match chosen {
        Some(k) => {
            let p = format!("{k}.");
            let sub = entries
                .into_iter()
                .filter_map(|(n, e)| n.strip_prefix(&p).map(|s| (s.to_string(), e)))
                .collect();
            (sub, Some(k))
        }
        None => (entries, None),
    })
}

/// The values of a floating-point tensor as f32 (`None` for an integer or boolean one).
fn to_f32(name: &str, e: &Entry, limit: usize) -> Result<Option<Param>> {
    let bad = |why: String| ImportError::BadTensor {
        name: name.into(),
        why,
    };
    let n = e
        .shape
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or_else(|| bad(format!("shape {:?} overflows", e.shape)))?;
    let size = match e.dtype {
        DType::F32 => 4,
        DType::F16 | DType::BF16 => 2,
        DType::F64 => 8,
        _ => return Ok(None),
    };
    if n.saturating_mul(size) > limit {
        return Err(bad(format!(
            "shape {:?} needs {} bytes, more than the whole file holds",
            e.shape,
            n.saturating_mul(size)
        )));
    }
    let raw = (e.bytes)().map_err(|err| bad(format!("its storage cannot be read: {err}")))?;
    if raw.len() != n * size {
        return Err(bad(format!(
            "its storage holds {} bytes; shape {:?} needs {}",
            raw.len(),
            e.shape,
            n * size
        )));
    }
    let data: Vec<f32> = match e.dtype {
        DType::F32 => raw
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
        DType::F16 => raw
            .chunks_exact(2)
            .map(|c| f16::from_le_bytes([c[0], c[1]]).to_f32())
            .collect(),
        DType::BF16 => raw
            .chunks_exact(2)
            .map(|c| bf16::from_le_bytes([c[0], c[1]]).to_f32())
            .collect(),
        _ => raw
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().unwrap_or([0; 8])) as f32)
            .collect(),
    };
    if let Some(v) = data.iter().find(|v| !v.is_finite()) {
        return Err(bad(format!("holds the value {v}")));
    }
    Ok(Some(Param {
        shape: e.shape.clone(),
        data,
    }))
}

/// `W / sigma` with `sigma = u . (W_mat v)`: what PyTorch's `spectral_norm` computes in eval
/// mode from its stored vectors. `W_mat` is `W` with dimension `dim` first, flattened to
/// `[W.shape[dim], rest]`; `dim` is 0, or 1 for a transposed convolution. It is found from the
/// vectors' lengths, and where both fit (a square weight) from which one `u` is aligned with:
/// the power iteration leaves `u = W_mat v / |W_mat v|`.
fn fold_spectral(name: &str, w: &Param, u: &Param, v: &Param) -> Result<Param> {
    let n = w.data.len();
    let mut best: Option<(f64, f64)> = None; // (alignment, sigma)
    for dim in [0, 1] {
        let Some(&rows) = w.shape.get(dim) else {
            continue;
        };
        if rows == 0 || u.data.len() != rows || v.data.len() * rows != n {
            continue;
        }
        let (d0, d1) = (w.shape[0], w.shape.get(1).copied().unwrap_or(1));
        let inner = n / (d0 * d1).max(1);
        // element (r, c) of W_mat
        let at = |r: usize, c: usize| -> f32 {
            if dim == 0 {
                w.data[r * (n / rows) + c]
            } else {
                let (i, k) = (c / inner, c % inner); // c runs over (dim 0, kernel)
                w.data[(i * d1 + r) * inner + k]
            }
        };
        let wv: Vec<f64> = (0..rows)
            .map(|r| {
                (0..n / rows)
                    .map(|c| at(r, c) as f64 * v.data[c] as f64)
                    .sum()
            })
            .collect();
        let sigma: f64 = wv.iter().zip(&u.data).map(|(a, b)| a * *b as f64).sum();
        let norm = wv.iter().map(|x| x * x).sum::<f64>().sqrt();
        let align = sigma / norm.max(1e-30);
        if best.is_none_or(|(a, _)| align > a) {
            best = Some((align, sigma));
        }
    }
    let bad = |why: String| ImportError::BadTensor {
        name: name.into(),
        why,
    };
    let Some((_, sigma)) = best else {
        return Err(bad(format!(
            "spectral norm vectors of {} and {} values fit no dimension of a {:?} weight",
            u.data.len(),
            v.data.len(),
            w.shape
        )));
    };
    if !sigma.is_finite() || sigma.abs() < 1e-12 {
        return Err(bad(format!("spectral norm sigma is {sigma}")));
    }
    Ok(Param {
        shape: w.shape.clone(),
        data: w.data.iter().map(|x| (*x as f64 / sigma) as f32).collect(),
    })
}

/// Strips `module.` (DataParallel) and `_orig_mod.` (torch.compile) prefixes, drops
/// `num_batches_tracked`, and folds both spectral-norm encodings (`weight_orig`/`weight_u`/
/// `weight_v` and `parametrizations.weight.original`/`0._u`/`0._v`) into a plain `weight`.
fn unwrap(
    params: BTreeMap<String, Param>,
    notes: &mut Vec<String>,
) -> Result<BTreeMap<String, Param>> {
    let mut stripped = 0;
    let mut p: BTreeMap<String, Param> = BTreeMap::new();
    for (mut name, t) in params {
        while let Some(s) = name
            .strip_prefix("module.")
            .or_else(|| name.strip_prefix("_orig_mod."))
        {
            name = s.to_string();
            stripped += 1;
        }
        if !name.ends_with("num_batches_tracked") && p.insert(name.clone(), t).is_some() {
            return Err(ImportError::BadTensor {
                name,
                why: "two tensors have this name once the module./_orig_mod. prefix is stripped"
                    .into(),
            });
        }
    }
    if stripped > 0 {
        notes.push(format!(
            "stripped the module./_orig_mod. prefix of {stripped} keys"
        ));
    }
    let mut folded = 0;
    for (orig, u, v, base) in [
        (".weight_orig", ".weight_u", ".weight_v", ".weight"),
        (
            ".parametrizations.weight.original",
            ".parametrizations.weight.0._u",
            ".parametrizations.weight.0._v",
            ".weight",
        ),
    ] {
        let stems: Vec<String> = p
            .keys()
            .filter_map(|k| k.strip_suffix(orig).map(str::to_string))
            .collect();
        for stem in stems {
            let key = |s: &str| format!("{stem}{s}");
            let (Some(w), Some(uu), Some(vv)) =
                (p.remove(&key(orig)), p.remove(&key(u)), p.remove(&key(v)))
            else {
                return Err(ImportError::BadTensor {
                    name: key(orig),
                    why: "a spectral-norm weight without its u and v vectors".into(),
                });
            };
            let weight = fold_spectral(&key(orig), &w, &uu, &vv)?;
            if p.insert(key(base), weight).is_some() {
                return Err(ImportError::BadTensor {
                    name: key(base),
                    why: format!(
                        "the file holds it beside `{}`, its spectral-norm form",
                        key(orig)
                    ),
                });
            }
            folded += 1;
        }
    }
    if folded > 0 {
        notes.push(format!("folded {folded} spectral norms into their weights"));
    }
    Ok(p)
}

/// Reads the state dict of `bytes` (a `torch.save` file or a safetensors file), nested under
/// `key` or found among [`KNOWN_KEYS`].
pub fn read(bytes: &[u8], key: Option<&str>) -> Result<StateDict> {
    read_part(bytes, key.map_or(Choice::Auto, Choice::Key))
}

/// Reads the part of `bytes` that `choice` names as the state dict.
pub fn read_part(bytes: &[u8], choice: Choice<'_>) -> Result<StateDict> {
    let (entries, container) = if is_safetensors(bytes) {
        (safetensors_entries(bytes)?, "safetensors")
    } else {
        torch_entries(bytes)?
    };
    let total = entries.len();
    let (chosen, key) = choose(entries, choice)?;
    let mut params = BTreeMap::new();
    let mut skipped = Vec::new();
    for (name, e) in &chosen {
        if name.ends_with("num_batches_tracked") {
            continue;
        }
        match to_f32(name, e, bytes.len())? {
            Some(p) => {
                params.insert(name.clone(), p);
            }
            None => skipped.push(name.as_str()),
        }
    }
    let mut notes = Vec::new();
    if !skipped.is_empty() {
        notes.push(format!("skipped non-float tensors: {}", skipped.join(", ")));
    }
    if params.is_empty() {
        let under = match &key {
            Some(k) => format!(" under `{k}`"),
            None => String::new(),
        };
        let skipped = match skipped.len() {
            0 => String::new(),
            n => format!(" ({n} of other types: {})", skipped.join(", ")),
        };
        return Err(ImportError::NoTensors(format!("{under}{skipped}")));
    }
    let params = unwrap(params, &mut notes)?;
    Ok(StateDict {
        params,
        container,
        key,
        total,
        notes,
    })
}
