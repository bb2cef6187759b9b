//! The analyses give the same numbers on candle and on wgpu (lavapipe in CI), on the
//! bundled RPGAN; hybrid sets split over small submissions equal the candle ones; GANSpace
//! directions and a move along one agree.

use ganscope_analysis::buckets::{responsibility, BucketOptions};
use ganscope_analysis::influence::{channel_set, influence_maps, pair_batch};
use ganscope_analysis::renderer::{CpuRenderer, GpuRenderer, Renderer};
use ganscope_gpu::{block_on, Gpu, GpuModel};
use ganscope_model::intervention::Resolved;

fn bundled() -> Vec<u8> {
    let path = format!(
        "{}/../www/models/rpgan-colored-mnist.safetensors",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The default adapter; a missing one fails under CI and skips elsewhere.
fn gpu() -> Option<Gpu> {
    match Gpu::new_blocking() {
        Ok(g) => Some(g),
        Err(e) if std::env::var_os("CI").is_none() => {
            eprintln!("skipped: {e}");
            None
        }
        Err(e) => panic!("CI needs a GPU adapter (lavapipe): {e}"),
    }
}

fn max_rel(a: &[f32], b: &[f32]) -> f32 {
    let top = b.iter().fold(0f32, |m, v| m.max(v.abs())).max(1e-12);
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
        / top
}

#[test]
fn influence_maps_and_bucket_responsibility_agree_on_both_backends() {
    let Some(g) = gpu() else { return };
    let bytes = bundled();
    let mut cpu = CpuRenderer::load(&bytes).expect("cpu");
    let mut gpu = GpuRenderer::with_gpu(g, &bytes).expect("gpu");
    let a = block_on(influence_maps(&mut cpu, 1, 12, 3, &mut |_, _| {})).expect("cpu maps");
    let b = block_on(influence_maps(&mut gpu, 1, 12, 3, &mut |_, _| {})).expect("gpu maps");
    assert_eq!(a.maps.len(), b.maps.len());
    let err = max_rel(&b.maps, &a.maps);
    assert!(
        err < 1e-3,
        "influence maps differ by {err} of the largest value"
    );
    let o = BucketOptions {
        evaluations: 6,
        images: 4,
        seed: 1,
    };
    let ra = block_on(responsibility(&mut cpu, None, &o, &mut |_, _| {})).expect("cpu buckets");
    let rb = block_on(responsibility(&mut gpu, None, &o, &mut |_, _| {})).expect("gpu buckets");
    for (x, y) in ra.buckets.iter().zip(&rb.buckets) {
        // histograms of 8-bit values: a pixel on a rounding edge may change bin
        let d = (x.colour_absolute.mean - y.colour_absolute.mean).abs();
        assert!(d < 2e-3, "bucket {}: colour {d}", x.bucket);
    }
}

#[test]
fn hybrid_sets_split_over_small_submissions_equal_candle() {
    let Some(g) = gpu() else { return };
    let bytes = bundled();
    let mut cpu = CpuRenderer::load(&bytes).expect("cpu");
    let mut model = GpuModel::load(g, bytes).expect("gpu");
    // 5 pairs + donors in chunks of 3 and 2 samples; the first chunk's 4 sets in two passes
    model.set_max_rows(12);
    let batch = pair_batch(&cpu, 2, 5, 8).expect("pairs");
    let cfg = cpu.config().clone();
    let [c, h, w] = ganscope_model::generator::site_shapes(&cfg)[2].1;
    let sets: Vec<_> = (0..4).map(|k| channel_set(c, h * w, &[k, k + 4])).collect();
    let resolved = Resolved::default_for(&cfg);
    let want = block_on(cpu.hybrid_sets(&batch, &resolved, 2, &sets)).expect("cpu sets");
    let got = block_on(model.render_hybrid_sets(&batch, &resolved, 2, &sets)).expect("gpu sets");
    assert_eq!(got.len(), want.len());
    let err = got
        .iter()
        .zip(&want)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max);
    assert!(err < 1e-4, "hybrid sets differ by {err}");
    // no sets is an error on both backends
    assert!(block_on(cpu.hybrid_sets(&batch, &resolved, 2, &[])).is_err());
    assert!(block_on(model.render_hybrid_sets(&batch, &resolved, 2, &[])).is_err());
}

#[test]
fn directions_and_their_sweeps_agree_on_both_backends() {
    use ganscope_analysis::directions::ganspace;
    use ganscope_model::intervention::Interventions;
    use ganscope_model::sample::Batch;
    let Some(g) = gpu() else { return };
    let bytes = bundled();
    let mut cpu = CpuRenderer::load(&bytes).expect("cpu");
    let mut gpu = GpuRenderer::with_gpu(g, &bytes).expect("gpu");
    let a = block_on(ganspace(&mut cpu, Some(1), 96, 4, 0)).expect("cpu directions");
    let b = block_on(ganspace(&mut gpu, Some(1), 96, 4, 0)).expect("gpu directions");
    assert_eq!(a.site, b.site);
    for (k, (x, y)) in a.directions.iter().zip(&b.directions).enumerate() {
        let dot: f32 = x.vector.iter().zip(&y.vector).map(|(p, q)| p * q).sum();
        assert!(dot > 0.999, "direction {k}: cosine {dot}");
        assert!((x.sigma - y.sigma).abs() < 1e-3 * x.sigma, "sigma {k}");
    }
    // one sweep column (direction 1 at +2 sigma) renders the same on both
    let cfg = cpu.config().clone();
    let iv = Interventions {
        shifts: vec![a.shift(0, 2.0).expect("shift")],
        ..Interventions::default()
    };
    let batch = Batch::new(&cfg, 3, 4, &iv).expect("batch");
    let resolved = Resolved::new(&cfg, &iv).expect("resolved");
    let x = block_on(cpu.render(&batch, &resolved, &[]))
        .expect("cpu")
        .images;
    let y = block_on(gpu.render(&batch, &resolved, &[]))
        .expect("gpu")
        .images;
    let err = x
        .iter()
        .zip(&y)
        .map(|(p, q)| (p - q).abs())
        .fold(0f32, f32::max);
    assert!(err < 1e-4, "sweep image differs by {err}");
}
