//! `ganscope site`: the lab page and chosen models as one folder for a static host.

use anyhow::{Context, Result};
use clap::Args;
use ganscope_site::{write_site, SiteOptions};
use std::path::PathBuf;

/// The options of `site`.
#[derive(Args)]
pub struct SiteArgs {
    /// The model files (`.safetensors` from `ganscope export` or `ganscope import`), in the
    /// order the page's menu lists them.
    #[arg(required = true)]
    models: Vec<PathBuf>,
    /// The model the site opens on (a name, i.e. a file name without `.safetensors`, or one
    /// of the paths given); the first by default.
    #[arg(long)]
    open: Option<String>,
    /// The view it opens on: the lab's URL parameters, e.g. `panel=hybrids&seed=3&channels=1,4`.
    #[arg(long, default_value = "")]
    view: String,
    /// The digit classifier of the analyses' semantic distances; by default the page's own,
    /// when a model was trained on colored MNIST.
    #[arg(long)]
    classifier: Option<PathBuf>,
    /// The page's folder (the repository's `www/`, built by `./build.sh`); by default `www`
    /// here, else the repository this binary was built from.
    #[arg(long)]
    www: Option<PathBuf>,
    /// The folder to write (new, empty, or a site written before, which is replaced whole).
    #[arg(long)]
    out: PathBuf,
}

/// Runs `ganscope site`.
pub fn run(a: &SiteArgs) -> Result<()> {
    let www = a.www.clone().unwrap_or_else(|| {
        let here = PathBuf::from("www");
        if here.join("index.html").is_file() {
            here
        } else {
            PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../www"))
        }
    });
    let opts = SiteOptions {
        www,
        models: a.models.clone(),
        open: a.open.clone(),
        view: a.view.clone(),
        classifier: a.classifier.clone(),
        out: a.out.clone(),
    };
    let w = write_site(&opts).context("writing the site")?;
    let mib = |b: u64| b as f64 / (1 << 20) as f64;
    let text = format!(
        "wrote {}: {} files, {:.1} MiB ({:.1} MiB of models); it opens on {}{}\n\
         preview: python3 -m http.server --bind 127.0.0.1 --directory {} 8000, then open \
         http://127.0.0.1:8000/\n\
         publish: copy the folder as it is to any static host (GitHub Pages, S3, a web \
         server's folder)\n",
        a.out.display(),
        w.files.len(),
        mib(w.bytes()),
        mib(w.model_bytes()),
        w.manifest.open,
        if w.manifest.view.is_empty() {
            String::new()
        } else {
            format!(" at {}", w.manifest.view)
        },
        a.out.display()
    );
    super::print_out(&text)
}
