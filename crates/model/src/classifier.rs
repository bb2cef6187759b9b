//! A small image classifier shipped as its own `.safetensors` file: the feature network of
//! semantic distances, Fréchet distances and precision/recall between generated images (the
//! RPGAN paper uses InceptionV3; ganscope uses the [`Discriminator`] network with one output
//! per class, trained on the dataset by `ganscope classifier`).
//!
//! The tensors keep the discriminator's names (`d.*`); the metadata is a JSON string under
//! `__metadata__["ganscope_classifier"]` ([`ClassifierMeta`]), so a generator model file and
//! a classifier file cannot be taken for one another. Reading runs the same untrusted-input
//! checks as a model file (bounded header, offsets, dtype and shape against the architecture,
//! finite values; f32 or f16 storage).

use crate::candle_backend::{CandleBackend, TensorSource};
use crate::config::DiscriminatorConfig;
use crate::discriminator::Discriminator;
use crate::format::{DatasetMeta, NamedTensor, RawTensor, Recorder, FORMAT_VERSION};
use crate::raw::{check_tensors, decode, file_err, parse_table, serialize};
use crate::{Error, FileError, Result};
use candle_core::{Device, Tensor};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

/// The metadata key of a classifier file (a model file uses `ganscope`).
pub const CLASSIFIER_KEY: &str = "ganscope_classifier";
/// Images per forward inside [`Classifier::features`] and [`Classifier::logits`].
pub const FEATURE_BATCH: usize = 256;

/// Everything about a classifier besides its tensors.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClassifierMeta {
    /// [`FORMAT_VERSION`].
    pub format_version: u32,
    /// The network: a discriminator whose `outputs` is the number of classes.
    pub network: DiscriminatorConfig,
    /// Class names, one per output.
    pub classes: Vec<String>,
    /// The training data.
    #[serde(default)]
    pub dataset: Option<DatasetMeta>,
    /// Accuracy on the held-out test images, in [0, 1].
    #[serde(default)]
    pub test_accuracy: Option<f32>,
    /// How it was trained (options, steps, seconds, date), free-form.
    #[serde(default)]
    pub training: Option<serde_json::Value>,
}

impl ClassifierMeta {
    /// Metadata for a network and its class names.
    pub fn new(network: DiscriminatorConfig, classes: Vec<String>) -> Self {
        ClassifierMeta {
            format_version: FORMAT_VERSION,
            network,
            classes,
            dataset: None,
            test_accuracy: None,
            training: None,
        }
    }

    /// Checks the network and that there is one class name per output.
    pub fn validate(&self) -> Result<()> {
        self.network.validate()?;
        if self.classes.len() != self.network.outputs {
            return Err(Error::InvalidConfig(format!(
                "the classifier has {} outputs but {} class names",
                self.network.outputs,
                self.classes.len()
            )));
        }
        if let Some(a) = self.test_accuracy.filter(|a| !(0.0..=1.0).contains(a)) {
            return Err(Error::InvalidConfig(format!(
                "test accuracy {a} is outside [0, 1]"
            )));
        }
        Ok(())
    }
}

/// The names and shapes of every tensor of a classifier network.
pub fn classifier_tensors(network: &DiscriminatorConfig) -> Result<BTreeMap<String, Vec<usize>>> {
    let mut rec = Recorder(BTreeMap::new());
    Discriminator::new(network, &mut rec)?;
    Ok(rec.0)
}

/// Serialises a classifier file (f32, or f16 storage when `half`); the bytes are read back
/// with [`parse_classifier`] before they are returned, so what is written always loads.
pub fn classifier_to_bytes(
    meta: &ClassifierMeta,
    tensors: &[NamedTensor],
    half: bool,
) -> Result<Vec<u8>> {
    meta.validate()?;
    let expected = classifier_tensors(&meta.network)?;
    for (name, shape, values) in tensors {
        if expected.get(name) != Some(shape) || values.len() != shape.iter().product::<usize>() {
            return Err(Error::Shape(format!(
                "tensor `{name}` {shape:?} with {} values does not fit the network",
                values.len()
            )));
        }
    }
    let json = serde_json::to_string(meta).map_err(|e| FileError::BadMetadata(e.to_string()))?;
    let bytes = serialize(CLASSIFIER_KEY, json, tensors, half)?;
    parse_classifier(&bytes)?;
    Ok(bytes)
}

/// A parsed and fully checked classifier file borrowing the file's bytes.
#[derive(Debug)]
pub struct ClassifierFile<'a> {
    /// The metadata.
    pub meta: ClassifierMeta,
    /// Tensors by name.
    pub tensors: BTreeMap<String, RawTensor>,
    bytes: &'a [u8],
}

impl ClassifierFile<'_> {
    /// A tensor's values as f32 (f16 storage widened).
    pub fn data(&self, name: &str) -> Result<Vec<f32>> {
        let t = self
            .tensors
            .get(name)
            .ok_or_else(|| FileError::MissingTensor(name.into()))?;
        Ok(decode(self.bytes, t))
    }
}

/// Parses and checks a whole classifier file; a generator model file is refused by name.
pub fn parse_classifier(bytes: &[u8]) -> Result<ClassifierFile<'_>> {
    let (header, tensors) = parse_table(bytes)?;
    let v = crate::format::metadata_json(&header, CLASSIFIER_KEY)?;
    let meta: ClassifierMeta =
        serde_json::from_value(v).map_err(|e| FileError::BadMetadata(e.to_string()))?;
    meta.validate()
        .map_err(|e| file_err(FileError::BadMetadata(format!("classifier: {e}"))))?;
    check_tensors(bytes, &tensors, &classifier_tensors(&meta.network)?)?;
    Ok(ClassifierFile {
        meta,
        tensors,
        bytes,
    })
}

/// A classifier loaded for the candle backend (inference mode).
#[derive(Debug)]
pub struct Classifier {
    meta: ClassifierMeta,
    network: Discriminator<Tensor>,
    backend: CandleBackend,
    feature_dim: usize,
}

impl Classifier {
    /// Parses, checks and loads a classifier file onto the CPU.
    pub fn load(bytes: &[u8]) -> Result<Classifier> {
        Self::load_on(bytes, &Device::Cpu)
    }

    /// Parses, checks and loads a classifier file onto `device`.
    pub fn load_on(bytes: &[u8], device: &Device) -> Result<Classifier> {
        let file = parse_classifier(bytes)?;
        let mut tensors = HashMap::new();
        for (name, raw) in &file.tensors {
            let t = Tensor::from_vec(file.data(name)?, raw.shape.as_slice(), device)?;
            tensors.insert(name.clone(), t);
        }
        let network =
            Discriminator::new(&file.meta.network, &mut TensorSource { tensors: &tensors })?;
        let feature_dim = file
            .tensors
            .get("d.linear.weight")
            .and_then(|t| t.shape.get(1).copied())
            .ok_or_else(|| FileError::MissingTensor("d.linear.weight".into()))?;
        Ok(Classifier {
            meta: file.meta,
            network,
            backend: CandleBackend {
                device: device.clone(),
                train: false,
                sink: None,
            },
            feature_dim,
        })
    }

    /// The metadata.
    pub fn meta(&self) -> &ClassifierMeta {
        &self.meta
    }

    /// F, the size of the penultimate features.
    pub fn feature_dim(&self) -> usize {
        self.feature_dim
    }

    /// K, the number of classes.
    pub fn num_classes(&self) -> usize {
        self.meta.network.outputs
    }

    /// The input image shape `[C, S, S]`.
    pub fn input_shape(&self) -> [usize; 3] {
        let n = &self.meta.network;
        [n.channels, n.image_size, n.image_size]
    }

    /// Penultimate features of `n` images `[n, C, S, S]` in [-1, 1] (the generator's output
    /// convention): `[n, F]` row-major, computed [`FEATURE_BATCH`] images at a time.
    pub fn features(&self, images: &[f32], n: usize) -> Result<Vec<f32>> {
        self.run(images, n, false)
    }

    /// Class logits of `n` images `[n, C, S, S]` in [-1, 1]: `[n, K]` row-major.
    pub fn logits(&self, images: &[f32], n: usize) -> Result<Vec<f32>> {
        self.run(images, n, true)
    }

    /// The most likely class of each of `n` images `[n, C, S, S]`.
    pub fn predict(&self, images: &[f32], n: usize) -> Result<Vec<usize>> {
        let k = self.num_classes();
        Ok(self
            .logits(images, n)?
            .chunks_exact(k)
            .map(|row| (0..k).fold(0, |best, i| if row[i] > row[best] { i } else { best }))
            .collect())
    }

    fn run(&self, images: &[f32], n: usize, logits: bool) -> Result<Vec<f32>> {
        let [c, s, _] = self.input_shape();
        let per = c * s * s;
        if n.checked_mul(per) != Some(images.len()) {
            return Err(Error::Shape(format!(
                "{} values are not {n} images of [{c}, {s}, {s}]",
                images.len()
            )));
        }
        let width = if logits {
            self.num_classes()
        } else {
            self.feature_dim
        };
        let mut out = Vec::with_capacity(n * width);
        for chunk in images.chunks(FEATURE_BATCH * per) {
            let m = chunk.len() / per;
            let x = Tensor::from_slice(chunk, (m, c, s, s), &self.backend.device)?; // [m, C, S, S]
            let (y, f) = self.network.forward(&self.backend, &x)?; // [m, K], [m, F]
            let t = if logits { y } else { f }; // [m, width]
            out.extend(t.flatten_all()?.to_vec1::<f32>()?);
        }
        Ok(out)
    }
}
