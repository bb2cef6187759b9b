//! The backend a `Lab` renders and analyses on: WebGPU through `ganscope-gpu`, or candle on
//! the CPU. A call takes the [`Engine`] out of its [`Slot`] as a [`Taken`], a [`Renderer`],
//! so the analyses run on whichever the page chose, their GPU readbacks awaited (the
//! worker's event loop runs between them, and can cancel them).

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use ganscope_analysis::renderer::{CpuRenderer, Frames, GpuRenderer, Renderer, Rendering};
use ganscope_analysis::Error;
use ganscope_gpu::{Gpu, GpuModel};
use ganscope_model::config::GeneratorConfig;
use ganscope_model::intervention::{MixVectors, Resolved};
use ganscope_model::sample::Batch;

/// A generator on one backend.
pub enum Engine {
    /// WebGPU.
    Gpu(Box<GpuRenderer>),
    /// candle in wasm.
    Cpu(Box<CpuRenderer>),
}

impl Engine {
    /// Requests the WebGPU adapter and device and uploads the model.
    pub async fn gpu(bytes: Vec<u8>) -> Result<Engine, String> {
        let gpu = Gpu::new().await.map_err(|e| e.to_string())?;
        let model = GpuModel::load(gpu, bytes).map_err(|e| e.to_string())?;
        Ok(Engine::Gpu(Box::new(GpuRenderer::new(model))))
    }

    /// The engine as a [`Renderer`].
    pub fn renderer(&mut self) -> &mut dyn Renderer {
        match self {
            Engine::Gpu(r) => r.as_mut(),
            Engine::Cpu(r) => r.as_mut(),
        }
    }

    /// The generator's architecture.
    pub fn config(&self) -> &GeneratorConfig {
        match self {
            Engine::Gpu(r) => r.config(),
            Engine::Cpu(r) => r.config(),
        }
    }

    /// The backend, in words.
    pub fn describe(&self) -> String {
        match self {
            Engine::Gpu(r) => format!("WebGPU on {}", r.model().backend().gpu().describe()),
            Engine::Cpu(_) => "CPU (candle in wasm)".into(),
        }
    }
}

/// The engine's place in a `Lab`: empty while a call has the engine (so a second call
/// meanwhile is refused rather than interleaved), and a flag that stops the call at its next
/// render ([`Slot::cancel`]).
pub struct Slot {
    engine: RefCell<Option<Engine>>,
    cancelled: Cell<bool>,
}

impl Slot {
    /// A slot holding `engine`.
    pub fn new(engine: Engine) -> Rc<Slot> {
        Rc::new(Slot {
            engine: RefCell::new(Some(engine)),
            cancelled: Cell::new(false),
        })
    }

    /// Takes the engine for one call, or says that another call has it.
    pub fn take(self: &Rc<Self>) -> Result<Taken, String> {
        let engine = self
            .engine
            .try_borrow_mut()
            .ok()
            .and_then(|mut s| s.take())
            .ok_or_else(|| crate::BUSY.to_string())?;
        self.cancelled.set(false);
        Ok(Taken {
            slot: self.clone(),
            config: engine.config().clone(),
            engine: Some(engine),
        })
    }

    /// `f` of the engine when no call has it.
    pub fn with<R>(&self, f: impl FnOnce(&Engine) -> R) -> Result<R, String> {
        let e = self
            .engine
            .try_borrow()
            .map_err(|_| crate::BUSY.to_string())?;
        e.as_ref().map(f).ok_or_else(|| crate::BUSY.to_string())
    }

    /// Makes the call that has the engine fail with [`Error::Cancelled`] at its next render
    /// (an analysis on WebGPU awaits each readback, so the worker can take this message
    /// meanwhile; its GPU work already submitted finishes, none is added).
    pub fn cancel(&self) {
        self.cancelled.set(true);
    }
}

/// The engine taken out of its [`Slot`] for one call; put back when dropped (also when the
/// call fails or its promise is dropped). It renders as its engine, until cancelled.
pub struct Taken {
    slot: Rc<Slot>,
    config: GeneratorConfig,
    engine: Option<Engine>,
}

impl Taken {
    fn engine(&mut self) -> Result<&mut dyn Renderer, Error> {
        if self.slot.cancelled.get() {
            return Err(Error::Cancelled);
        }
        self.engine
            .as_mut()
            .map(Engine::renderer)
            .ok_or(Error::Cancelled)
    }
}

impl Renderer for Taken {
    fn config(&self) -> &GeneratorConfig {
        &self.config
    }

    fn describe(&self) -> String {
        self.engine
            .as_ref()
            .map(Engine::describe)
            .unwrap_or_default()
    }

    fn render<'a>(
        &'a mut self,
        batch: &'a Batch,
        resolved: &'a Resolved,
        sites: &'a [usize],
    ) -> Rendering<'a, Frames> {
        match self.engine() {
            Ok(e) => e.render(batch, resolved, sites),
            Err(err) => Box::pin(std::future::ready(Err(err))),
        }
    }

    fn hybrid_sets<'a>(
        &'a mut self,
        batch: &'a Batch,
        resolved: &'a Resolved,
        site: usize,
        sets: &'a [MixVectors],
    ) -> Rendering<'a, Vec<f32>> {
        match self.engine() {
            Ok(e) => e.hybrid_sets(batch, resolved, site, sets),
            Err(err) => Box::pin(std::future::ready(Err(err))),
        }
    }
}

impl Drop for Taken {
    fn drop(&mut self) {
        if let Ok(mut s) = self.slot.engine.try_borrow_mut() {
            *s = self.engine.take();
        }
    }
}
