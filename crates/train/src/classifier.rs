//! `ganscope classifier`: the discriminator network with one output per class, trained with
//! softmax cross-entropy on the dataset's labels (plain Adam, no spectral norm, cosine
//! learning-rate decay), evaluated on the test split and written as a classifier file
//! (`ganscope_model::classifier`): the feature network of the analysis crate.
//!
//! Everything random derives from the seed: the initial weights, the data order and, for
//! colored MNIST, the colours. Those come from seeds of their own, one for the training
//! images and another for the test images, both different from the colour seed of the GANs
//! (their `--seed`, 0 by default): the classifier must recognise digits in colours it has
//! not seen with them.

use crate::adam::Adam;
use crate::export::now_rfc3339;
use crate::options::ClassifierOptions;
use crate::store::{name_hash, ParamStore};
use crate::trainer::{device, epoch_batch};
use crate::{Result, TrainError};
use candle_core::{DType, Device, Tensor, D};
use ganscope_data::{load, Dataset, LoadOptions, Source, Split};
use ganscope_model::candle_backend::CandleBackend;
use ganscope_model::classifier::{classifier_to_bytes, Classifier, ClassifierMeta};
use ganscope_model::config::{DiscriminatorConfig, Family};
use ganscope_model::discriminator::Discriminator;
use ganscope_model::format::{DatasetMeta, NamedTensor};

/// The colour seed of colored-MNIST images of a split (see the module doc).
pub fn colour_seed(seed: u64, split: Split) -> u64 {
    let name = if split == Split::Train {
        "train"
    } else {
        "test"
    };
    name_hash(&format!("classifier-colours/{name}/{seed}"))
}

/// Loads a split of the data the options name.
pub fn load_split(o: &ClassifierOptions, split: Split) -> Result<Dataset> {
    let source: Source = o.source().parse()?;
    Ok(load(
        &source,
        &LoadOptions {
            size: o.size,
            channels: o.channels(),
            colored: o.colored,
            split,
            limit: if split == Split::Train {
                o.limit
            } else {
                o.test_limit
            },
            seed: colour_seed(o.seed, split),
        },
    )?)
}

/// Mean softmax cross-entropy of `logits [B, K]` against `labels` (K classes).
pub fn cross_entropy(logits: &Tensor, labels: &[u32]) -> Result<Tensor> {
    let (b, k) = logits.dims2()?;
    let mut onehot = vec![0f32; b * k];
    for (i, &l) in labels.iter().enumerate() {
        if let Some(v) = onehot.get_mut(i * k + l as usize) {
            *v = 1.0;
        }
    }
    let onehot = Tensor::from_vec(onehot, (b, k), logits.device())?; // [B, K]
    let max = logits.max_keepdim(D::Minus1)?.detach(); // [B, 1]
    let shifted = logits.broadcast_sub(&max)?; // [B, K]
    let lse = shifted.exp()?.sum_keepdim(D::Minus1)?.log()?; // [B, 1]
    let picked = (shifted * onehot)?.sum_keepdim(D::Minus1)?; // [B, 1]
    Ok((lse - picked)?.mean_all()?)
}

/// A classifier being trained.
pub struct ClassifierTrainer {
    /// The options.
    pub opts: ClassifierOptions,
    /// The network (a discriminator with one output per class).
    pub config: DiscriminatorConfig,
    /// Every variable.
    pub store: ParamStore,
    /// The network over the store's variables.
    pub net: Discriminator<Tensor>,
    /// The optimiser.
    pub adam: Adam,
    /// Training images.
    pub data: Dataset,
    /// Steps done.
    pub step: u64,
    /// Seconds of training.
    pub seconds: f64,
    device: Device,
    perm: Option<(u64, Vec<usize>)>,
}

/// The numbers of one step.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ClassifierStep {
    /// Steps done after this one.
    pub step: u64,
    /// Cross-entropy of the batch.
    pub loss: f32,
    /// Accuracy on the batch (before the update).
    pub accuracy: f32,
}

impl ClassifierTrainer {
    /// A fresh classifier for `data`, weights initialised from the seed.
    pub fn new(opts: ClassifierOptions, data: Dataset) -> Result<Self> {
        opts.validate().map_err(TrainError::Options)?;
        if data.is_empty() || data.classes.len() < 2 {
            return Err(TrainError::Options(format!(
                "{} has {} images in {} classes; a classifier needs images of 2 or more",
                data.name,
                data.len(),
                data.classes.len()
            )));
        }
        let mut config =
            DiscriminatorConfig::new(Family::Dcgan, opts.size, data.channels, opts.width)?;
        config.outputs = data.classes.len();
        config.validate()?;
        let device = device(&opts.device)?;
        let mut store = ParamStore::new(opts.seed, &device);
        let net = Discriminator::new(&config, &mut store)?;
        let adam = Adam::new(store.trainable_with("d."), opts.lr, 0.9, 0.999)?;
        Ok(ClassifierTrainer {
            opts,
            config,
            store,
            net,
            adam,
            data,
            step: 0,
            seconds: 0.0,
            device,
            perm: None,
        })
    }

    /// The learning rate of step `t` (0-based): cosine from `lr` down to `lr / 20`.
    pub fn lr_at(&self, t: u64) -> f64 {
        let frac = t as f64 / self.opts.steps.max(1) as f64;
        let cos = 0.5 * (1.0 + (std::f64::consts::PI * frac.min(1.0)).cos());
        self.opts.lr * (0.05 + 0.95 * cos)
    }

    /// One Adam step on one batch.
    pub fn train_step(&mut self) -> Result<ClassifierStep> {
        let t0 = std::time::Instant::now();
        let idx = epoch_batch(
            &mut self.perm,
            self.opts.seed,
            self.data.len(),
            self.opts.batch,
            self.step,
        );
        let labels: Vec<u32> = idx.iter().map(|&i| self.data.labels[i]).collect();
        let s = self.config.image_size;
        let x = Tensor::from_vec(
            self.data.batch(&idx),
            (idx.len(), self.config.channels, s, s),
            &self.device,
        )?; // [B, C, S, S]
        let be = CandleBackend {
            device: self.device.clone(),
            train: true,
            sink: None,
        };
        let (logits, _) = self.net.forward(&be, &x)?; // [B, K]
        let loss = cross_entropy(&logits, &labels)?;
        let value = loss.to_scalar::<f32>()?;
        if !value.is_finite() {
            return Err(TrainError::NonFinite {
                step: self.step + 1,
                what: "classifier loss",
            });
        }
        let pred = logits.argmax(D::Minus1)?.to_vec1::<u32>()?; // [B]
        let hits = pred.iter().zip(&labels).filter(|(p, l)| p == l).count();
        self.adam.lr = self.lr_at(self.step);
        self.adam.step(&loss.backward()?)?;
        self.step += 1;
        self.seconds += t0.elapsed().as_secs_f64();
        Ok(ClassifierStep {
            step: self.step,
            loss: value,
            accuracy: hits as f32 / labels.len() as f32,
        })
    }

    /// The weights as named tensors, in the network's order.
    pub fn tensors(&self) -> Result<Vec<NamedTensor>> {
        let mut out = Vec::new();
        for (name, var) in &self.store.vars {
            let t = var.as_tensor().to_dtype(DType::F32)?;
            out.push((
                name.clone(),
                t.dims().to_vec(),
                t.flatten_all()?.to_vec1::<f32>()?,
            ));
        }
        Ok(out)
    }

    /// The classifier file's metadata (test accuracy not yet known).
    pub fn meta(&self, last_loss: f32) -> Result<ClassifierMeta> {
        let mut meta = ClassifierMeta::new(self.config.clone(), self.data.classes.clone());
        let (mean, std) = self.data.channel_stats();
        meta.dataset = Some(DatasetMeta {
            name: self.data.name.clone(),
            images: self.data.len(),
            mean,
            std,
        });
        meta.training = Some(serde_json::json!({
            "steps": self.step,
            "final_loss": last_loss,
            "seconds": self.seconds,
            "date": now_rfc3339(),
            "tool_version": env!("CARGO_PKG_VERSION"),
            "colour_seeds": self.opts.colored.then(|| [
                colour_seed(self.opts.seed, Split::Train),
                colour_seed(self.opts.seed, Split::Test),
            ]),
            "options": serde_json::to_value(&self.opts)?,
        }));
        Ok(meta)
    }
}

/// Accuracy of a loaded classifier on a dataset of the same image shape.
pub fn accuracy(c: &Classifier, data: &Dataset) -> Result<f32> {
    if data.is_empty() {
        return Err(TrainError::Options("no test images to evaluate on".into()));
    }
    let mut hits = 0usize;
    let idx: Vec<usize> = (0..data.len()).collect();
    for chunk in idx.chunks(1000) {
        let pred = c.predict(&data.batch(chunk), chunk.len())?;
        hits += chunk
            .iter()
            .zip(&pred)
            .filter(|(&i, &p)| data.labels[i] as usize == p)
            .count();
    }
    Ok(hits as f32 / data.len() as f32)
}

/// The finished classifier file: the weights with their metadata, the test accuracy measured
/// on exactly these bytes (f16 rounding included) and stored in them.
pub fn finish(
    tr: &ClassifierTrainer,
    test: &Dataset,
    last_loss: f32,
    half: bool,
) -> Result<(ClassifierMeta, Vec<u8>)> {
    let tensors = tr.tensors()?;
    let mut meta = tr.meta(last_loss)?;
    let bytes = classifier_to_bytes(&meta, &tensors, half)?;
    let acc = accuracy(&Classifier::load(&bytes)?, test)?;
    meta.test_accuracy = Some(acc);
    if let Some(t) = meta.training.as_mut().and_then(|t| t.as_object_mut()) {
        t.insert("test_images".into(), test.len().into());
    }
    let bytes = classifier_to_bytes(&meta, &tensors, half)?;
    Ok((meta, bytes))
}
