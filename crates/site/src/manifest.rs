//! `models/manifest.json`: the models a site lists, the one it opens, and the view it opens
//! on. The page reads it to fill its model menu (`www/js/app.js`).

use crate::{Result, SiteError};
use ganscope_model::format::ModelMeta;
use serde::{Deserialize, Serialize};

/// The manifest's file name under `models/`.
pub const MANIFEST: &str = "manifest.json";

/// One model the page lists.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelEntry {
    /// What `?model=` names it by (the file name without `.safetensors`).
    pub name: String,
    /// The menu's text.
    pub title: String,
    /// Its file under `models/`.
    pub file: String,
}

/// What the page reads at start.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// The models, in menu order.
    pub models: Vec<ModelEntry>,
    /// The model a URL without `?model=` opens.
    pub open: String,
    /// The query a URL without one opens on (`panel=hybrids&seed=3`), `""` for the defaults.
    #[serde(default)]
    pub view: String,
    /// The digit classifier's file under `models/` (the semantic distances of the analyses),
    /// when the site has one.
    #[serde(default)]
    pub classifier: Option<String>,
}

/// The URL parameters a view may set (`www/js/state.js`); `model` is `--open`'s.
pub const VIEW_KEYS: [&str; 14] = [
    "backend", "seed", "path", "edits", "panel", "site", "donor", "hsite", "channels", "k",
    "dmethod", "dsite", "moves", "embed",
];

/// Checks a view query (`panel=hybrids&seed=3`, a leading `?` allowed) and returns it without
/// the `?`. Only the parameter names are checked here; the page checks the values as it does
/// any URL's, and says what it ignored.
pub fn check_view(view: &str) -> Result<String> {
    let view = view.strip_prefix('?').unwrap_or(view);
    for part in view.split('&').filter(|p| !p.is_empty()) {
        let key = part.split('=').next().unwrap_or_default();
        if key == "model" {
            return Err(SiteError::Invalid(
                "the view names a model: choose the model to open with --open".into(),
            ));
        }
        if !VIEW_KEYS.contains(&key) {
            return Err(SiteError::Invalid(format!(
                "the view's parameter `{key}` is not one the page reads (it reads {})",
                VIEW_KEYS.join(", ")
            )));
        }
    }
    Ok(view.to_string())
}

/// Checks a model's name: what a URL names it by, and its file's name in the site.
pub fn check_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 100
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(SiteError::Invalid(format!(
            "`{name}` cannot name a model in a URL: use letters, digits, '-', '_' and '.' \
             (rename the file)"
        )))
    }
}

/// The menu's text for a model: what it is, what it was trained on, its image.
pub fn title(meta: &ModelMeta) -> String {
    let g = &meta.generator;
    let blocks: Vec<usize> = g.buckets.iter().map(|b| b.blocks).collect();
    let kind = if blocks.iter().any(|&m| m > 1) {
        let same = blocks.iter().all(|&m| m == blocks[0]);
        let shape = if same {
            format!("{} buckets x {} blocks", blocks.len(), blocks[0])
        } else {
            let list: Vec<String> = blocks.iter().map(usize::to_string).collect();
            format!("blocks {}", list.join("-"))
        };
        format!("RPGAN ({shape})")
    } else {
        "standard GAN".to_string()
    };
    let data = match (&meta.source, &meta.dataset) {
        (Some(s), _) => format!("imported from {}", s.file),
        (None, Some(d)) => d.name.clone(),
        (None, None) => "no dataset recorded".to_string(),
    };
    format!(
        "{kind}, {} {}x{}x{}, {data}",
        g.family.name(),
        g.channels,
        g.image_size,
        g.image_size
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn views_name_only_the_pages_parameters() {
        assert_eq!(
            check_view("?panel=hybrids&seed=3").ok().as_deref(),
            Some("panel=hybrids&seed=3")
        );
        assert_eq!(check_view("").ok().as_deref(), Some(""));
        let model = check_view("model=x&seed=1").err().map(|e| e.to_string());
        assert!(model.is_some_and(|m| m.contains("--open")));
        let unknown = check_view("seed=1&zoom=2").err().map(|e| e.to_string());
        assert!(unknown.is_some_and(|m| m.contains("`zoom`")));
    }

    #[test]
    fn names_are_safe_in_urls_and_paths() {
        assert!(check_name("rpgan-colored-mnist").is_ok());
        assert!(check_name("demo_2.f16").is_ok());
        for bad in ["", "../x", ".hidden", "a b", "a/b", "ä", "a?b"] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
    }
}
