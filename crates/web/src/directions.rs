//! Latent directions in the page (SeFa, GANSpace; `ganscope_analysis::directions`), found in
//! the analyses' worker as `ganscope analyze directions` finds them, so a slider's render
//! equals `ganscope sample --direction`.

use ganscope_analysis::directions::{find, Method};
use ganscope_analysis::renderer::Renderer;
use wasm_bindgen::prelude::*;

use crate::analyses::{promise, set};
use crate::{js, site_index, Lab};

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
        method: String,
        site: String,
        samples: usize,
        top: usize,
    ) -> js_sys::Promise {
        let slot = self.engine.clone();
        let latent = self.latent.clone();
        promise(async move {
            let method = match method.as_str() {
                "" => None,
                "sefa" => Some(Method::Sefa),
                "ganspace" => Some(Method::Ganspace),
                other => {
                    return Err(js(format!(
                        "unknown method {:?}: it is \"sefa\" or \"ganspace\"",
                        other.chars().take(32).collect::<String>()
                    )))
                }
            };
            if samples > MAX_SAMPLES || top == 0 || top > MAX_TOP {
                return Err(js(format!(
                    "{samples} samples and {top} directions; at most {MAX_SAMPLES} samples and 1..={MAX_TOP} directions"
                )));
            }
            let mut e = slot.take().map_err(js)?;
            let s = if site.is_empty() {
                None
            } else {
                Some(site_index(e.config(), &site).map_err(js)?)
            };
            let d = find(&mut e, latent.as_deref(), method, s, samples, top)
                .await
                .map_err(js)?;
            drop(e);
            let list = js_sys::Array::new();
            for dir in &d.directions {
                let o = js_sys::Object::new();
                set(&o, "value", dir.value.into())?;
                set(&o, "sigma", dir.sigma.into())?;
                set(
                    &o,
                    "vector",
                    js_sys::Float32Array::from(&dir.vector[..]).into(),
                )?;
                list.push(&o);
            }
            let out = js_sys::Object::new();
            let method = match d.method {
                Method::Sefa => "sefa",
                Method::Ganspace => "ganspace",
            };
            set(&out, "method", method.into())?;
            set(&out, "site", d.site.as_str().into())?;
            set(&out, "source", d.source.as_str().into())?;
            set(&out, "samples", d.samples.into())?;
            set(&out, "directions", list.into())?;
            Ok(out.into())
        })
    }
}
