//! Times the candle backend's convolutions (ganscope's im2col/col2im GEMM versions in
//! `ganscope_model::conv`) against candle's own CPU ops, at the MNIST generator's shapes.
//! `cargo run -p ganscope-model --example opbench` (the dev profile builds candle and this crate
//! at opt-level 3)
use candle_core::{Device, Tensor, Var};
use ganscope_model::conv;
use std::time::Instant;

fn time<F: FnMut() -> candle_core::Result<()>>(name: &str, mut f: F) -> candle_core::Result<f64> {
    f()?;
    let t = Instant::now();
    for _ in 0..5 {
        f()?;
    }
    let ms = t.elapsed().as_secs_f64() * 1e3 / 5.0;
    println!("{name:<44} {ms:8.2} ms");
    Ok(ms)
}

fn var(shape: &[usize]) -> candle_core::Result<Var> {
    Var::from_tensor(&Tensor::randn(0f32, 1., shape, &Device::Cpu)?)
}

/// (label, transposed, input shape, weight shape, stride, padding)
type Case = (&'static str, bool, [usize; 4], [usize; 4], usize, usize);

fn main() -> candle_core::Result<()> {
    let cases: [Case; 3] = [
        (
            "convT 128->64 4->8, N64",
            true,
            [64, 128, 4, 4],
            [128, 64, 4, 4],
            2,
            1,
        ),
        (
            "convT 64->32 8->16, N64",
            true,
            [64, 64, 8, 8],
            [64, 32, 4, 4],
            2,
            1,
        ),
        (
            "conv 32->64 16->8, N128",
            false,
            [128, 32, 16, 16],
            [64, 32, 4, 4],
            2,
            1,
        ),
    ];
    for (label, tr, xs, ws, s, p) in cases {
        let (x, w) = (var(&xs)?, var(&ws)?);
        let ours = |bwd: bool| {
            let y = if tr {
                conv::conv_transpose2d(&x, &w, s, p)?
            } else {
                conv::conv2d(&x, &w, s, p)?
            };
            if bwd {
                y.sum_all()?.backward()?;
            }
            Ok(())
        };
        let theirs = |bwd: bool| {
            let y = if tr {
                x.conv_transpose2d(&w, p, 0, s, 1)?
            } else {
                x.conv2d(&w, p, s, 1, 1)?
            };
            if bwd {
                y.sum_all()?.backward()?;
            }
            Ok(())
        };
        for bwd in [false, true] {
            let tag = if bwd { "fwd+bwd" } else { "fwd" };
            let a = time(&format!("{label} {tag} ganscope"), || ours(bwd))?;
            let b = time(&format!("{label} {tag} candle"), || theirs(bwd))?;
            println!("{:<44} {:8.2}x", "  speed-up", b / a);
        }
    }
    Ok(())
}
