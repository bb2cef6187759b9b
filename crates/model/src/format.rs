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
use crate::raw::{check_tensors, decode, file_err, parse_table, serialize};
use crate::{Error, FileError, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The format version this build writes. Version 2 added program generators
/// ([`crate::program`]) and the import provenance ([`SourceMeta`]); a version-1 file is read
/// as it is (neither field existed), so every older file still loads.
pub const FORMAT_VERSION: u32 = 2;
/// The oldest format version this build reads.
pub const OLDEST_FORMAT_VERSION: u32 = 1;
/// Largest header accepted, in bytes (JSON metadata included).
pub const MAX_HEADER: u64 = 16 << 20;
/// The metadata key.
pub const META_KEY: &str = "ganscope";

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

/// Where an imported model came from (`ganscope import`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SourceMeta {
    /// The checkpoint's file name (no folders).
    pub file: String,
    /// SHA-256 of the checkpoint's bytes, lower-case hex.
    pub sha256: String,
    /// The container read: `torch-zip`, `torch-legacy`, `torch-tar`, `safetensors`.
    pub container: String,
    /// The layout the keys were matched to (e.g. `pytorch-dcgan`).
    pub layout: String,
    /// The key of the state dict inside the checkpoint, when it was nested.
    #[serde(default)]
    pub key: Option<String>,
    /// How many tensors the checkpoint held, and how many of them the model uses.
    pub tensors: [usize; 2],
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
    /// Where an imported model came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<SourceMeta>,
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
            source: None,
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

/// Records the names and shapes an architecture needs.
pub(crate) struct Recorder(pub(crate) BTreeMap<String, Vec<usize>>);

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

/// Where a safetensors file's header ends (its 8 length bytes, then the JSON), read from
/// the file's first 8 bytes; `None` when they are missing or declare more than
/// [`MAX_HEADER`].
pub fn header_end(first: &[u8]) -> Option<usize> {
    let len8: [u8; 8] = first.get(..8)?.try_into().ok()?;
    let hlen = u64::from_le_bytes(len8);
    (hlen <= MAX_HEADER).then(|| 8 + hlen as usize)
}

/// Whether `prefix`, a file's first bytes up to at least [`header_end`], is a safetensors
/// file without ganscope metadata (neither a generator's nor a classifier's), such as a
/// PyTorch state dict. Only the header is read, so the tensors' bytes need not be there.
pub fn lacks_ganscope_metadata(prefix: &[u8]) -> bool {
    let Some(header) = header_end(prefix).and_then(|end| prefix.get(8..end)) else {
        return false;
    };
    let Ok(header) = serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(header)
    else {
        return false;
    };
    let md = header.get("__metadata__");
    KINDS
        .iter()
        .all(|(k, _)| md.and_then(|m| m.get(*k)).is_none())
}

/// The metadata keys of ganscope's files, with what each names.
const KINDS: [(&str, &str); 2] = [
    (META_KEY, "a ganscope generator model"),
    (crate::classifier::CLASSIFIER_KEY, "a ganscope classifier"),
];

/// A header value under `__metadata__[key]`, parsed as JSON with its `format_version` checked;
/// a file of the other kind (model vs classifier) is named as such.
pub(crate) fn metadata_json(
    header: &serde_json::Map<String, serde_json::Value>,
    key: &str,
) -> Result<serde_json::Value> {
    let md = header.get("__metadata__");
    let Some(value) = md.and_then(|m| m.get(key)) else {
        let kinds = KINDS;
        let describe = |(k, what): (&str, &str)| format!("{what} (`{k}` metadata)");
        let found = kinds
            .into_iter()
            .find(|(k, _)| *k != key && md.and_then(|m| m.get(*k)).is_some());
        let wanted = kinds.into_iter().find(|(k, _)| *k == key);
        return Err(file_err(match (found, wanted) {
            (Some(f), Some(w)) => FileError::WrongKind {
                found: describe(f),
                wanted: describe(w),
            },
            _ if key == META_KEY => FileError::MissingMetadata,
            _ => FileError::BadMetadata(format!("the file has no `{key}` metadata")),
        }));
    };
    let s = value
        .as_str()
        .ok_or_else(|| FileError::BadMetadata("the value is not a string".into()))?;
    let mut v: serde_json::Value =
        serde_json::from_str(s).map_err(|e| FileError::BadMetadata(e.to_string()))?;
    let readable = u64::from(OLDEST_FORMAT_VERSION)..=u64::from(FORMAT_VERSION);
    match v.get("format_version").and_then(|x| x.as_u64()) {
        // the migration from 1: nothing to change but the number (2 only added fields)
        Some(f) if readable.contains(&f) => {
            v["format_version"] = FORMAT_VERSION.into();
            Ok(v)
        }
        Some(f) => Err(file_err(FileError::UnsupportedVersion {
            found: u32::try_from(f).unwrap_or(u32::MAX),
            supported: FORMAT_VERSION,
        })),
        None => Err(file_err(FileError::BadMetadata("no format_version".into()))),
    }
}

fn parse_meta(header: &serde_json::Map<String, serde_json::Value>) -> Result<ModelMeta> {
    let v = metadata_json(header, META_KEY)?;
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
        let (header, tensors) = parse_table(bytes)?;
        let meta = parse_meta(&header)?;
        let expected = expected_tensors(&meta.generator, meta.discriminator.as_ref())?;
        check_tensors(bytes, &tensors, &expected)?;
        Ok(ModelFile {
            meta,
            tensors,
            bytes,
        })
    }

    /// A tensor's values as f32 (f16 storage widened).
    pub fn data(&self, name: &str) -> Result<Vec<f32>> {
        let t = self
            .tensors
            .get(name)
            .ok_or_else(|| FileError::MissingTensor(name.into()))?;
        Ok(decode(self.bytes, t))
    }
}

/// A named tensor to write: name, shape, values.
pub type NamedTensor = (String, Vec<usize>, Vec<f32>);

/// Serialises a model file (f32, or f16 storage when `f16`).
pub fn to_bytes(meta: &ModelMeta, tensors: &[NamedTensor], half: bool) -> Result<Vec<u8>> {
    let json = serde_json::to_string(meta).map_err(|e| FileError::BadMetadata(e.to_string()))?;
    serialize(META_KEY, json, tensors, half)
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

/// A model file (f32) of `g` whose weights are seeded normal values times `scale`
/// (BatchNorm running variances made positive): a stand-in for a trained model in tests,
/// benchmarks and fuzz seeds.
pub fn seeded_model_bytes(g: &GeneratorConfig, scale: f32) -> Result<Vec<u8>> {
    let tensors: Vec<NamedTensor> = expected_tensors(g, None)?
        .into_iter()
        .enumerate()
        .map(|(i, (name, shape))| {
            let n = shape.iter().product();
            let mut v: Vec<f32> = crate::sample::latents(i as u64, n, 1)
                .iter()
                .map(|x| x * scale)
                .collect();
            if name.ends_with("running_var") {
                v.iter_mut().for_each(|x| *x = x.abs() + 0.5);
            }
            (name, shape, v)
        })
        .collect();
    to_bytes(&ModelMeta::new(g.clone(), None), &tensors, false)
}
