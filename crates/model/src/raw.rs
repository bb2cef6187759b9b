//! The untrusted safetensors layer under both ganscope file kinds (model files in
//! [`crate::format`], classifier files in [`crate::classifier`]): the header is parsed here,
//! not by a permissive reader, so every defect has its own [`FileError`]; the header length
//! is bounded, offsets must lie inside the data section without overlap and agree with dtype
//! and shape, the tensor set must be exactly the expected one, and every value finite.

use crate::format::{Dtype, NamedTensor, RawTensor, MAX_HEADER};
use crate::{Error, FileError, Result};
use half::f16;
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};

const MAX_DIM: u64 = 1 << 24;
const MAX_ELEMS: u64 = 1 << 30;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    dtype: String,
    shape: Vec<u64>,
    data_offsets: [u64; 2],
}

pub(crate) fn file_err(e: FileError) -> Error {
    Error::InvalidFile(e)
}

/// The header and the tensor table of a safetensors file, every entry checked (bounded
/// header, dtype, shape, offsets inside the data section without overlap).
pub(crate) type RawTable = (
    serde_json::Map<String, serde_json::Value>,
    BTreeMap<String, RawTensor>,
);

/// Parses the header of untrusted bytes and checks its tensor table (not the metadata).
pub(crate) fn parse_table(bytes: &[u8]) -> Result<RawTable> {
    if bytes.len() < 8 {
        return Err(file_err(FileError::TooShort(bytes.len())));
    }
    let mut len8 = [0u8; 8];
    len8.copy_from_slice(&bytes[..8]);
    let hlen = u64::from_le_bytes(len8);
    if hlen > MAX_HEADER {
        return Err(file_err(FileError::HeaderTooLarge(hlen)));
    }
    let avail = bytes.len() - 8;
    if hlen as usize > avail {
        return Err(file_err(FileError::HeaderPastEnd {
            declared: hlen,
            available: avail,
        }));
    }
    let data = 8 + hlen as usize;
    let header: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&bytes[8..data])
            .map_err(|e| FileError::BadHeaderJson(e.to_string()))?;
    // JSON lets a name appear twice (the last one wins); a file must not
    let keys: Keys = serde_json::from_slice(&bytes[8..data])
        .map_err(|e| FileError::BadHeaderJson(e.to_string()))?;
    if keys.0.len() != header.len() {
        let mut seen = std::collections::BTreeSet::new();
        let dup = keys
            .0
            .into_iter()
            .find(|k| !seen.insert(k.clone()))
            .unwrap_or_default();
        return Err(file_err(FileError::BadHeaderJson(format!(
            "`{}` is listed twice",
            dup.chars().take(64).collect::<String>()
        ))));
    }
    let data_len = bytes.len() - data;
    let mut tensors = BTreeMap::new();
    for (name, v) in &header {
        if name == "__metadata__" {
            continue;
        }
        let e: Entry = serde_json::from_value(v.clone())
            .map_err(|e| FileError::BadHeaderJson(format!("tensor `{name}`: {e}")))?;
        tensors.insert(name.clone(), check_entry(name, e, data, data_len)?);
    }
    let mut spans: Vec<(&String, &RawTensor)> = tensors.iter().collect();
    spans.sort_by_key(|(_, t)| (t.range.start, t.range.end));
    for w in spans.windows(2) {
        if w[1].1.range.start < w[0].1.range.end {
            return Err(file_err(FileError::BadOffsets {
                name: w[1].0.clone(),
                why: format!("its data overlaps tensor `{}`", w[0].0),
            }));
        }
    }
    for w in spans.windows(2) {
        if w[1].1.range.start > w[0].1.range.end {
            return Err(file_err(FileError::BadOffsets {
                name: w[1].0.clone(),
                why: format!(
                    "bytes between tensor `{}` and it belong to no tensor",
                    w[0].0
                ),
            }));
        }
    }
    // the data section is exactly the tensors, nothing before, between or after them
    let covered = spans.last().map_or(data, |(_, t)| t.range.end);
    let starts = spans.first().map_or(data, |(_, t)| t.range.start);
    if starts != data || covered != bytes.len() {
        return Err(file_err(FileError::BadOffsets {
            name: spans
                .first()
                .map_or_else(String::new, |(n, _)| (*n).clone()),
            why: format!(
                "the data section holds {data_len} bytes but the tensors cover bytes {} to {}",
                starts - data,
                covered - data
            ),
        }));
    }
    Ok((header, tensors))
}

/// Checks that `tensors` are exactly `expected` (names and shapes) and hold finite values.
pub(crate) fn check_tensors(
    bytes: &[u8],
    tensors: &BTreeMap<String, RawTensor>,
    expected: &BTreeMap<String, Vec<usize>>,
) -> Result<()> {
    for (name, shape) in expected {
        let t = tensors
            .get(name)
            .ok_or_else(|| FileError::MissingTensor(name.clone()))?;
        if &t.shape != shape {
            return Err(file_err(FileError::ShapeMismatch {
                name: name.clone(),
                expected: shape.clone(),
                found: t.shape.clone(),
            }));
        }
    }
    if let Some(extra) = tensors.keys().find(|k| !expected.contains_key(*k)) {
        return Err(file_err(FileError::UnexpectedTensor(extra.clone())));
    }
    for (name, t) in tensors {
        if !all_finite(bytes, t) {
            return Err(file_err(FileError::NonFinite(name.clone())));
        }
    }
    Ok(())
}

/// Whether every value of a checked tensor is finite, read from its bits (an exponent of all
/// ones is an infinity or a NaN) without widening a copy.
fn all_finite(bytes: &[u8], t: &RawTensor) -> bool {
    let raw = bytes.get(t.range.clone()).unwrap_or_default();
    match t.dtype {
        Dtype::F32 => raw
            .chunks_exact(4)
            .all(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]) & 0x7f80_0000 != 0x7f80_0000),
        Dtype::F16 => raw
            .chunks_exact(2)
            .all(|c| u16::from_le_bytes([c[0], c[1]]) & 0x7c00 != 0x7c00),
    }
}

/// A checked tensor's values as f32 (f16 storage widened).
pub(crate) fn decode(bytes: &[u8], t: &RawTensor) -> Vec<f32> {
    let raw = bytes.get(t.range.clone()).unwrap_or_default();
    match t.dtype {
        Dtype::F32 => raw
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
        Dtype::F16 => raw
            .chunks_exact(2)
            .map(|c| f16::from_le_bytes([c[0], c[1]]).to_f32())
            .collect(),
    }
}

fn check_entry(name: &str, e: Entry, data: usize, data_len: usize) -> Result<RawTensor> {
    let dtype = match e.dtype.as_str() {
        "F32" => Dtype::F32,
        "F16" => Dtype::F16,
        other => {
            return Err(file_err(FileError::UnsupportedDtype {
                name: name.into(),
                dtype: other.chars().take(16).collect(),
            }))
        }
    };
    let elems = e.shape.iter().try_fold(1u64, |acc, &d| {
        (d > 0 && d <= MAX_DIM)
            .then(|| acc.checked_mul(d))
            .flatten()
            .filter(|&n| n <= MAX_ELEMS)
    });
    let bad_offsets = |why: String| {
        file_err(FileError::BadOffsets {
            name: name.into(),
            why,
        })
    };
    let Some(elems) = elems.filter(|_| e.shape.len() <= 4) else {
        return Err(file_err(FileError::BadShape {
            name: name.into(),
            shape: e.shape,
        }));
    };
    let size = elems * if dtype == Dtype::F32 { 4 } else { 2 };
    let [a, b] = e.data_offsets;
    if a > b {
        return Err(bad_offsets(format!("its offsets [{a}, {b}] are reversed")));
    }
    if b > data_len as u64 {
        return Err(bad_offsets(format!(
            "its data [{a}, {b}] runs past the end of the file's {data_len} data bytes"
        )));
    }
    if b - a != size {
        return Err(bad_offsets(format!(
            "its shape {:?} needs {size} bytes but its offsets hold {}",
            e.shape,
            b - a
        )));
    }
    Ok(RawTensor {
        dtype,
        shape: e.shape.iter().map(|&d| d as usize).collect(),
        range: data + a as usize..data + b as usize,
    })
}

struct Bytes(safetensors::Dtype, Vec<usize>, Vec<u8>);

impl safetensors::View for &Bytes {
    fn dtype(&self) -> safetensors::Dtype {
        self.0
    }
    fn shape(&self) -> &[usize] {
        &self.1
    }
    fn data(&self) -> std::borrow::Cow<'_, [u8]> {
        std::borrow::Cow::Borrowed(&self.2)
    }
    fn data_len(&self) -> usize {
        self.2.len()
    }
}

/// Serialises tensors with one JSON string under `__metadata__[key]`.
pub(crate) fn serialize(
    key: &str,
    json: String,
    tensors: &[NamedTensor],
    half: bool,
) -> Result<Vec<u8>> {
    let views: Vec<(String, Bytes)> = tensors
        .iter()
        .map(|(n, s, v)| {
            let b = if half {
                let raw = v
                    .iter()
                    .flat_map(|x| f16::from_f32(*x).to_le_bytes())
                    .collect();
                Bytes(safetensors::Dtype::F16, s.clone(), raw)
            } else {
                Bytes(
                    safetensors::Dtype::F32,
                    s.clone(),
                    v.iter().flat_map(|x| x.to_le_bytes()).collect(),
                )
            };
            (n.clone(), b)
        })
        .collect();
    let info = HashMap::from([(key.to_string(), json)]);
    safetensors::serialize(views.iter().map(|(n, b)| (n.as_str(), b)), Some(info))
        .map_err(|e| Error::Shape(format!("safetensors: {e}")))
}

/// The keys of a JSON object in file order, duplicates kept.
struct Keys(Vec<String>);

impl<'de> serde::Deserialize<'de> for Keys {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Keys;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<Keys, A::Error> {
                let mut keys = Vec::new();
                while let Some((k, _)) = map.next_entry::<String, serde::de::IgnoredAny>()? {
                    keys.push(k);
                }
                Ok(Keys(keys))
            }
        }
        d.deserialize_map(V)
    }
}
