//! What the page, its tests and benchmarks read about a loaded model besides images: the
//! latents of a seed (to feed another runtime the same z), the GPU's resource counts (to
//! watch for leaks over long sessions), and a way to lose the WebGPU device on purpose (to
//! test recovery).

use ganscope_model::sample::Batch;
use wasm_bindgen::prelude::*;

use crate::engine::Engine;
use crate::{jserr, Lab};

#[wasm_bindgen]
impl Lab {
    /// The latents `[n, latent_dim]` of samples 0..n of `seed` (what `render` feeds the
    /// generator); empty for a constant-input RPGAN.
    pub fn latents(&self, seed: u32, n: usize) -> Result<Vec<f32>, JsError> {
        let plain = ganscope_model::intervention::Interventions::default();
        let batch = Batch::new(&self.config, u64::from(seed), n, &plain).map_err(jserr)?;
        Ok(batch.z.unwrap_or_default())
    }

    /// Resource counts as JSON: `{"gpu_buffers": created by the pools so far,
    /// "bind_groups": cached}` on WebGPU, `{}` on the CPU.
    pub fn stats_json(&self) -> Result<String, JsError> {
        self.engine
            .with(|e| match e {
                Engine::Gpu(r) => {
                    // two integers: no escaping (serde_json's Value would add to the wasm)
                    let rec = &r.model().backend().rec;
                    format!(
                        "{{\"gpu_buffers\":{},\"bind_groups\":{}}}",
                        rec.buffers_created(),
                        rec.bind_groups()
                    )
                }
                Engine::Cpu(_) => "{}".into(),
            })
            .map_err(jserr)
    }

    /// Destroys the WebGPU device, as a driver reset or a lost GPU would (tests of recovery:
    /// the next render re-creates the device). False on the CPU.
    pub fn lose_device(&self) -> Result<bool, JsError> {
        self.engine
            .with(|e| match e {
                Engine::Gpu(r) => {
                    r.model().backend().gpu().device.destroy();
                    true
                }
                Engine::Cpu(_) => false,
            })
            .map_err(jserr)
    }

    /// Stops the analysis running on this model at its next render (it rejects with
    /// "cancelled"); see `engine::Slot::cancel`.
    pub fn cancel(&self) {
        self.engine.cancel();
    }
}
