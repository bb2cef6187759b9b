//! The site writer on a page folder made here and real model files.

use super::*;
use ganscope_model::config::{Family, GeneratorConfig, Rpgan};
use ganscope_model::format::{expected_tensors, to_bytes, DatasetMeta, ModelMeta, NamedTensor};

/// A page folder with every file the writer copies.
fn page(dir: &Path) -> PathBuf {
    let www = dir.join("www");
    for (rel, text) in [
        ("index.html", "<!doctype html>"),
        ("style.css", "body {}"),
        ("js/app.js", "// app"),
        ("js/panels/paths.js", "// paths"),
        ("vendor/lib/lib.min.js", "// lib"),
        ("pkg/ganscope_web.js", "// bindings"),
        ("pkg/ganscope_web_bg.wasm", "\0asm"),
        ("pkg/package.json", "{}"),
        ("models/classifier-colored-mnist.safetensors", "classifier"),
        (
            "sw.js",
            "// worker\nconst BUILD = {\"cache\":\"dev\"};\nself.x = BUILD;\n",
        ),
    ] {
        let p = www.join(rel);
        std::fs::create_dir_all(p.parent().expect("a folder")).expect("mkdir");
        std::fs::write(p, text).expect("write");
    }
    www
}

/// A model file (zero weights) named `name`, trained on `dataset`.
fn model(dir: &Path, name: &str, rpgan: bool, dataset: &str) -> PathBuf {
    let r = rpgan.then_some(Rpgan {
        buckets: 4,
        blocks: 3,
    });
    let g = GeneratorConfig::new(Family::Dcgan, 32, 3, 4, r).expect("config");
    let tensors: Vec<NamedTensor> = expected_tensors(&g, None)
        .expect("tensors")
        .into_iter()
        .map(|(n, shape)| {
            let v =
                vec![if n.ends_with("running_var") { 1.0 } else { 0.0 }; shape.iter().product()];
            (n, shape, v)
        })
        .collect();
    let mut meta = ModelMeta::new(g, None);
    meta.dataset = Some(DatasetMeta {
        name: dataset.into(),
        images: 10,
        mean: vec![0.0; 3],
        std: vec![1.0; 3],
    });
    let p = dir.join(format!("{name}.safetensors"));
    std::fs::write(&p, to_bytes(&meta, &tensors, false).expect("bytes")).expect("write");
    p
}

fn options(www: &Path, models: Vec<PathBuf>, out: &Path) -> SiteOptions {
    SiteOptions {
        www: www.to_path_buf(),
        models,
        open: None,
        view: String::new(),
        classifier: None,
        out: out.to_path_buf(),
    }
}

/// A `sw.js`'s BUILD object and its file list.
fn build_of(sw: &str) -> (serde_json::Value, Vec<String>) {
    let build: serde_json::Value =
        serde_json::from_str(build_json(sw).expect("one BUILD line")).expect("BUILD is JSON");
    let files = build["files"].as_array().expect("files").iter();
    let listed = files.filter_map(|f| f.as_str().map(String::from)).collect();
    (build, listed)
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).expect("read")
}

#[test]
fn writes_the_page_models_manifest_and_a_hashed_service_worker() {
    let dir = tempfile::tempdir().expect("tmp");
    let www = page(dir.path());
    let a = model(dir.path(), "paths", true, "colored-mnist");
    let b = model(dir.path(), "plain", false, "mnist");
    let out = dir.path().join("site");
    let mut o = options(&www, vec![a, b.clone()], &out);
    // --open by another spelling of the path
    o.open = Some(
        dir.path()
            .join(".")
            .join("plain.safetensors")
            .display()
            .to_string(),
    );
    o.view = "?panel=units&seed=4".into();
    let w = write_site(&o).expect("site");

    let m: Manifest =
        serde_json::from_str(&read(&out.join("models/manifest.json"))).expect("manifest");
    assert_eq!(m, w.manifest);
    assert_eq!(m.open, "plain", "--open by path");
    assert_eq!(m.view, "panel=units&seed=4");
    assert_eq!(
        m.models[0].title,
        "RPGAN (4 buckets x 3 blocks), dcgan 3x32x32, colored-mnist"
    );
    assert_eq!(m.models[1].title, "standard GAN, dcgan 3x32x32, mnist");
    assert_eq!(
        m.classifier.as_deref(),
        Some(CLASSIFIER),
        "a colored-MNIST model brings it"
    );
    for rel in [
        "index.html",
        "js/panels/paths.js",
        "vendor/lib/lib.min.js",
        "pkg/ganscope_web_bg.wasm",
        "models/paths.safetensors",
        "models/plain.safetensors",
        "models/classifier-colored-mnist.safetensors",
    ] {
        assert!(out.join(rel).is_file(), "{rel}");
    }
    assert!(
        !out.join("pkg/package.json").exists(),
        "only the page's own pkg files"
    );

    // the worker lists every file and names its cache by their hash
    let sw = read(&out.join("sw.js"));
    let (build, listed) = build_of(&sw);
    assert_eq!(build["cache"], w.cache.as_str());
    assert_eq!(build["cacheFirst"], true);
    assert_eq!(listed.len(), w.files.len(), "./ and every file but sw.js");
    assert!(listed.iter().any(|f| f == "models/manifest.json") && listed.iter().any(|f| f == "./"));
    // and each file's SHA-256 (Subresource Integrity), the folder's index as index.html's
    for f in &listed {
        let rel = if f == "./" { "index.html" } else { f.as_str() };
        let bytes = std::fs::read(out.join(rel)).expect("listed file");
        let want = format!("sha256-{}", BASE64.encode(Sha256::digest(&bytes)));
        assert_eq!(build["integrity"][f.as_str()], want.as_str(), "{f}");
    }
    assert!(sw.starts_with("// worker\n") && sw.ends_with("self.x = BUILD;\n"));
    assert!(w.bytes() > w.model_bytes() && w.model_bytes() > 0);
    assert!(
        !dir.path().read_dir().expect("ls").any(|e| {
            e.expect("entry")
                .file_name()
                .to_string_lossy()
                .starts_with(".site.")
        }),
        "no staging folder is left"
    );

    // written again with one file changed: another cache; the dropped model is gone
    std::fs::write(www.join("js/app.js"), "// app, changed").expect("write");
    let again = write_site(&options(&www, vec![b], &out)).expect("again");
    assert_ne!(again.cache, w.cache);
    assert!(!out.join("models/paths.safetensors").exists());
    assert_eq!(read(&out.join("js/app.js")), "// app, changed");
    assert_eq!(
        again.manifest.classifier, None,
        "no colored-MNIST model, no classifier"
    );
}

#[test]
fn refuses_what_it_cannot_write_and_leaves_a_previous_site_as_it_was() {
    let dir = tempfile::tempdir().expect("tmp");
    let www = page(dir.path());
    let good = model(dir.path(), "good", false, "mnist");
    let out = dir.path().join("site");
    let first = write_site(&options(&www, vec![good.clone()], &out)).expect("site");
    let sw = read(&out.join("sw.js"));

    let broken = dir.path().join("broken.safetensors");
    std::fs::write(&broken, b"not a model").expect("write");
    let err = |o: &SiteOptions| {
        write_site(o)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    };
    let msg = err(&options(&www, vec![good.clone(), broken], &out));
    assert!(
        msg.contains("broken.safetensors is not a ganscope model file"),
        "{msg}"
    );
    let pt = dir.path().join("g.pt");
    std::fs::write(&pt, b"x").expect("write");
    assert!(err(&options(&www, vec![pt], &out)).contains("ganscope import"));
    let mut o = options(&www, vec![good.clone()], &out);
    o.open = Some("other".into());
    assert!(err(&o).contains("--open other is none of the site's models (good)"));
    o.open = None;
    o.view = "model=x".into();
    assert!(err(&o).contains("--open"));
    assert!(err(&options(&www, vec![good.clone(), good.clone()], &out))
        .contains("two models are named good"));
    assert_eq!(
        read(&out.join("sw.js")),
        sw,
        "the previous site is untouched"
    );
    assert!(out
        .join(format!("models/{}", first.manifest.models[0].file))
        .is_file());

    // nor the page's own folder, which has a manifest too, nor a site holding files it did
    // not write, nor two names a case-insensitive file system would merge
    assert!(err(&options(&www, vec![good.clone()], &www)).contains("the page's own folder"));
    std::fs::write(out.join("CNAME"), "lab.example.org").expect("write");
    assert!(err(&options(&www, vec![good.clone()], &out)).contains("did not: CNAME"));
    std::fs::remove_file(out.join("CNAME")).expect("rm");
    let upper = dir.path().join("up");
    std::fs::create_dir(&upper).expect("mkdir");
    let good2 = model(&upper, "Good", false, "mnist");
    assert!(err(&options(&www, vec![good.clone(), good2], &out)).contains("two models are named"));

    // a folder that is not a site is never replaced
    let mine = dir.path().join("mine");
    std::fs::create_dir(&mine).expect("mkdir");
    std::fs::write(mine.join("notes.txt"), "keep").expect("write");
    assert!(err(&options(&www, vec![good.clone()], &mine)).contains("is not a site ganscope wrote"));
    assert_eq!(read(&mine.join("notes.txt")), "keep");

    // a page folder without the wasm package says how to build it
    std::fs::remove_file(www.join("pkg/ganscope_web_bg.wasm")).expect("rm");
    assert!(err(&options(&www, vec![good], &out)).contains("./build.sh"));
}

/// The repository's page keeps two hand-written lists: the files its service worker caches
/// for offline use (`sw.js`'s BUILD line) and the modules `index.html` preloads.
#[test]
fn the_repositorys_page_caches_every_file_it_serves_and_preloads_every_module() {
    let www = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../www");
    let (build, listed) = build_of(&read(&www.join(SW)));
    assert_eq!(
        build["cacheFirst"], false,
        "the repository's copy serves the network first"
    );
    let mut js = Vec::new();
    walk(&www.join("js"), "js", &mut js).expect("js/");
    let manifest: Manifest =
        serde_json::from_str(&read(&www.join("models/manifest.json"))).expect("manifest");
    let mut want: Vec<String> = js.iter().map(|f| f.0.clone()).collect();
    want.extend(manifest.models.iter().map(|m| format!("models/{}", m.file)));
    want.extend(manifest.classifier.iter().map(|c| format!("models/{c}")));
    want.extend(["index.html", "style.css", "models/manifest.json"].map(String::from));
    want.extend(
        PAGE.iter()
            .filter(|p| p.starts_with("pkg/"))
            .map(|p| p.to_string()),
    );
    for f in &want {
        assert!(listed.contains(f), "sw.js does not cache {f}");
    }
    let index = read(&www.join("index.html"));
    for (rel, _) in &js {
        // app.js and boot.js are the page's scripts; worker.js runs in the worker, whose
        // imports these are not
        if !["js/app.js", "js/boot.js", "js/worker.js"].contains(&rel.as_str()) {
            let link = format!("<link rel=\"modulepreload\" href=\"{rel}\">");
            assert!(index.contains(&link), "index.html does not preload {rel}");
        }
    }
}
