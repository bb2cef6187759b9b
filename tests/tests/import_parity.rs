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

fn batch(bytes: &[u8], z: &[f32]) -> (Batch, Resolved) {
    let file = ModelFile::parse(bytes).expect("parse");
    let cfg = &file.meta.generator;
    let ivs = Interventions::default();
    (
        Batch::from_latents(cfg, 0, z, &ivs).expect("batch"),
        Resolved::new(cfg, &ivs).expect("resolved"),
    )
}

fn on_candle(bytes: &[u8], z: &[f32]) -> Vec<f32> {
    let (b, r) = batch(bytes, z);
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
fn on_wgpu(bytes: &[u8], z: &[f32]) -> Option<Vec<f32>> {
    let gpu = match Gpu::new_blocking() {
        Ok(g) => g,
        Err(e) if std::env::var_os("CI").is_none() => {
            eprintln!("wgpu skipped: {e}");
            return None;
        }
        Err(e) => panic!("CI needs a GPU adapter (lavapipe): {e}"),
    };
    let (b, r) = batch(bytes, z);
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
        let z = npy(&dir.join("z.npy"));
        let want = npy(&dir.join("out.npy"));
        for f in std::fs::read_dir(&dir).expect("case").flatten() {
            let f = f.path();
            if f.extension().is_some_and(|e| e == "npy") {
                continue;
            }
            let what = f.display().to_string();
            let bytes = std::fs::read(&f).expect("read");
            let m = import(&bytes, &what, &Options::default())
                .unwrap_or_else(|e| panic!("{what}: {e}"));
            let file = to_bytes(&m, false).expect("bytes");
            let got = on_candle(&file, &z);
            let d = max_diff(&got, &want);
            assert!(d <= 1e-4, "{what} on candle: off by {d}");
            if let Some(got) = on_wgpu(&file, &z) {
                let d = max_diff(&got, &want);
                assert!(d <= 1e-4, "{what} on wgpu: off by {d}");
            }
            cases += 1;
        }
    }
    assert!(cases >= 4, "only {cases} fixtures found");
}

#[test]
fn the_bundled_face_model_renders_what_pytorch_renders() {
    let model =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../www/models/dcgan-digiface.safetensors");
    let bytes = std::fs::read(&model).expect("the bundled face model");
    let dir = root().join("face");
    let z = npy(&dir.join("z.npy"));
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
