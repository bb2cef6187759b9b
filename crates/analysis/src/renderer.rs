//! What an analysis needs from a backend: render a batch (images and site activations on
//! the host) and render many hybrids of one batch with the tail batched. [`CpuRenderer`]
//! runs candle; `GpuRenderer` (feature `gpu`) runs wgpu, natively and as the page's WebGPU
//! engine. Both call the model crate's prefix-reusing forward, so they compute the same
//! numbers within float tolerance.
//!
//! A render is a future, because a GPU's readback is awaited in the browser (a page's worker
//! cannot block on it). The analyses are therefore `async fn`s; native callers wait for them
//! with [`block_on`], and on the CPU every future is ready when first polled.

use std::future::Future;
use std::pin::Pin;

use ganscope_model::candle_backend::{load_candle, CandleBackend};
use ganscope_model::config::GeneratorConfig;
use ganscope_model::generator::Generator;
use ganscope_model::intervention::{MixVectors, Resolved};
use ganscope_model::sample::Batch;
use ganscope_model::shared::{render_hybrid_sets, render_shared};

use crate::Result;

/// Rows rendered at once by the analyses (bounds memory; a backend may split further).
pub const CHUNK: usize = 256;

/// A rendered batch on the host.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Frames {
    /// Samples.
    pub n: usize,
    /// `[n, C, S, S]` in [-1, 1].
    pub images: Vec<f32>,
    /// Per site asked for, `[n, C, H, W]` after the site's interventions.
    pub sites: Vec<Vec<f32>>,
}

/// A render in progress: what a [`Renderer`] returns (not `Send`: the browser's GPU objects
/// live on one thread).
pub type Rendering<'a, T> = Pin<Box<dyn Future<Output = Result<T>> + 'a>>;

/// A generator on some backend.
pub trait Renderer {
    /// The generator's architecture.
    fn config(&self) -> &GeneratorConfig;
    /// The backend, in words.
    fn describe(&self) -> String;
    /// Renders `batch` under `resolved`, reading back the activations of `sites`.
    fn render<'a>(
        &'a mut self,
        batch: &'a Batch,
        resolved: &'a Resolved,
        sites: &'a [usize],
    ) -> Rendering<'a, Frames>;
    /// [`render_hybrid_sets`]: for each set, the hybrids of the batch's `n` rows with their
    /// donors at `site`; `[sets * n, C, S, S]`, set-major.
    fn hybrid_sets<'a>(
        &'a mut self,
        batch: &'a Batch,
        resolved: &'a Resolved,
        site: usize,
        sets: &'a [MixVectors],
    ) -> Rendering<'a, Vec<f32>>;
}

/// Waits for an analysis natively (a thread blocks until a GPU readback is done; on the CPU
/// the future is ready at once).
pub fn block_on<F: Future>(f: F) -> F::Output {
    pollster::block_on(f)
}

/// Samples `range` of `seed` (latents and paths as [`Batch::new`] draws them, `path` fixed
/// when given) as a batch of their own, without [`Batch::new`]'s size cap: analyses use more
/// samples than one render takes. Sample i of a seed is the same whatever the range, so only
/// the streams' first `range.end` draws are made.
pub fn sample_rows(
    cfg: &GeneratorConfig,
    seed: u64,
    path: Option<&Vec<usize>>,
    range: std::ops::Range<usize>,
) -> Batch {
    let k = range.len();
    let z = (!cfg.constant_input).then(|| {
        let d = cfg.latent_dim;
        ganscope_model::sample::latents(seed, range.end, d)[range.start * d..].to_vec()
    });
    let paths = match path {
        Some(p) => vec![p.clone(); k],
        None => {
            ganscope_model::sample::random_paths(seed, range.end, &cfg.blocks())[range].to_vec()
        }
    };
    Batch {
        z,
        paths,
        donors: (0..k).collect(),
        n: k,
    }
}

/// Values of one image of `[N, C, S, S]` data.
pub fn image_len(cfg: &GeneratorConfig) -> usize {
    cfg.channels * cfg.image_size * cfg.image_size
}

/// The generator on candle's CPU backend.
pub struct CpuRenderer {
    generator: Generator<candle_core::Tensor>,
    backend: CandleBackend,
}

impl CpuRenderer {
    /// Loads a model file's bytes (checked like every model file).
    pub fn load(bytes: &[u8]) -> Result<Self> {
        let backend = CandleBackend::cpu();
        let m = load_candle(bytes, &backend.device)?;
        Ok(CpuRenderer {
            generator: m.generator,
            backend,
        })
    }

    /// A renderer over a generator already on candle (e.g. built in a test).
    pub fn new(generator: Generator<candle_core::Tensor>) -> Self {
        CpuRenderer {
            generator,
            backend: CandleBackend::cpu(),
        }
    }

    /// The generator.
    pub fn generator(&self) -> &Generator<candle_core::Tensor> {
        &self.generator
    }

    /// [`Renderer::render`] without the future.
    pub fn render_now(
        &self,
        batch: &Batch,
        resolved: &Resolved,
        sites: &[usize],
    ) -> Result<Frames> {
        let (y, acts) = render_shared(&self.generator, &self.backend, batch, resolved, sites)?;
        Ok(Frames {
            n: batch.n,
            images: host(&y)?,
            sites: acts.iter().map(host).collect::<Result<_>>()?,
        })
    }
}

fn host(t: &candle_core::Tensor) -> Result<Vec<f32>> {
    Ok(t.flatten_all()?.to_vec1::<f32>()?)
}

impl Renderer for CpuRenderer {
    fn config(&self) -> &GeneratorConfig {
        &self.generator.config
    }

    fn describe(&self) -> String {
        "candle on the CPU".into()
    }

    fn render<'a>(
        &'a mut self,
        batch: &'a Batch,
        resolved: &'a Resolved,
        sites: &'a [usize],
    ) -> Rendering<'a, Frames> {
        // computed now: the future is ready when first polled
        let frames = self.render_now(batch, resolved, sites);
        Box::pin(std::future::ready(frames))
    }

    fn hybrid_sets<'a>(
        &'a mut self,
        batch: &'a Batch,
        resolved: &'a Resolved,
        site: usize,
        sets: &'a [MixVectors],
    ) -> Rendering<'a, Vec<f32>> {
        let y = render_hybrid_sets(&self.generator, &self.backend, batch, resolved, site, sets)
            .map_err(Into::into)
            .and_then(|y| host(&y));
        Box::pin(std::future::ready(y))
    }
}

#[cfg(feature = "gpu")]
pub use gpu::GpuRenderer;

#[cfg(feature = "gpu")]
mod gpu {
    use super::*;
    use ganscope_gpu::{Gpu, GpuModel};

    /// The generator on wgpu (native: blocks on the device).
    pub struct GpuRenderer {
        model: GpuModel,
        config: GeneratorConfig,
    }

    impl GpuRenderer {
        /// Uploads a model file's bytes to the default adapter (native: blocks on the device).
        #[cfg(not(target_arch = "wasm32"))]
        pub fn load(bytes: &[u8]) -> Result<Self> {
            let gpu = Gpu::new_blocking()?;
            Self::with_gpu(gpu, bytes)
        }

        /// Uploads a model file's bytes to `gpu`.
        pub fn with_gpu(gpu: Gpu, bytes: &[u8]) -> Result<Self> {
            Ok(Self::new(GpuModel::load(gpu, bytes.to_vec())?))
        }

        /// A renderer over a model already on the device.
        pub fn new(model: GpuModel) -> Self {
            let config = model.generator().config.clone();
            GpuRenderer { model, config }
        }

        /// The model on the device.
        pub fn model(&self) -> &GpuModel {
            &self.model
        }
    }

    impl Renderer for GpuRenderer {
        fn config(&self) -> &GeneratorConfig {
            &self.config
        }

        fn describe(&self) -> String {
            format!("wgpu on {}", self.model.backend().gpu().describe())
        }

        fn render<'a>(
            &'a mut self,
            batch: &'a Batch,
            resolved: &'a Resolved,
            sites: &'a [usize],
        ) -> Rendering<'a, Frames> {
            Box::pin(async move {
                let r = self.model.render(batch, resolved, sites).await?;
                Ok(Frames {
                    n: batch.n,
                    images: r.images,
                    sites: r.sites.into_iter().map(|s| s.data).collect(),
                })
            })
        }

        fn hybrid_sets<'a>(
            &'a mut self,
            batch: &'a Batch,
            resolved: &'a Resolved,
            site: usize,
            sets: &'a [MixVectors],
        ) -> Rendering<'a, Vec<f32>> {
            Box::pin(async move {
                Ok(self
                    .model
                    .render_hybrid_sets(batch, resolved, site, sets)
                    .await?)
            })
        }
    }
}
