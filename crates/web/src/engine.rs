//! The backend a `Lab` renders on: WebGPU through `ganscope-gpu`, or candle on the CPU.

use std::cell::RefCell;
use std::rc::Rc;

use ganscope_analysis::renderer::{CpuRenderer, Frames, Renderer};
use ganscope_gpu::{Gpu, GpuModel};
use ganscope_model::config::GeneratorConfig;
use ganscope_model::intervention::Resolved;
use ganscope_model::sample::Batch;

/// A generator on one backend.
pub enum Engine {
    /// WebGPU.
    Gpu(Box<GpuModel>),
    /// candle in wasm (the same renderer the analyses use).
    Cpu(Rc<RefCell<CpuRenderer>>),
}

impl Engine {
    /// Requests the WebGPU adapter and device and uploads the model.
    pub async fn gpu(bytes: Vec<u8>) -> Result<Engine, String> {
        let gpu = Gpu::new().await.map_err(|e| e.to_string())?;
        let model = GpuModel::load(gpu, bytes).map_err(|e| e.to_string())?;
        Ok(Engine::Gpu(Box::new(model)))
    }

    /// The backend, in words.
    pub fn describe(&self) -> String {
        match self {
            Engine::Gpu(m) => format!("WebGPU on {}", m.backend().gpu().describe()),
            Engine::Cpu(_) => "CPU (candle in wasm)".into(),
        }
    }

    /// The generator's architecture.
    pub fn config(&self) -> GeneratorConfig {
        match self {
            Engine::Gpu(m) => m.generator().config.clone(),
            Engine::Cpu(r) => r.borrow().generator().config.clone(),
        }
    }

    /// Renders `batch` under `resolved`, reading back the activations of `sites`.
    pub async fn render(
        &mut self,
        batch: &Batch,
        resolved: &Resolved,
        sites: &[usize],
    ) -> Result<Frames, String> {
        match self {
            Engine::Gpu(m) => {
                let r = m
                    .render(batch, resolved, sites)
                    .await
                    .map_err(|e| e.to_string())?;
                Ok(Frames {
                    n: batch.n,
                    images: r.images,
                    sites: r.sites.into_iter().map(|s| s.data).collect(),
                })
            }
            Engine::Cpu(r) => r
                .borrow_mut()
                .render(batch, resolved, sites)
                .map_err(|e| e.to_string()),
        }
    }
}
