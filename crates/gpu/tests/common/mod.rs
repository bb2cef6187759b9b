//! Test helpers: the GPU (lavapipe in CI), readback, seeded data and tolerant comparison.
#![allow(dead_code, missing_docs)]

use ganscope_gpu::readback::read_buffers;
use ganscope_gpu::{block_on, Gpu, GpuTensor, WgpuBackend};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// The default adapter. Without one the test is skipped, except under CI (`CI` set), where a
/// missing adapter (lavapipe: `apt-get install mesa-vulkan-drivers`) is a failure.
pub fn gpu() -> Option<Gpu> {
    match Gpu::new_blocking() {
        Ok(g) => Some(g),
        Err(e) if std::env::var_os("CI").is_none() => {
            eprintln!("skipped: {e}");
            None
        }
        Err(e) => panic!("CI needs a GPU adapter (lavapipe): {e}"),
    }
}

/// A backend whose outputs are filled with NaN before every kernel writes them.
pub fn poisoned(gpu: &Gpu) -> WgpuBackend {
    let b = WgpuBackend::new(gpu.clone());
    b.rec.poison.set(true);
    b
}

pub fn read(b: &WgpuBackend, t: &GpuTensor) -> Vec<f32> {
    let d = block_on(read_buffers(&b.rec, &[(&t.buf, 4 * t.len() as u64)])).expect("readback");
    d[0].chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

pub fn rand_vec(rng: &mut StdRng, n: usize, scale: f32) -> Vec<f32> {
    (0..n).map(|_| rng.random_range(-scale..scale)).collect()
}

pub fn rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

/// `|got - want| <= abs + rel |want|` everywhere (NaN fails), else a panic naming the worst.
pub fn assert_close(what: &str, got: &[f32], want: &[f32], rel: f32, abs: f32) {
    assert_eq!(got.len(), want.len(), "{what}: lengths differ");
    let mut worst = (0usize, 0.0f32);
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let err = (g - w).abs();
        let ok = err <= abs + rel * w.abs();
        if !ok && (err.is_nan() || err > worst.1 || !worst.1.is_finite()) {
            worst = (i, if err.is_nan() { f32::INFINITY } else { err });
        }
    }
    assert!(
        worst.1 == 0.0,
        "{what}: element {} is {} but should be {} (of {})",
        worst.0,
        got[worst.0],
        want[worst.0],
        got.len()
    );
}
