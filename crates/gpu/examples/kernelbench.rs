//! GEMM kernels alone at the bundled colored-MNIST generator's shapes (batch 64): wgpu time
//! per op (20 ops recorded into one submission, then one readback) and GFLOP/s, against the
//! candle CPU op timed in the same run.
//!
//! `cargo run --release -p ganscope-gpu --example kernelbench [-- BATCH]`

use std::time::Instant;

use ganscope_gpu::readback::read_buffers;
use ganscope_gpu::{block_on, Gpu, WgpuBackend};
use ganscope_model::backend::Backend;
use ganscope_model::candle_backend::CandleBackend;

const REPS: usize = 20;

/// Name, op, input shape, weight shape, multiply-adds per sample.
type Case = (&'static str, Op, Vec<usize>, Vec<usize>, usize);

#[derive(Clone, Copy)]
enum Op {
    Linear,
    ConvT,
}

fn run<B: Backend>(b: &B, op: Op, x: &B::Tensor, w: &B::Tensor, bias: &B::Tensor) -> B::Tensor {
    match op {
        Op::Linear => b.linear(x, w, Some(bias)),
        Op::ConvT => b.conv_transpose2d(x, w, Some(bias), 2, 1),
    }
    .expect("op")
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: usize = std::env::args().nth(1).map_or(Ok(64), |s| s.parse())?;
    let gpu = Gpu::new_blocking()?;
    println!(
        "wgpu: {}\nbatch {n}, {REPS} ops per submission\n",
        gpu.describe()
    );
    println!("| op | wgpu ms | wgpu GFLOP/s | candle CPU ms | wgpu vs candle |");
    println!("| --- | ---: | ---: | ---: | ---: |");
    let cases: [Case; 4] = [
        (
            "linear 128->2048",
            Op::Linear,
            vec![n, 128],
            vec![2048, 128],
            128 * 2048,
        ),
        (
            "convT 128->64, 4->8",
            Op::ConvT,
            vec![n, 128, 4, 4],
            vec![128, 64, 4, 4],
            4 * 128 * 64 * 64,
        ),
        (
            "convT 64->32, 8->16",
            Op::ConvT,
            vec![n, 64, 8, 8],
            vec![64, 32, 4, 4],
            4 * 64 * 32 * 256,
        ),
        (
            "convT 32->3, 16->32",
            Op::ConvT,
            vec![n, 32, 16, 16],
            vec![32, 3, 4, 4],
            4 * 32 * 3 * 1024,
        ),
    ];
    let g = WgpuBackend::new(gpu);
    let c = CandleBackend::cpu();
    for (name, op, xs, ws, macs) in cases {
        let xv: Vec<f32> = (0..xs.iter().product())
            .map(|i| (i % 7) as f32 * 0.1)
            .collect();
        let wv: Vec<f32> = (0..ws.iter().product())
            .map(|i| (i % 5) as f32 * 0.01)
            .collect();
        let o = if matches!(op, Op::Linear) {
            ws[0]
        } else {
            ws[1]
        };
        let (gx, gw, gb) = (
            g.tensor(xv.clone(), &xs)?,
            g.tensor(wv.clone(), &ws)?,
            g.tensor(vec![0.1; o], &[o])?,
        );
        let time_gpu = || -> Result<f64, Box<dyn std::error::Error>> {
            let t = Instant::now();
            let mut y = run(&g, op, &gx, &gw, &gb);
            for _ in 1..REPS {
                y = run(&g, op, &gx, &gw, &gb);
            }
            block_on(read_buffers(&g.rec, &[(&y.buf, 4)]))?;
            Ok(t.elapsed().as_secs_f64() / REPS as f64)
        };
        time_gpu()?; // pipelines, buffers
        let tg = (0..3).map(|_| time_gpu()).collect::<Result<Vec<_>, _>>()?;
        let tg = tg.into_iter().fold(f64::INFINITY, f64::min);
        let (cx, cw, cb) = (
            c.tensor(xv, &xs)?,
            c.tensor(wv, &ws)?,
            c.tensor(vec![0.1; o], &[o])?,
        );
        run(&c, op, &cx, &cw, &cb);
        let t = Instant::now();
        for _ in 0..5 {
            run(&c, op, &cx, &cw, &cb);
        }
        let tc = t.elapsed().as_secs_f64() / 5.0;
        let gflops = 2.0 * (macs * n) as f64 / tg / 1e9;
        println!(
            "| {name} | {:.3} | {gflops:.2} | {:.3} | {:.2}x |",
            tg * 1e3,
            tc * 1e3,
            tc / tg
        );
    }
    Ok(())
}
