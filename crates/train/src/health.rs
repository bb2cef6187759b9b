//! What a loss curve does not show: RPGAN blocks that draw one constant image whatever the
//! rest of the path does. Such a block is dead: its output tanh (or a ReLU before it) has
//! saturated for every input, so its gradient vanished and training cannot bring it back;
//! every path through it draws nothing (`docs/training.md`).

use crate::trainer::Trainer;
use crate::Result;
use ganscope_model::candle_backend::CandleBackend;

/// Samples drawn through each block, the rest of each path random.
const PER_BLOCK: usize = 4;
/// A block whose images span less than this (of the [-1, 1] range) draws nothing.
const FLAT: f32 = 1e-3;

/// A block whose every image is one value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DeadBlock {
    /// Bucket, 0-based.
    pub bucket: usize,
    /// Block in the bucket, 0-based (as in a path).
    pub block: usize,
    /// The value every pixel takes (-1: black).
    pub value: f32,
}

/// Every dead block of the generator (eval mode), in bucket then block order; empty for a
/// standard GAN.
pub fn dead_blocks(tr: &Trainer, seed: u64) -> Result<Vec<DeadBlock>> {
    let be = CandleBackend {
        device: tr.device.clone(),
        train: false,
        sink: None,
    };
    let mut dead = Vec::new();
    for (bucket, &m) in tr.gcfg.blocks().iter().enumerate() {
        if m < 2 {
            continue;
        }
        let (z, mut paths) =
            tr.draw(seed.wrapping_add(bucket as u64), m * PER_BLOCK, &tr.device)?;
        for (k, p) in paths.iter_mut().enumerate() {
            p[bucket] = k / PER_BLOCK;
        }
        let y = tr.g.forward(&be, z.as_ref(), &paths, &mut |_, x| Ok(x))?; // [m*PER_BLOCK, C, S, S]
        let y = y.flatten_from(1)?.to_vec2::<f32>()?; // [m*PER_BLOCK][C*S*S]
        for (block, rows) in y.chunks(PER_BLOCK).enumerate() {
            let (lo, hi) = rows
                .iter()
                .flatten()
                .fold((f32::INFINITY, f32::NEG_INFINITY), |(l, h), &v| {
                    (l.min(v), h.max(v))
                });
            if hi - lo < FLAT {
                dead.push(DeadBlock {
                    bucket,
                    block,
                    value: (lo + hi) / 2.0,
                });
            }
        }
    }
    Ok(dead)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::TrainOptions;
    use ganscope_model::config::Rpgan;

    #[test]
    fn a_saturated_output_block_is_found_and_only_it() -> Result<()> {
        let dir = tempfile::tempdir().expect("tmp");
        let o = TrainOptions {
            limit: Some(64),
            width: 4,
            d_width: 4,
            latent_dim: 8,
            rpgan: Some(Rpgan::new(4, 3)),
            steps: 1,
            batch: 4,
            ..TrainOptions::default()
        };
        let tr = crate::run::open(o, dir.path(), false, None)?;
        assert_eq!(
            dead_blocks(&tr, 1)?,
            vec![],
            "a fresh generator draws with every block"
        );
        // bucket 4's block 2 as training killed one: weights to 0, bias far below 0
        let p = "g.bucket4.block2.layer4.conv";
        let (w, b) = (
            tr.store.vars[&format!("{p}.weight")].clone(),
            tr.store.vars[&format!("{p}.bias")].clone(),
        );
        w.set(&w.zeros_like()?)?;
        b.set(&(b.ones_like()? * -20.0)?)?;
        let dead = dead_blocks(&tr, 1)?;
        assert_eq!(dead.len(), 1, "{dead:?}");
        assert_eq!((dead[0].bucket, dead[0].block), (3, 2));
        assert!((dead[0].value + 1.0).abs() < 1e-3, "black: {dead:?}");
        Ok(())
    }
}
