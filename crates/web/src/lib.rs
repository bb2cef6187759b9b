//! ganscope-web: the wasm-bindgen layer the page in `www/` calls. It loads a model file from
//! bytes, renders it on WebGPU (through `ganscope-gpu`) with paths, unit edits and hybrids
//! given as the same JSON the CLI reads, and returns images as `Float32Array`s or RGBA bytes.
//! Errors cross the boundary as `JsError`s with the model crate's messages; nothing panics.

use std::cell::RefCell;
use std::rc::Rc;

use ganscope_gpu::{Gpu, GpuModel};
use ganscope_model::intervention::{Interventions, Resolved};
use ganscope_model::sample::Batch;
use wasm_bindgen::prelude::*;

fn js(e: impl std::fmt::Display) -> JsValue {
    JsError::new(&e.to_string()).into()
}

/// A model loaded on the GPU.
#[wasm_bindgen]
pub struct Lab {
    /// `None` while a render has the model (a second call meanwhile is refused).
    model: Rc<RefCell<Option<GpuModel>>>,
    adapter: String,
    meta: String,
}

const BUSY: &str = "the model is busy with another render";

async fn render_json(m: &mut GpuModel, seed: u32, n: usize, iv: &str) -> Result<Vec<f32>, JsValue> {
    let iv = if iv.trim().is_empty() {
        Interventions::default()
    } else {
        Interventions::from_json(iv).map_err(js)?
    };
    let cfg = m.meta.generator.clone();
    let resolved = Resolved::new(&cfg, &iv).map_err(js)?;
    let batch = Batch::new(&cfg, u64::from(seed), n, &iv).map_err(js)?;
    Ok(m.render(&batch, &resolved, &[]).await.map_err(js)?.images)
}

#[wasm_bindgen]
impl Lab {
    /// Requests the WebGPU adapter and device, checks the model file and uploads its
    /// weights. Resolves to a `Lab`.
    pub async fn load(bytes: Vec<u8>) -> Result<Lab, JsError> {
        let gpu = Gpu::new().await.map_err(|e| JsError::new(&e.to_string()))?;
        let adapter = gpu.describe();
        let model = GpuModel::load(gpu, bytes).map_err(|e| JsError::new(&e.to_string()))?;
        let meta = serde_json::to_string(&model.meta).map_err(|e| JsError::new(&e.to_string()))?;
        Ok(Lab {
            model: Rc::new(RefCell::new(Some(model))),
            adapter,
            meta,
        })
    }

    /// The adapter's name, backend and device type.
    pub fn adapter(&self) -> String {
        self.adapter.clone()
    }

    /// The model's metadata as JSON (architecture, sites, dataset, training summary).
    pub fn meta_json(&self) -> String {
        self.meta.clone()
    }

    /// Renders `n` samples of `seed` under `interventions` (JSON: `{"path": [...],
    /// "edits": [...], "hybrid": {...}}`, or empty). Resolves to a `Float32Array` of
    /// `[n, C, S, S]` values in [-1, 1].
    pub fn render(&self, seed: u32, n: usize, interventions: &str) -> js_sys::Promise {
        let slot = self.model.clone();
        let iv = interventions.to_string();
        wasm_bindgen_futures::future_to_promise(async move {
            let mut m = slot.borrow_mut().take().ok_or_else(|| js(BUSY))?;
            let r = render_json(&mut m, seed, n, &iv).await;
            *slot.borrow_mut() = Some(m);
            Ok(js_sys::Float32Array::from(&r?[..]).into())
        })
    }
}
