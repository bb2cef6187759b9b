//! `ganscope import` against PyTorch. Each fixture of `tests/torch/import_fixtures.py` is a
//! small random-weight generator saved the way its project saves it, with PyTorch's eval-mode
//! output for fixed latents: imported (layout detected), it renders the same images on candle
//! and on wgpu within 1e-4. The bundled face model (f16) renders what PyTorch renders with
//! the same f16-rounded weights within 1e-4, and the original f32 weights within f16 rounding.

use std::path::{Path, PathBuf};

use ganscope_gpu::{block_on, Gpu, GpuModel};
use ganscope_import::{import, to_bytes, Options};
use ganscope_model::candle_backend::{from_file, CandleBackend};
use ganscope_model::format::ModelFile;
use ganscope_model::intervention::{Interventions, Resolved};
use ganscope_model::sample::{render, Batch};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/import")
}

fn npy(p: &Path) -> Vec<f32> {
    candle_core::Tensor::read_npy(p)
        .and_then(|t| t.flatten_all()?.to_vec1::<f32>())
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// What a fixture renders: PyTorch's latents, or (an RPGAN) one path per sample.
enum Input {
    Latents(Vec<f32>),
    Path(Vec<usize>),
}

fn batch(bytes: &[u8], input: &Input) -> (Batch, Resolved) {
    let file = ModelFile::parse(bytes).expect("parse");
    let cfg = &file.meta.generator;
    match input {
        Input::Latents(z) => {
            let ivs = Interventions::default();
            (
                Batch::from_latents(cfg, 0, z, &ivs).expect("batch"),
                Resolved::new(cfg, &ivs).expect("resolved"),
            )
        }
        Input::Path(p) => {
            let ivs = Interventions {
                path: Some(p.clone()),
                ..Interventions::default()
            };
            (
                Batch::new(cfg, 0, 1, &ivs).expect("batch"),
                Resolved::new(cfg, &ivs).expect("resolved"),
            )
        }
    }
}

/// The fixture's inputs: `z.npy` (one batch), or `paths.json` (one render per path).
fn inputs(dir: &Path) -> Vec<Input> {
    let paths = dir.join("paths.json");
    if paths.exists() {
        let text = std::fs::read_to_string(&paths).expect("paths.json");
        let v: Vec<Vec<usize>> = serde_json::from_str(&text).expect("paths");
        v.into_iter().map(Input::Path).collect()
    } else {
        vec![Input::Latents(npy(&dir.join("z.npy")))]
    }
}

fn on_candle(bytes: &[u8], input: &Input) -> Vec<f32> {
    let (b, r) = batch(bytes, input);
    let m = from_file(
        ModelFile::parse(bytes).expect("parse"),
        &candle_core::Device::Cpu,
    )
    .expect("model");
    render(&m.generator, &CandleBackend::cpu(), &b, &r, &mut |_, _| {
        Ok(())
    })
    .and_then(|y| Ok(y.flatten_all()?.to_vec1::<f32>()?))
    .expect("render")
}

/// On the default adapter (lavapipe in CI, where a missing one fails the test).
fn on_wgpu(bytes: &[u8], input: &Input) -> Option<Vec<f32>> {
    let gpu = match Gpu::new_blocking() {
        Ok(g) => g,
        Err(e) if std::env::var_os("CI").is_none() => {
            eprintln!("wgpu skipped: {e}");
            return None;
        }
        Err(e) => panic!("CI needs a GPU adapter (lavapipe): {e}"),
    };
    let (b, r) = batch(bytes, input);
    let mut m = GpuModel::load(gpu, bytes.to_vec()).expect("load");
    Some(block_on(m.render(&b, &r, &[])).expect("render").images)
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "image sizes differ");
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

#[test]
fn every_layout_fixture_renders_what_pytorch_renders() {
    let mut cases = 0;
    for dir in std::fs::read_dir(root()).expect("fixtures").flatten() {
        let dir = dir.path();
        if dir.ends_with("face") {
            continue;
        }
        let ins = inputs(&dir);
        let want = npy(&dir.join("out.npy"));
        let per = want.len() / ins.len();
        let set: Vec<String> = std::fs::read_to_string(dir.join("settings.txt"))
            .map(|t| t.lines().map(str::to_string).collect())
            .unwrap_or_default();
        for f in std::fs::read_dir(&dir).expect("case").flatten() {
            let f = f.path();
            if f.extension()
                .is_some_and(|e| e == "npy" || e == "json" || e == "txt")
            {
                continue;
            }
            let what = f.display().to_string();
            let bytes = std::fs::read(&f).expect("read");
            let opts = Options {
                set: set.clone(),
                ..Options::default()
            };
            let m = import(&bytes, &what, &opts).unwrap_or_else(|e| panic!("{what}: {e}"));
            let file = to_bytes(&m, false).expect("bytes");
            for (k, input) in ins.iter().enumerate() {
                let want = &want[k * per..(k + 1) * per];
                let got = on_candle(&file, input);
                let d = max_diff(&got, want);
                assert!(d <= 1e-4, "{what} on candle, input {k}: off by {d}");
                if let Some(got) = on_wgpu(&file, input) {
                    let d = max_diff(&got, want);
                    assert!(d <= 1e-4, "{what} on wgpu, input {k}: off by {d}");
                }
            }
            cases += 1;
        }
    }
    assert!(cases >= 10, "only {cases} fixtures found");
}

#[test]
fn the_bundled_face_model_renders_what_pytorch_renders() {
    let model =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../www/models/dcgan-digiface.safetensors");
    let bytes = std::fs::read(&model).expect("the bundled face model");
    let dir = root().join("face");
    let z = Input::Latents(npy(&dir.join("z.npy")));
    let f16 = npy(&dir.join("out-f16.npy"));
    let f32 = npy(&dir.join("out.npy"));
    let got = on_candle(&bytes, &z);
    let d = max_diff(&got, &f16);
    assert!(
        d <= 1e-4,
        "candle vs PyTorch with the same f16 weights: off by {d}"
    );
    let d = max_diff(&got, &f32);
    assert!(
        d <= 1e-2,
        "candle f16 vs PyTorch f32: off by {d} (f16 rounding is ~3e-3)"
    );
    if let Some(got) = on_wgpu(&bytes, &z) {
        let d = max_diff(&got, &f16);
        assert!(
            d <= 1e-4,
            "wgpu vs PyTorch with the same f16 weights: off by {d}"
        );
    }
}
