//! The analyses the page runs, on the engine the model was loaded on (WebGPU or candle; the
//! page loads the model a second time in a worker of the analyses' own): influence maps and
//! modules (counterfactuals), unit statistics with IoU labels and the causal effect of units
//! on a concept (GAN Dissection), concept groups (interpretable GANs), bucket responsibility
//! (RPGAN). Each resolves a promise; long ones report progress through a JS callback
//! `progress(done, total)`.

use ganscope_analysis::ace::{causal_effect, concept_means};
use ganscope_analysis::buckets::{responsibility, BucketOptions};
use ganscope_analysis::dissect::{dissect, sample, unit_stats, RuleSegmenter, Segmenter};
use ganscope_analysis::groups::concept_groups;
use ganscope_analysis::influence::{influence_maps, modules};
use ganscope_analysis::locality::{locality, REGION};
use ganscope_analysis::metrics::{ClassifierFeatures, Features};
use ganscope_analysis::renderer::Renderer;
use ganscope_model::classifier::Classifier;
use serde::Serialize;
use wasm_bindgen::prelude::*;

use crate::{js, parse, site_index, Lab};

/// Most samples a unit statistics call renders.
const MAX_SAMPLES: usize = 4096;
/// Most evaluations of bucket responsibility.
const MAX_EVALUATIONS: usize = 1000;
/// Most pairs of influence maps.
const MAX_PAIRS: usize = 1024;
/// Most samples of concept groups' profiles.
const MAX_GROUP_SAMPLES: usize = 512;

pub(crate) fn to_js<T: Serialize>(v: &T) -> Result<JsValue, JsValue> {
    v.serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(js)
}

/// Runs an analysis as a promise (rejecting with its message).
pub(crate) fn promise(
    f: impl std::future::Future<Output = Result<JsValue, JsValue>> + 'static,
) -> js_sys::Promise {
    wasm_bindgen_futures::future_to_promise(f)
}

/// Sets `key` of `obj`.
pub(crate) fn set(obj: &js_sys::Object, key: &str, v: JsValue) -> Result<(), JsValue> {
    js_sys::Reflect::set(obj, &key.into(), &v).map(|_| ())
}

fn reporter(f: &js_sys::Function) -> impl FnMut(usize, usize) + '_ {
    move |done, total| {
        // a throwing callback only loses a progress update
        let _ = f.call2(&JsValue::NULL, &done.into(), &total.into());
    }
}

/// Per-unit results of [`Lab::units`].
#[derive(Serialize)]
struct Units {
    site: String,
    samples: usize,
    /// Quantiles, threshold, top samples (seed order indices).
    units: Vec<ganscope_analysis::dissect::UnitStats>,
    /// Best concept and its IoU per unit (colour models: the rule segmenter).
    labels: Option<Vec<(String, f64)>>,
}

#[wasm_bindgen]
impl Lab {
    /// Influence maps of every channel of `site` over `pairs` sample pairs of `seed` (donors
    /// from `seed + 1`). Resolves to `{channels, size, maps}` with `maps` a `Float32Array` of
    /// `[channels, size * size]`; the maps are kept for [`Lab::modules`].
    pub fn influence(
        &self,
        site: String,
        pairs: usize,
        seed: u32,
        progress: js_sys::Function,
    ) -> js_sys::Promise {
        let (slot, store) = (self.engine.clone(), self.maps.clone());
        promise(async move {
            if pairs > MAX_PAIRS {
                return Err(js(format!("{pairs} pairs; at most {MAX_PAIRS}")));
            }
            let mut e = slot.take().map_err(js)?;
            let s = site_index(e.config(), &site).map_err(js)?;
            let mut p = reporter(&progress);
            let maps = influence_maps(&mut e, s, pairs, u64::from(seed), &mut p)
                .await
                .map_err(js)?;
            let out = js_sys::Object::new();
            set(&out, "channels", maps.channels.into())?;
            set(&out, "size", maps.size.into())?;
            set(
                &out,
                "maps",
                js_sys::Float32Array::from(&maps.maps[..]).into(),
            )?;
            *store.borrow_mut() = Some(maps);
            Ok(out.into())
        })
    }

    /// Clusters the last influence maps into `k` modules (3x3 smoothing, 75th-percentile
    /// threshold, NMF seeded with `seed`). Returns `{k, labels, templates, size, error}`.
    pub fn modules(&self, k: usize, seed: u32) -> Result<JsValue, JsValue> {
        let maps = self.maps.borrow();
        let maps = maps
            .as_ref()
            .ok_or_else(|| js("compute the influence maps first"))?;
        to_js(&modules(maps, k, 3, 0.75, u64::from(seed)).map_err(js)?)
    }

    /// Concept groups (Li et al.): the filters of `site` clustered into `k` groups by where
    /// they fire over `samples` samples of `seed` (k-means of unit-length activation
    /// profiles). Resolves to `{site, k, labels, inertia, samples}`: `labels[c]` is filter c's
    /// group.
    pub fn groups(&self, site: String, k: usize, samples: usize, seed: u32) -> js_sys::Promise {
        let slot = self.engine.clone();
        promise(async move {
            if samples == 0 || samples > MAX_GROUP_SAMPLES {
                return Err(js(format!(
                    "{samples} samples; between 1 and {MAX_GROUP_SAMPLES}"
                )));
            }
            let mut e = slot.take().map_err(js)?;
            let s = site_index(e.config(), &site).map_err(js)?;
            let g = concept_groups(&mut e, s, k, samples, u64::from(seed))
                .await
                .map_err(js)?;
            to_js(&g)
        })
    }

    /// The locality of exchanging each concept group (Li et al.'s evaluation, as `ganscope
    /// analyze groups` measures it): `labels[c]` is filter c's group, over `pairs` sample
    /// pairs of `seed` (seeds `seed + 2i`, `seed + 2i + 1`), the region the top quarter of a
    /// group's mean map. Resolves to `{outside, inside, mean_outside, mean_inside, pairs,
    /// frac}`: per group the mean squared change of the image outside its region (the leak)
    /// and inside it (the effect).
    pub fn locality(
        &self,
        site: String,
        labels: Vec<u32>,
        pairs: usize,
        seed: u32,
    ) -> js_sys::Promise {
        let slot = self.engine.clone();
        promise(async move {
            if pairs == 0 || pairs > MAX_PAIRS {
                return Err(js(format!("{pairs} pairs; between 1 and {MAX_PAIRS}")));
            }
            // a group number is a filter's, so no more groups than filters are allocated
            if labels.iter().any(|&l| l as usize >= labels.len()) {
                return Err(js("a group number is at least the number of filters"));
            }
            let labels: Vec<usize> = labels.into_iter().map(|l| l as usize).collect();
            let mut e = slot.take().map_err(js)?;
            let s = site_index(e.config(), &site).map_err(js)?;
            let l = locality(&mut e, s, &labels, pairs, u64::from(seed), REGION)
                .await
                .map_err(js)?;
            to_js(&l)
        })
    }

    /// Statistics of every unit of `site` over `n` samples of `seed` under `interventions`:
    /// quantiles, threshold and `top_k` top samples, and, for a colour model, each unit's best
    /// concept with its IoU (GAN Dissection with the rule segmenter).
    pub fn units(
        &self,
        site: String,
        n: usize,
        seed: u32,
        top_k: usize,
        interventions: String,
    ) -> js_sys::Promise {
        let slot = self.engine.clone();
        promise(async move {
            if n == 0 || n > MAX_SAMPLES {
                return Err(js(format!("{n} samples; between 1 and {MAX_SAMPLES}")));
            }
            let mut e = slot.take().map_err(js)?;
            let cfg = e.config().clone();
            let s = site_index(&cfg, &site).map_err(js)?;
            let (iv, _) = parse(&cfg, &interventions).map_err(js)?;
            let smp = sample(&mut e, s, n, u64::from(seed), &iv)
                .await
                .map_err(js)?;
            drop(e);
            let (units, labels) = if cfg.channels == 3 {
                let seg = RuleSegmenter::default();
                let d =
                    dissect(&smp, &seg, cfg.channels, cfg.image_size, top_k, 0.99).map_err(js)?;
                (d.units, Some(d.labels))
            } else {
                (unit_stats(&smp, top_k, 0.99), None)
            };
            to_js(&Units {
                site,
                samples: n,
                units,
                labels,
            })
        })
    }

    /// The concepts the page's segmenter finds (the rule segmenter: background, stroke, and
    /// for colour images the stroke's hue), as JSON; [`Lab::ace`] takes their indices.
    pub fn concepts_json(&self) -> String {
        serde_json::to_string(&RuleSegmenter::default().concepts()).unwrap_or_else(|_| "[]".into())
    }

    /// The average causal effect (GAN Dissection eq. 4, normalised) of `units` of `site` on
    /// concept `concept` over `n` samples of `seed`: ablated to 0 vs inserted at each unit's
    /// mean activation where the concept is (S-6.4), measured with the rule segmenter.
    /// Resolves to `{units, base, ablated, inserted, ace, ablation_effect}`.
    pub fn ace(
        &self,
        site: String,
        units: Vec<u32>,
        concept: usize,
        n: usize,
        seed: u32,
    ) -> js_sys::Promise {
        let slot = self.engine.clone();
        promise(async move {
            if n == 0 || n > MAX_SAMPLES {
                return Err(js(format!("{n} samples; between 1 and {MAX_SAMPLES}")));
            }
            if units.is_empty() {
                return Err(js("choose the units to measure first"));
            }
            let mut e = slot.take().map_err(js)?;
            let cfg = e.config().clone();
            let s = site_index(&cfg, &site).map_err(js)?;
            let [c, ..] = ganscope_model::generator::site_shapes(&cfg)[s].1;
            let units: Vec<usize> = units.into_iter().map(|u| u as usize).collect();
            if let Some(u) = units.iter().find(|&&u| u >= c) {
                return Err(js(format!("unit {u}; {site} has {c} units")));
            }
            let seg = RuleSegmenter::default();
            let seed = u64::from(seed);
            let plain = ganscope_model::intervention::Interventions::default();
            let smp = sample(&mut e, s, n, seed, &plain).await.map_err(js)?;
            let all = concept_means(&smp, &seg, cfg.channels, cfg.image_size, concept);
            let values: Vec<f32> = units
                .iter()
                .map(|&u| all.get(u).copied().unwrap_or(0.0))
                .collect();
            let r = causal_effect(&mut e, &seg, s, &units, &values, None, concept, n, seed)
                .await
                .map_err(js)?;
            to_js(&r)
        })
    }

    /// RPGAN bucket responsibility (sec. 4.1) over `evaluations` random paths of `seed`:
    /// colour, and semantics when `classifier` holds a classifier file's bytes (empty: none).
    pub fn responsibility(
        &self,
        evaluations: usize,
        seed: u32,
        classifier: Vec<u8>,
        progress: js_sys::Function,
    ) -> js_sys::Promise {
        let slot = self.engine.clone();
        promise(async move {
            if evaluations == 0 || evaluations > MAX_EVALUATIONS {
                return Err(js(format!(
                    "{evaluations} evaluations; between 1 and {MAX_EVALUATIONS}"
                )));
            }
            let features = if classifier.is_empty() {
                None
            } else {
                Some(ClassifierFeatures(
                    Classifier::load(&classifier).map_err(js)?,
                ))
            };
            let mut e = slot.take().map_err(js)?;
            let o = BucketOptions {
                evaluations,
                images: 4,
                seed: u64::from(seed),
            };
            let f = features.as_ref().map(|f| f as &dyn Features);
            let res = responsibility(&mut e, f, &o, &mut reporter(&progress))
                .await
                .map_err(js)?;
            to_js(&res)
        })
    }
}
