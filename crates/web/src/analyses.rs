//! The analyses the page runs, on candle in the page's worker (whatever renders the
//! images): influence maps and modules (counterfactuals), unit statistics with IoU labels
//! and the causal effect of units on a concept (GAN Dissection), concept groups (interpretable
//! GANs), bucket responsibility (RPGAN). Long ones report progress through a JS
//! callback `progress(done, total)`.

use ganscope_analysis::ace::{causal_effect, concept_means};
use ganscope_analysis::buckets::{responsibility, BucketOptions};
use ganscope_analysis::dissect::{dissect, sample, unit_stats, RuleSegmenter, Segmenter};
use ganscope_analysis::groups::concept_groups;
use ganscope_analysis::influence::{influence_maps, modules};
use ganscope_analysis::metrics::{ClassifierFeatures, Features};
use ganscope_model::classifier::Classifier;
use serde::Serialize;
use wasm_bindgen::prelude::*;

use crate::{jserr, parse, site_index, Lab};

/// Most samples a unit statistics call renders.
const MAX_SAMPLES: usize = 4096;
/// Most evaluations of bucket responsibility.
const MAX_EVALUATIONS: usize = 1000;
/// Most pairs of influence maps.
const MAX_PAIRS: usize = 1024;
/// Most samples of concept groups' profiles.
const MAX_GROUP_SAMPLES: usize = 512;

fn to_js<T: Serialize>(v: &T) -> Result<JsValue, JsError> {
    v.serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(jserr)
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
        site: &str,
        pairs: usize,
        seed: u32,
        progress: &js_sys::Function,
    ) -> Result<JsValue, JsError> {
        if pairs > MAX_PAIRS {
            return Err(jserr(format!("{pairs} pairs; at most {MAX_PAIRS}")));
        }
        let mut r = self.cpu.try_borrow_mut().map_err(|_| jserr(crate::BUSY))?;
        let s = site_index(&r.generator().config, site).map_err(jserr)?;
        let mut p = reporter(progress);
        let maps = influence_maps(&mut *r, s, pairs, u64::from(seed), &mut p).map_err(jserr)?;
        let out = js_sys::Object::new();
        let set = |k: &str, v: JsValue| js_sys::Reflect::set(&out, &k.into(), &v);
        set("channels", maps.channels.into()).map_err(|_| jserr("object"))?;
        set("size", maps.size.into()).map_err(|_| jserr("object"))?;
        set("maps", js_sys::Float32Array::from(&maps.maps[..]).into())
            .map_err(|_| jserr("object"))?;
        *self.maps.borrow_mut() = Some(maps);
        Ok(out.into())
    }

    /// Clusters the last influence maps into `k` modules (3x3 smoothing, 75th-percentile
    /// threshold, NMF seeded with `seed`). Resolves to `{k, labels, templates, size, error}`.
    pub fn modules(&self, k: usize, seed: u32) -> Result<JsValue, JsError> {
        let maps = self.maps.borrow();
        let maps = maps
            .as_ref()
            .ok_or_else(|| jserr("compute the influence maps first"))?;
        let m = modules(maps, k, 3, 0.75, u64::from(seed)).map_err(jserr)?;
        to_js(&m)
    }

    /// Concept groups (Li et al.): the filters of `site` clustered into `k` groups by where
    /// they fire over `samples` samples of `seed` (k-means of unit-length activation
    /// profiles). Resolves to `{site, k, labels, inertia, samples}`: `labels[c]` is filter c's
    /// group.
    pub fn groups(
        &self,
        site: &str,
        k: usize,
        samples: usize,
        seed: u32,
    ) -> Result<JsValue, JsError> {
        if samples == 0 || samples > MAX_GROUP_SAMPLES {
            return Err(jserr(format!(
                "{samples} samples; between 1 and {MAX_GROUP_SAMPLES}"
            )));
        }
        let mut r = self.cpu.try_borrow_mut().map_err(|_| jserr(crate::BUSY))?;
        let s = site_index(&r.generator().config, site).map_err(jserr)?;
        let g = concept_groups(&mut *r, s, k, samples, u64::from(seed)).map_err(jserr)?;
        to_js(&g)
    }

    /// Statistics of every unit of `site` over `n` samples of `seed` under `interventions`:
    /// quantiles, threshold and `top_k` top samples, and, for a colour model, each unit's best
    /// concept with its IoU (GAN Dissection with the rule segmenter).
    pub fn units(
        &self,
        site: &str,
        n: usize,
        seed: u32,
        top_k: usize,
        interventions: &str,
    ) -> Result<JsValue, JsError> {
        if n == 0 || n > MAX_SAMPLES {
            return Err(jserr(format!("{n} samples; between 1 and {MAX_SAMPLES}")));
        }
        let mut r = self.cpu.try_borrow_mut().map_err(|_| jserr(crate::BUSY))?;
        let cfg = r.generator().config.clone();
        let s = site_index(&cfg, site).map_err(jserr)?;
        let (iv, _) = parse(&cfg, interventions).map_err(jserr)?;
        let smp = sample(&mut *r, s, n, u64::from(seed), &iv).map_err(jserr)?;
        let (units, labels) = if cfg.channels == 3 {
            let seg = RuleSegmenter::default();
            let d =
                dissect(&smp, &seg, cfg.channels, cfg.image_size, top_k, 0.99).map_err(jserr)?;
            (d.units, Some(d.labels))
        } else {
            (unit_stats(&smp, top_k, 0.99), None)
        };
        to_js(&Units {
            site: site.to_string(),
            samples: n,
            units,
            labels,
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
        site: &str,
        units: Vec<u32>,
        concept: usize,
        n: usize,
        seed: u32,
    ) -> Result<JsValue, JsError> {
        if n == 0 || n > MAX_SAMPLES {
            return Err(jserr(format!("{n} samples; between 1 and {MAX_SAMPLES}")));
        }
        if units.is_empty() {
            return Err(jserr("choose the units to measure first"));
        }
        let mut r = self.cpu.try_borrow_mut().map_err(|_| jserr(crate::BUSY))?;
        let cfg = r.generator().config.clone();
        let s = site_index(&cfg, site).map_err(jserr)?;
        let [c, ..] = ganscope_model::generator::site_shapes(&cfg)[s].1;
        let units: Vec<usize> = units.into_iter().map(|u| u as usize).collect();
        if let Some(u) = units.iter().find(|&&u| u >= c) {
            return Err(jserr(format!("unit {u}; {site} has {c} units")));
        }
        let seg = RuleSegmenter::default();
        let seed = u64::from(seed);
        let plain = ganscope_model::intervention::Interventions::default();
        let smp = sample(&mut *r, s, n, seed, &plain).map_err(jserr)?;
        let all = concept_means(&smp, &seg, cfg.channels, cfg.image_size, concept);
        let values: Vec<f32> = units
            .iter()
            .map(|&u| all.get(u).copied().unwrap_or(0.0))
            .collect();
        let e = causal_effect(&mut *r, &seg, s, &units, &values, None, concept, n, seed)
            .map_err(jserr)?;
        to_js(&e)
    }

    /// RPGAN bucket responsibility (sec. 4.1) over `evaluations` random paths of `seed`:
    /// colour, and semantics when `classifier` holds a classifier file's bytes (empty: none).
    pub fn responsibility(
        &self,
        evaluations: usize,
        seed: u32,
        classifier: &[u8],
        progress: &js_sys::Function,
    ) -> Result<JsValue, JsError> {
        if evaluations == 0 || evaluations > MAX_EVALUATIONS {
            return Err(jserr(format!(
                "{evaluations} evaluations; between 1 and {MAX_EVALUATIONS}"
            )));
        }
        let features = if classifier.is_empty() {
            None
        } else {
            Some(ClassifierFeatures(
                Classifier::load(classifier).map_err(jserr)?,
            ))
        };
        let mut r = self.cpu.try_borrow_mut().map_err(|_| jserr(crate::BUSY))?;
        let o = BucketOptions {
            evaluations,
            images: 4,
            seed: u64::from(seed),
        };
        let f = features.as_ref().map(|f| f as &dyn Features);
        let res = responsibility(&mut *r, f, &o, &mut reporter(progress)).map_err(jserr)?;
        to_js(&res)
    }
}
