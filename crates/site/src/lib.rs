//! Writes a static site: the lab page, its wasm package, its vendored libraries and the
//! chosen models in one folder that any static host serves as it is (`ganscope site`).
//!
//! The page lists the site's models from `models/manifest.json` ([`manifest`]) and opens on
//! the chosen model and view. Its service worker (`sw.js`) is written with the list of the
//! site's files and a cache named by their content hash, and serves them cache-first: a
//! warm visit reads nothing from the network, and a site written anew (another hash, so
//! another `sw.js`) replaces the old cache on the next visit.
//!
//! Writing is all or nothing: the site is written beside `--out` and moved into place at the
//! end, so a failure leaves a previous site there as it was.

mod error;
pub mod manifest;
mod place;

pub use error::{Result, SiteError};
pub use manifest::{Manifest, ModelEntry};

use base64::{engine::general_purpose::STANDARD as BASE64, Engine as _};
use error::io;
use ganscope_model::format::ModelFile;
use place::{build_json, check_out, sibling, swap_in};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// The page's files copied as they are (folders whole), relative to the page's folder.
const PAGE: [&str; 6] = [
    "index.html",
    "style.css",
    "js",
    "vendor",
    "pkg/ganscope_web.js",
    "pkg/ganscope_web_bg.wasm",
];
/// The service worker: copied with its `const BUILD = …;` line written for the site.
const SW: &str = "sw.js";
const BUILD_LINE: &str = "const BUILD = ";
/// The digit classifier the page's analyses use for colored-MNIST models.
pub const CLASSIFIER: &str = "classifier-colored-mnist.safetensors";

/// What to write.
#[derive(Clone, Debug)]
pub struct SiteOptions {
    /// The page's folder: the repository's `www/`, with `pkg/` built by `./build.sh`.
    pub www: PathBuf,
    /// The model files to list, in menu order.
    pub models: Vec<PathBuf>,
    /// The model to open (its name or its path); the first when `None`.
    pub open: Option<String>,
    /// The view to open on, a query such as `panel=hybrids&seed=3` (see [`manifest::check_view`]).
    pub view: String,
    /// The classifier file; `None`: the page's own (`www/models/`) when a model was trained
    /// on colored MNIST, none otherwise.
    pub classifier: Option<PathBuf>,
    /// The folder to write: new, empty, or a site written before (replaced whole).
    pub out: PathBuf,
}

/// What was written.
#[derive(Clone, Debug)]
pub struct Written {
    /// Every file, relative to the site's folder, with its size in bytes.
    pub files: Vec<(String, u64)>,
    /// The manifest the page reads.
    pub manifest: Manifest,
    /// The service worker's cache name (`ganscope-lab-` and 16 hex digits of the hash).
    pub cache: String,
}

impl Written {
    /// Bytes of all files.
    pub fn bytes(&self) -> u64 {
        self.files.iter().map(|f| f.1).sum()
    }

    /// Bytes of the files under `models/`.
    pub fn model_bytes(&self) -> u64 {
        let models = self.files.iter().filter(|f| f.0.starts_with("models/"));
        models.map(|f| f.1).sum()
    }
}

/// Writes the site `opts` describes; see the crate's documentation.
pub fn write_site(opts: &SiteOptions) -> Result<Written> {
    let out = &opts.out;
    check_out(out, &opts.www)?;
    let page = page_files(&opts.www)?;
    let sw = std::fs::read_to_string(opts.www.join(SW)).map_err(io(&opts.www.join(SW)))?;
    if build_json(&sw).is_none() {
        return Err(SiteError::Page {
            path: opts.www.join(SW),
            why: format!(
                "it needs exactly one `{BUILD_LINE}{{…}};` line, all on one line, to write the \
                 site's file list into"
            ),
        });
    }
    let view = manifest::check_view(&opts.view)?;
    // the models are read (and checked) once and written from memory
    let (models, colored) = model_entries(&opts.models)?;
    let entries: Vec<ModelEntry> = models.iter().map(|m| m.0.clone()).collect();
    let open = choose_open(&entries, opts)?;
    let classifier = match &opts.classifier {
        Some(p) => Some(p.clone()),
        None => Some(opts.www.join("models").join(CLASSIFIER)).filter(|p| colored && p.is_file()),
    };
    // the page's files and the classifier: (path in the site, where it comes from)
    let mut files: Vec<(String, PathBuf)> = page;
    let classifier_file = match &classifier {
        Some(p) => {
            let name = classifier_name(p, &entries)?;
            files.push((format!("models/{name}"), p.clone()));
            Some(name)
        }
        None => None,
    };
    let manifest = Manifest {
        models: entries,
        open,
        view,
        classifier: classifier_file,
    };
    let mut manifest_json = serde_json::to_vec_pretty(&manifest)
        .map_err(|e| SiteError::Invalid(format!("the manifest: {e}")))?;
    manifest_json.push(b'\n');

    let staging = sibling(out, "new")?;
    let written = (|| {
        let _ = std::fs::remove_dir_all(&staging);
        let mut hash = Sha256::new();
        let mut sizes = Vec::new();
        // each file's Subresource Integrity: the service worker caches what it fetches only
        // when it is exactly this build's file (not an old copy a host or CDN still serves)
        let mut integrity = serde_json::Map::new();
        let mut put = |rel: &str, bytes: &[u8]| -> Result<()> {
            let to = staging.join(rel);
            if let Some(dir) = to.parent() {
                std::fs::create_dir_all(dir).map_err(io(dir))?;
            }
            std::fs::write(&to, bytes).map_err(io(&to))?;
            hash.update((rel.len() as u64).to_le_bytes());
            hash.update(rel.as_bytes());
            hash.update((bytes.len() as u64).to_le_bytes());
            hash.update(bytes);
            let sri = format!("sha256-{}", BASE64.encode(Sha256::digest(bytes)));
            if rel == "index.html" {
                integrity.insert("./".into(), sri.clone().into()); // the folder's index
            }
            integrity.insert(rel.into(), sri.into());
            sizes.push((rel.to_string(), bytes.len() as u64));
            Ok(())
        };
        for (rel, from) in &files {
            put(rel, &std::fs::read(from).map_err(io(from))?)?;
        }
        for (entry, bytes) in &models {
            put(&format!("models/{}", entry.file), bytes)?;
        }
        put(&format!("models/{}", manifest::MANIFEST), &manifest_json)?;
        let digest = hash.finalize();
        let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
        let cache = format!("ganscope-lab-{hex}");
        let mut precache = vec!["./".to_string()];
        precache.extend(sizes.iter().map(|f| f.0.clone()));
        let build = serde_json::json!({
            "cache": cache, "cacheFirst": true, "files": precache, "integrity": integrity,
        });
        let sw_text: String = sw
            .lines()
            .map(|l| {
                if l.starts_with(BUILD_LINE) {
                    format!("{BUILD_LINE}{build};\n")
                } else {
                    format!("{l}\n")
                }
            })
            .collect();
        let to = staging.join(SW);
        std::fs::write(&to, &sw_text).map_err(io(&to))?;
        sizes.push((SW.to_string(), sw_text.len() as u64));
        Ok(Written {
            files: sizes,
            manifest,
            cache,
        })
    })();
    let written = match written {
        Ok(w) => w,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&staging);
            return Err(e);
        }
    };
    swap_in(&staging, out)?;
    Ok(written)
}

/// The page's files: (path in the site, source).
fn page_files(www: &Path) -> Result<Vec<(String, PathBuf)>> {
    let mut files = Vec::new();
    for rel in PAGE {
        let from = www.join(rel);
        if from.is_dir() {
            walk(&from, rel, &mut files)?;
        } else if from.is_file() {
            files.push((rel.to_string(), from));
        } else {
            let why = if rel.starts_with("pkg/") {
                "missing: build the page's wasm package first (./build.sh in the repository)"
            } else {
                "missing: --www must be the repository's www/ folder"
            };
            return Err(SiteError::Page {
                path: from,
                why: why.into(),
            });
        }
    }
    Ok(files)
}

/// Every file under `dir` (named `rel` in the site), in name order.
pub(crate) fn walk(dir: &Path, rel: &str, files: &mut Vec<(String, PathBuf)>) -> Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(io(dir))?
        .collect::<std::io::Result<_>>()
        .map_err(io(dir))?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = e.file_name().to_string_lossy().into_owned();
        let path = e.path();
        let sub = format!("{rel}/{name}");
        if path.is_dir() {
            walk(&path, &sub, files)?;
        } else {
            files.push((sub, path));
        }
    }
    Ok(())
}

/// The classifier's file name in the site, checked like a model's.
fn classifier_name(p: &Path, entries: &[ModelEntry]) -> Result<String> {
    let name = file_name(p)?;
    let Some(stem) = name.strip_suffix(".safetensors") else {
        return Err(SiteError::Invalid(format!(
            "the classifier {} is not a .safetensors file",
            p.display()
        )));
    };
    manifest::check_name(stem)?;
    if entries.iter().any(|e| e.file.eq_ignore_ascii_case(&name)) {
        return Err(SiteError::Invalid(format!(
            "the classifier's file name {name} is a model's too"
        )));
    }
    Ok(name)
}

/// A model's menu entry and the checked bytes of its file.
type Checked = (ModelEntry, Vec<u8>);

/// The menu's entries with the checked bytes of their files; also whether a model was
/// trained on colored MNIST.
fn model_entries(models: &[PathBuf]) -> Result<(Vec<Checked>, bool)> {
    if models.is_empty() {
        return Err(SiteError::Invalid("a site needs at least one model".into()));
    }
    let mut entries: Vec<Checked> = Vec::new();
    let mut colored = false;
    for path in models {
        let bad = |why: String| SiteError::Model {
            path: path.clone(),
            why,
        };
        let file = file_name(path)?;
        let Some(name) = file.strip_suffix(".safetensors") else {
            return Err(bad(
                "its name does not end in .safetensors (a PyTorch checkpoint \
                becomes a model file with `ganscope import`)"
                    .into(),
            ));
        };
        manifest::check_name(name)?;
        // a case-insensitive file system would keep one of Model and model
        if entries.iter().any(|e| e.0.name.eq_ignore_ascii_case(name)) {
            return Err(SiteError::Invalid(format!(
                "two models are named {name}: a URL could not tell them apart (rename one)"
            )));
        }
        let bytes = std::fs::read(path).map_err(io(path))?;
        let model = ModelFile::parse(&bytes).map_err(|e| bad(e.to_string()))?;
        colored |= model
            .meta
            .dataset
            .as_ref()
            .is_some_and(|d| d.name == "colored-mnist");
        let entry = ModelEntry {
            name: name.to_string(),
            title: manifest::title(&model.meta),
            file,
        };
        entries.push((entry, bytes));
    }
    Ok((entries, colored))
}

/// The name of the model to open: `--open` as a name or a path, or the first model.
fn choose_open(entries: &[ModelEntry], opts: &SiteOptions) -> Result<String> {
    let Some(open) = &opts.open else {
        return Ok(entries[0].name.clone());
    };
    let want = Path::new(open).canonicalize().ok();
    let by_path =
        (opts.models.iter()).position(|p| want.is_some() && p.canonicalize().ok() == want);
    let open = open.strip_suffix(".safetensors").unwrap_or(open);
    let found = by_path.or_else(|| entries.iter().position(|e| e.name == open));
    match found {
        Some(i) => Ok(entries[i].name.clone()),
        None => {
            let names: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
            Err(SiteError::Invalid(format!(
                "--open {open} is none of the site's models ({})",
                names.join(", ")
            )))
        }
    }
}

pub(crate) fn file_name(p: &Path) -> Result<String> {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| SiteError::Invalid(format!("{} names no file", p.display())))
}

#[cfg(test)]
mod tests;
