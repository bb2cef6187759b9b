//! Latent directions in the page (SeFa, GANSpace; `ganscope_analysis::directions`), found on
//! candle in the worker as `ganscope analyze directions` finds them, so a slider's render
//! equals `ganscope sample --direction`.

use ganscope_analysis::directions::{find, Method};
use wasm_bindgen::prelude::*;

use crate::{jserr, site_index, Lab};

/// Most samples GANSpace analyses in the page.
const MAX_SAMPLES: usize = 4096;
/// Most directions returned.
const MAX_TOP: usize = 64;

#[wasm_bindgen]
impl Lab {
    /// The top `top` directions by `method` (`"sefa"`, `"ganspace"` or `""`: SeFa where the
    /// model has a latent z, else GANSpace), GANSpace at `site` (`""`: the middle one) over
    /// `samples` samples. Resolves to `{method, site, source, samples, directions: [{value,
    /// sigma, vector}]}` with each `vector` a `Float32Array` (unit; a move of `a` standard
    /// deviations adds `a * sigma * vector` at `site`).
    pub fn directions(
        &self,
        method: &str,
        site: &str,
        samples: usize,
        top: usize,
    ) -> Result<JsValue, JsError> {
        let method = match method {
            "" => None,
            "sefa" => Some(Method::Sefa),
            "ganspace" => Some(Method::Ganspace),
            other => {
                return Err(jserr(format!(
                    "unknown method {:?}: it is \"sefa\" or \"ganspace\"",
                    other.chars().take(32).collect::<String>()
                )))
            }
        };
        if samples > MAX_SAMPLES || top == 0 || top > MAX_TOP {
            return Err(jserr(format!(
                "{samples} samples and {top} directions; at most {MAX_SAMPLES} samples and 1..={MAX_TOP} directions"
            )));
        }
        let mut r = self.cpu.try_borrow_mut().map_err(|_| jserr(crate::BUSY))?;
        let cfg = r.generator().config.clone();
        let s = if site.is_empty() {
            None
        } else {
            Some(site_index(&cfg, site).map_err(jserr)?)
        };
        let d = find(&mut *r, self.latent.as_ref(), method, s, samples, top).map_err(jserr)?;
        let list = js_sys::Array::new();
        for dir in &d.directions {
            let o = js_sys::Object::new();
            let set = |k: &str, v: JsValue| js_sys::Reflect::set(&o, &k.into(), &v);
            set("value", dir.value.into()).map_err(|_| jserr("object"))?;
            set("sigma", dir.sigma.into()).map_err(|_| jserr("object"))?;
            set("vector", js_sys::Float32Array::from(&dir.vector[..]).into())
                .map_err(|_| jserr("object"))?;
            list.push(&o);
        }
        let out = js_sys::Object::new();
        let set = |k: &str, v: JsValue| js_sys::Reflect::set(&out, &k.into(), &v);
        let method = match d.method {
            Method::Sefa => "sefa",
            Method::Ganspace => "ganspace",
        };
        set("method", method.into()).map_err(|_| jserr("object"))?;
        set("site", d.site.as_str().into()).map_err(|_| jserr("object"))?;
        set("source", d.source.as_str().into()).map_err(|_| jserr("object"))?;
        set("samples", d.samples.into()).map_err(|_| jserr("object"))?;
        set("directions", list.into()).map_err(|_| jserr("object"))?;
        Ok(out.into())
    }
}
