//! Helpers shared by the training tests.

use candle_core::{Device, Tensor};
use std::collections::BTreeMap;
use std::path::Path;

/// A tensor's values as bits (for bit-for-bit comparisons).
pub fn bits(t: &Tensor) -> Vec<u32> {
    t.flatten_all()
        .and_then(|t| t.to_vec1::<f32>())
        .expect("f32 values")
        .iter()
        .map(|x| x.to_bits())
        .collect()
}

/// The step of a run folder's checkpoint and every tensor in it as bits, by name.
pub fn checkpoint_bits(dir: &Path) -> (u64, BTreeMap<String, Vec<u32>>) {
    let (meta, t) =
        ganscope_train::checkpoint::load(dir, &Device::Cpu).expect("the checkpoint loads");
    (
        meta.step,
        t.iter().map(|(n, v)| (n.clone(), bits(v))).collect(),
    )
}
