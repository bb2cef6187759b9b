//! ganscope-web: the wasm-bindgen layer the page in `www/` calls (from a Web Worker, so the
//! page stays responsive). It loads a model file from bytes and renders it with paths, unit
//! edits and hybrids given as the same JSON the CLI reads, on WebGPU (through `ganscope-gpu`)
//! or on the CPU (candle compiled to wasm), and runs the analyses of `ganscope-analysis` with
//! progress callbacks. Errors cross the boundary as `JsError`s carrying the model crate's
//! messages; nothing panics on bad input.

mod analyses;
mod directions;
mod engine;
mod probe;

use std::cell::RefCell;
use std::rc::Rc;

use engine::{Engine, Slot};
use ganscope_analysis::renderer::Renderer;
use ganscope_model::config::GeneratorConfig;
use ganscope_model::intervention::{Interventions, Resolved};
use ganscope_model::sample::Batch;
use wasm_bindgen::prelude::*;

pub(crate) fn js(e: impl std::fmt::Display) -> JsValue {
    JsError::new(&e.to_string()).into()
}

pub(crate) fn jserr(e: impl std::fmt::Display) -> JsError {
    JsError::new(&e.to_string())
}

/// Parses interventions JSON (empty: none) against the model.
pub(crate) fn parse(
    cfg: &ganscope_model::config::GeneratorConfig,
    iv: &str,
) -> Result<(Interventions, Resolved), String> {
    let iv = if iv.trim().is_empty() {
        Interventions::default()
    } else {
        Interventions::from_json(iv).map_err(|e| e.to_string())?
    };
    let resolved = Resolved::new(cfg, &iv).map_err(|e| e.to_string())?;
    Ok((iv, resolved))
}

/// Whether `bytes` are a PyTorch checkpoint or a plain safetensors state dict, not a ganscope
/// model ([`ganscope_import::is_checkpoint`]): such bytes go through [`import_checkpoint`]
/// first.
#[wasm_bindgen]
pub fn is_checkpoint(bytes: &js_sys::Uint8Array) -> bool {
    // only the first bytes cross into wasm memory (a whole model file took 30-40 ms)
    let prefix = |n: usize| {
        bytes
            .subarray(0, n.min(bytes.length() as usize) as u32)
            .to_vec()
    };
    let first = prefix(262);
    ganscope_import::is_checkpoint(&prefix(ganscope_import::checkpoint_prefix_len(&first)))
}

/// Imports a PyTorch checkpoint (a `torch.save` file) or a safetensors state dict named
/// `name` as `ganscope import` does (the same code and checks; nothing in the file runs).
/// Resolves to `{bytes, report}`: the model file (f32) and what the import found, a line
/// each.
#[wasm_bindgen]
pub fn import_checkpoint(bytes: &[u8], name: &str) -> Result<JsValue, JsError> {
    let m = ganscope_import::import(bytes, name, &ganscope_import::Options::default())
        .map_err(jserr)?;
    let file = ganscope_import::to_bytes(&m, false).map_err(jserr)?;
    let out = js_sys::Object::new();
    let set = |k: &str, v: &JsValue| js_sys::Reflect::set(&out, &k.into(), v).map(|_| ());
    set("bytes", &js_sys::Uint8Array::from(&file[..]).into()).map_err(|_| jserr("import"))?;
    set("report", &m.report.join("\n").into()).map_err(|_| jserr("import"))?;
    Ok(out.into())
}

/// A model loaded on one backend, which renders it and runs the analyses.
#[wasm_bindgen]
pub struct Lab {
    /// Empty while a call has the engine (a second call meanwhile is refused).
    engine: Rc<Slot>,
    /// The generator's architecture.
    config: GeneratorConfig,
    backend: String,
    meta: String,
    /// The first layer's action on z (SeFa), when the model has a latent.
    latent: Option<Rc<ganscope_analysis::directions::LatentMatrix>>,
    /// The model card's parameter counts and file size (with `meta`; the text needs the
    /// name the page shows).
    card: (ganscope_model::card::ParamCounts, usize),
    /// The influence maps of the last `influence` call (the modules are computed from them).
    maps: Rc<RefCell<Option<ganscope_analysis::influence::InfluenceMaps>>>,
}

pub(crate) const BUSY: &str = "the model is busy with another call";

#[wasm_bindgen]
impl Lab {
    /// Checks the model file and loads it on `backend`: `"gpu"` (requests the WebGPU adapter
    /// and device and uploads the weights) or `"cpu"` (candle in wasm). Resolves to a `Lab`.
    pub async fn load(bytes: Vec<u8>, backend: String) -> Result<Lab, JsError> {
        // one parse gives the metadata, the card and (on the CPU) the generator
        let file = ganscope_model::format::ModelFile::parse(&bytes).map_err(jserr)?;
        let params = ganscope_model::card::ParamCounts::of(&file);
        let latent = ganscope_analysis::directions::latent_matrix(&file)
            .ok()
            .map(Rc::new);
        let meta = serde_json::to_string(&file.meta).map_err(jserr)?;
        let card = (params, bytes.len());
        let config = file.meta.generator.clone();
        // only the CPU engine needs the generator on candle
        let engine = match backend.as_str() {
            "gpu" => Engine::gpu(bytes).await.map_err(jserr)?,
            "cpu" => {
                let device = ganscope_model::candle_backend::CandleBackend::cpu().device;
                let m = ganscope_model::candle_backend::from_file(file, &device).map_err(jserr)?;
                Engine::Cpu(Box::new(ganscope_analysis::renderer::CpuRenderer::new(
                    m.generator,
                )))
            }
            other => {
                return Err(jserr(format!(
                    "unknown backend {other:?}: it is \"gpu\" or \"cpu\""
                )))
            }
        };
        Ok(Lab {
            backend: engine.describe(),
            engine: Slot::new(engine),
            config,
            meta,
            latent,
            card,
            maps: Rc::new(RefCell::new(None)),
        })
    }

    /// The backend, in words (e.g. `WebGPU on google swiftshader` or `CPU (wasm)`).
    pub fn backend(&self) -> String {
        self.backend.clone()
    }

    /// The model's metadata as JSON (architecture, sites, dataset, training summary).
    pub fn meta_json(&self) -> String {
        self.meta.clone()
    }

    /// The model card, as `ganscope info` prints it, for the file shown as `name`.
    pub fn card(&self, name: &str) -> String {
        let (params, bytes) = self.card;
        match serde_json::from_str(&self.meta) {
            Ok(meta) => ganscope_model::card::card(&meta, params, name, bytes),
            Err(e) => format!("model: {name} (its metadata cannot be shown: {e})"),
        }
    }

    /// The generator's sites as JSON: `[[name, [C, H, W]], ...]`.
    pub fn sites_json(&self) -> String {
        let sites = ganscope_model::generator::site_shapes(&self.config);
        serde_json::to_string(&sites).unwrap_or_else(|_| "[]".into())
    }

    /// Renders `n` samples of `seed` under `interventions` (JSON: `{"path": [...],
    /// "edits": [...], "hybrid": {...}}`, or empty) and reads back the activations of `site`
    /// (a site name, or empty for none). Resolves to `{images, site?}`: `Float32Array`s of
    /// `[n, C, S, S]` values in [-1, 1] and `[n, C, H, W]` activations after the edits.
    pub fn render(&self, seed: u32, n: usize, interventions: &str, site: &str) -> js_sys::Promise {
        let slot = self.engine.clone();
        let iv = interventions.to_string();
        let site = site.to_string();
        wasm_bindgen_futures::future_to_promise(async move {
            let mut e = slot.take().map_err(js)?;
            render(&mut e, seed, n, &iv, &site).await
        })
    }

    /// The RPGAN paper's Figure 3 for sample 0 of `seed`: row i varies bucket i over all
    /// its blocks, the other buckets on `interventions`' path (a random path of `seed` when it
    /// has none), with its unit edits (a hybrid is left out). Resolves to `{images, cols,
    /// path}`: `[buckets * cols, C, S, S]` values (rows padded to the widest bucket by
    /// repeating its last block), the grid's width, and the base path. With `bucket` (0-based)
    /// only that row: `[cols, C, S, S]` (a page renders a slow grid row by row, so that other
    /// work can run between rows).
    pub fn render_grid(
        &self,
        seed: u32,
        interventions: &str,
        bucket: Option<u32>,
    ) -> js_sys::Promise {
        let slot = self.engine.clone();
        let iv = interventions.to_string();
        wasm_bindgen_futures::future_to_promise(async move {
            let mut e = slot.take().map_err(js)?;
            grid(&mut e, seed, &iv, bucket).await
        })
    }

    /// The random path sample 0 of `seed` takes when no path is given (one block index per
    /// bucket).
    pub fn random_path(&self, seed: u32) -> Vec<u32> {
        let blocks = self.config.blocks();
        ganscope_model::sample::random_paths(u64::from(seed), 1, &blocks)
            .first()
            .map(|p| p.iter().map(|&b| b as u32).collect())
            .unwrap_or_default()
    }
}

async fn grid(
    e: &mut dyn Renderer,
    seed: u32,
    iv: &str,
    bucket: Option<u32>,
) -> Result<JsValue, JsValue> {
    let cfg = e.config().clone();
    let (mut iv, _) = parse(&cfg, iv).map_err(js)?;
    iv.hybrid = None;
    let resolved = Resolved::new(&cfg, &iv).map_err(js)?;
    let base = match &iv.path {
        Some(p) => p.clone(),
        None => {
            ganscope_model::sample::random_paths(u64::from(seed), 1, &cfg.blocks()).swap_remove(0)
        }
    };
    let (batch, cols) = Batch::vary_buckets(&cfg, u64::from(seed), &base).map_err(js)?;
    let batch = match bucket {
        // the grid's rows, one per bucket, as the GPU splits a batch
        Some(b) => {
            ganscope_gpu::model::split(&batch, cols)
                .map_err(js)?
                .into_iter()
                .nth(b as usize)
                .ok_or_else(|| {
                    js(format!(
                        "bucket {b}; the model has {} buckets",
                        cfg.buckets.len()
                    ))
                })?
                .0
        }
        None => batch,
    };
    let frames = e.render(&batch, &resolved, &[]).await.map_err(js)?;
    let out = js_sys::Object::new();
    let set = |k: &str, v: JsValue| js_sys::Reflect::set(&out, &k.into(), &v);
    set(
        "images",
        js_sys::Float32Array::from(&frames.images[..]).into(),
    )?;
    set("cols", cols.into())?;
    let path: Vec<u32> = base.iter().map(|&b| b as u32).collect();
    set("path", js_sys::Uint32Array::from(&path[..]).into())?;
    Ok(out.into())
}

async fn render(
    e: &mut dyn Renderer,
    seed: u32,
    n: usize,
    iv: &str,
    site: &str,
) -> Result<JsValue, JsValue> {
    let cfg = e.config().clone();
    let (iv, resolved) = parse(&cfg, iv).map_err(js)?;
    let sites = if site.is_empty() {
        vec![]
    } else {
        vec![site_index(&cfg, site).map_err(js)?]
    };
    let batch = Batch::new(&cfg, u64::from(seed), n, &iv).map_err(js)?;
    let frames = e.render(&batch, &resolved, &sites).await.map_err(js)?;
    let out = js_sys::Object::new();
    let set = |k: &str, v: &[f32]| {
        js_sys::Reflect::set(&out, &k.into(), &js_sys::Float32Array::from(v).into())
    };
    set("images", &frames.images)?;
    if let Some(a) = frames.sites.first() {
        set("site", a)?;
    }
    Ok(out.into())
}

/// A site's index from its name, with the names there are in the error.
pub(crate) fn site_index(
    cfg: &ganscope_model::config::GeneratorConfig,
    name: &str,
) -> Result<usize, String> {
    let sites = ganscope_model::generator::site_shapes(cfg);
    sites.iter().position(|(s, _)| s == name).ok_or_else(|| {
        let names: Vec<&str> = sites.iter().map(|(s, _)| s.as_str()).collect();
        format!("no site {name:?}; the model has {}", names.join(", "))
    })
}
