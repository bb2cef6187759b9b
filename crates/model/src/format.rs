//! The model file: one `.safetensors` with the tensors named by their parameter paths and a
//! JSON string under `__metadata__["ganscope"]` ([`ModelMeta`]).
//!
//! Reading never trusts the file: the header length is bounded, the header is parsed here
//! (not by a permissive reader) so every defect has its own [`FileError`], offsets must lie
//! inside the data section without overlap and agree with dtype and shape, the metadata must
//! describe a valid architecture, the tensor set must be exactly the architecture's, and every
//! value must be finite.

use crate::backend::{Init, ParamSource};
use crate::config::{DiscriminatorConfig, GeneratorConfig};
use crate::discriminator::Discriminator;
use crate::generator::{site_shapes, Generator};
use crate::{Error, FileError, Result};
use half::f16;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

/// The format version this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;
/// Largest header accepted, in bytes (JSON metadata included).
pub const MAX_HEADER: u64 = 16 << 20;
/// The metadata key.
pub const META_KEY: &str = "ganscope";
const MAX_DIM: u64 = 1 << 24;
const MAX_ELEMS: u64 = 1 << 30;

/// A site as recorded in the file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SiteMeta {
    /// `b1`..`bn`.
    pub name: String,
    /// `[C, H, W]`.
    pub shape: [usize; 3],
    /// What the site is (`bucket_output`).
    pub kind: String,
}

/// The training data.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DatasetMeta {
    /// e.g. `mnist`, `colored-mnist`, `cifar10`, `folder:NAME`.
    pub name: String,
    /// Number of training images.
    pub images: usize,
    /// Per-channel mean of the training images in [-1, 1].
    pub mean: Vec<f32>,
    /// Per-channel standard deviation.
    pub std: Vec<f32>,
}

/// How the model was trained.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainingSummary {
    /// Generator steps done.
    pub steps: u64,
    /// Loss name (hinge, ns, wgan-gp).
    pub loss: String,
    /// Last discriminator loss.
    pub d_loss: f32,
    /// Last generator loss.
    pub g_loss: f32,
    /// Wall-clock seconds of training.
    pub seconds: f64,
    /// When the export was written (UTC, RFC 3339).
    pub date: String,
    /// `ganscope` version.
    pub tool_version: String,
    /// `cpu` or `cuda`.
    pub device: String,
    /// Whether the generator weights are the EMA.
    pub ema: bool,
    /// The full training options.
    pub options: serde_json::Value,
}

/// Everything a page needs to know about a model besides its tensors.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelMeta {
    /// [`FORMAT_VERSION`].
    pub format_version: u32,
    /// Generator architecture.
    pub generator: GeneratorConfig,
    /// Discriminator architecture, when `d.*` tensors travel in the file.
    #[serde(default)]
    pub discriminator: Option<DiscriminatorConfig>,
    /// Sites with shapes.
    pub sites: Vec<SiteMeta>,
    /// Training data.
    #[serde(default)]
    pub dataset: Option<DatasetMeta>,
    /// Training summary.
    #[serde(default)]
    pub training: Option<TrainingSummary>,
    /// Precomputed analysis (unit quantiles, concept constants), free-form.
    #[serde(default)]
    pub analysis: Option<serde_json::Value>,
}

impl ModelMeta {
    /// Metadata for an architecture, with its sites filled in.
    pub fn new(generator: GeneratorConfig, discriminator: Option<DiscriminatorConfig>) -> Self {
        let sites = site_shapes(&generator)
            .into_iter()
            .map(|(name, shape)| SiteMeta {
                name,
                shape,
                kind: "bucket_output".into(),
            })
            .collect();
        ModelMeta {
            format_version: FORMAT_VERSION,
            generator,
            discriminator,
            sites,
            dataset: None,
            training: None,
            analysis: None,
        }
    }
}

/// Storage type of a tensor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dtype {
    /// 32-bit float.
    F32,
    /// 16-bit float.
    F16,
}

/// One tensor's place in the file.
#[derive(Clone, Debug, PartialEq)]
pub struct RawTensor {
    /// Storage type.
    pub dtype: Dtype,
    /// Shape.
    pub shape: Vec<usize>,
    /// Byte range in the file.
    pub range: std::ops::Range<usize>,
}

/// A parsed and fully checked model file borrowing the file's bytes.
#[derive(Debug)]
pub struct ModelFile<'a> {
    /// The metadata.
    pub meta: ModelMeta,
    /// Tensors by name.
    pub tensors: BTreeMap<String, RawTensor>,
    bytes: &'a [u8],
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    dtype: String,
    shape: Vec<u64>,
    data_offsets: [u64; 2],
}

/// Records the names and shapes an architecture needs.
struct Recorder(BTreeMap<String, Vec<usize>>);

impl ParamSource<()> for Recorder {
    fn param(&mut self, name: &str, shape: &[usize], _: Init) -> Result<()> {
        self.0.insert(name.to_string(), shape.to_vec());
        Ok(())
    }
}

/// The names and shapes of every tensor of an architecture.
pub fn expected_tensors(
    g: &GeneratorConfig,
    d: Option<&DiscriminatorConfig>,
) -> Result<BTreeMap<String, Vec<usize>>> {
    let mut rec = Recorder(BTreeMap::new());
    Generator::new(g, &mut rec)?;
    if let Some(d) = d {
        Discriminator::new(d, &mut rec)?;
    }
    Ok(rec.0)
}

fn file_err(e: FileError) -> Error {
    Error::InvalidFile(e)
}

fn parse_meta(header: &serde_json::Map<String, serde_json::Value>) -> Result<ModelMeta> {
    let s = header
        .get("__metadata__")
        .and_then(|m| m.get(META_KEY))
        .ok_or(FileError::MissingMetadata)?
        .as_str()
        .ok_or_else(|| FileError::BadMetadata("the value is not a string".into()))?;
    let v: serde_json::Value =
        serde_json::from_str(s).map_err(|e| FileError::BadMetadata(e.to_string()))?;
    let found = v.get("format_version").and_then(|x| x.as_u64());
    match found {
        Some(f) if f == u64::from(FORMAT_VERSION) => {}
        Some(f) => {
            return Err(file_err(FileError::UnsupportedVersion {
                found: u32::try_from(f).unwrap_or(u32::MAX),
                supported: FORMAT_VERSION,
            }))
        }
        None => return Err(file_err(FileError::BadMetadata("no format_version".into()))),
    }
    let meta: ModelMeta =
        serde_json::from_value(v).map_err(|e| FileError::BadMetadata(e.to_string()))?;
    meta.generator
        .validate()
        .map_err(|e| FileError::BadMetadata(format!("generator: {e}")))?;
    if let Some(d) = &meta.discriminator {
        d.validate()
            .map_err(|e| FileError::BadMetadata(format!("discriminator: {e}")))?;
    }
    if meta.sites != ModelMeta::new(meta.generator.clone(), None).sites {
        return Err(file_err(FileError::BadMetadata(
            "the listed sites disagree with the architecture".into(),
        )));
    }
    Ok(meta)
}

impl<'a> ModelFile<'a> {
    /// Parses and checks a whole file.
    pub fn parse(bytes: &'a [u8]) -> Result<Self> {
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
        let meta = parse_meta(&header)?;
        let expected = expected_tensors(&meta.generator, meta.discriminator.as_ref())?;
        for (name, shape) in &expected {
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
        let file = ModelFile {
            meta,
            tensors,
            bytes,
        };
        for name in file.tensors.keys() {
            if file.data(name)?.iter().any(|v| !v.is_finite()) {
                return Err(file_err(FileError::NonFinite(name.clone())));
            }
        }
        Ok(file)
    }

    /// A tensor's values as f32 (f16 storage widened).
    pub fn data(&self, name: &str) -> Result<Vec<f32>> {
        let t = self
            .tensors
            .get(name)
            .ok_or_else(|| FileError::MissingTensor(name.into()))?;
        let raw = &self.bytes[t.range.clone()];
        Ok(match t.dtype {
            Dtype::F32 => raw
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
            Dtype::F16 => raw
                .chunks_exact(2)
                .map(|c| f16::from_le_bytes([c[0], c[1]]).to_f32())
                .collect(),
        })
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

/// A named tensor to write: name, shape, values.
pub type NamedTensor = (String, Vec<usize>, Vec<f32>);

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

/// Serialises a model file (f32, or f16 storage when `f16`).
pub fn to_bytes(meta: &ModelMeta, tensors: &[NamedTensor], half: bool) -> Result<Vec<u8>> {
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
    let json = serde_json::to_string(meta).map_err(|e| FileError::BadMetadata(e.to_string()))?;
    let info = HashMap::from([(META_KEY.to_string(), json)]);
    safetensors::serialize(views.iter().map(|(n, b)| (n.as_str(), b)), Some(info))
        .map_err(|e| Error::Shape(format!("safetensors: {e}")))
}

/// Writes `bytes` to `path` atomically (a temporary file in the same folder, then rename).
pub fn write_atomic(path: &std::path::Path, bytes: &[u8]) -> Result<()> {
    let io = |source| Error::Io {
        path: path.display().to_string(),
        source,
    };
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp{}", std::process::id()));
    let write = || -> std::io::Result<()> {
        use std::io::Write;
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        io(e)
    })
}
