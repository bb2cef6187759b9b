//! `ganscope bench`: the forward of one model file on candle (CPU) and on wgpu, measured in
//! the same run: latency per forward at batch 1, throughput at larger batches, and the ratio.
//! Each measurement includes everything a caller waits for: the latents' upload, the forward
//! and the readback of the images. Both backends run the same algorithm (prefix reuse,
//! [`ganscope_model::shared`]), so the ratio compares the backends, not two algorithms.

use ganscope_gpu::{block_on, Gpu, GpuModel};
use ganscope_model::candle_backend::{load_candle, CandleBackend};
use ganscope_model::intervention::{Interventions, Resolved};
use ganscope_model::sample::Batch;
use ganscope_model::shared::render_shared;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use clap::Args;
use std::path::PathBuf;

/// One batch size measured on both backends.
#[derive(Clone, Debug, PartialEq)]
pub struct BenchRow {
    /// Samples per forward.
    pub batch: usize,
    /// Median seconds per forward on candle (CPU).
    pub cpu: f64,
    /// Median seconds per forward on wgpu.
    pub gpu: f64,
}

impl BenchRow {
    /// How many times faster wgpu is than candle.
    pub fn ratio(&self) -> f64 {
        self.cpu / self.gpu
    }
}

/// Median seconds of `f`, after one warm-up call, over at least 3 calls and `min_time`.
fn time<F: FnMut() -> Result<()>>(mut f: F, min_time: Duration) -> Result<f64> {
    f()?;
    let start = Instant::now();
    let mut v = Vec::new();
    while v.len() < 3 || (start.elapsed() < min_time && v.len() < 1000) {
        let t = Instant::now();
        f()?;
        v.push(t.elapsed().as_secs_f64());
    }
    v.sort_by(f64::total_cmp);
    Ok(v[v.len() / 2])
}

/// Measures `bytes` at each batch size (random paths for an RPGAN, seed 0).
pub fn bench(
    bytes: &[u8],
    gpu: Gpu,
    batches: &[usize],
    min_time: Duration,
) -> Result<Vec<BenchRow>> {
    let cpu = load_candle(bytes, &candle_core::Device::Cpu)?;
    let mut g = GpuModel::load(gpu, bytes.to_vec())?;
    let cfg = cpu.generator.config.clone();
    let iv = Interventions::default();
    let resolved = Resolved::default_for(&cfg);
    let be = CandleBackend::cpu();
    let mut rows = Vec::new();
    for &n in batches {
        let batch = Batch::new(&cfg, 0, n, &iv)?;
        let c = time(
            || {
                let (y, _) = render_shared(&cpu.generator, &be, &batch, &resolved, &[])?;
                let _ = y.flatten_all()?.to_vec1::<f32>()?;
                Ok(())
            },
            min_time,
        )?;
        let w = time(
            || {
                block_on(g.render(&batch, &resolved, &[]))?;
                Ok(())
            },
            min_time,
        )?;
        rows.push(BenchRow {
            batch: n,
            cpu: c,
            gpu: w,
        });
    }
    Ok(rows)
}

/// What `ganscope bench` prints: the adapter, the CPU, and the table.
pub fn report(bytes: &[u8], name: &str, batches: &[usize], min_time: Duration) -> Result<String> {
    let gpu = Gpu::new_blocking()?;
    let adapter = gpu.describe();
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let rows = bench(bytes, gpu, batches, min_time)?;
    Ok(format!(
        "model:   {name}\nwgpu:    {adapter}\ncandle:  CPU, {threads} threads available\n\
         (median seconds per forward, upload + forward + readback of the images)\n\n{}",
        table(&rows)
    ))
}

/// What `ganscope bench --against OTHER` prints: both models measured in this run, each on
/// both backends, and how many times faster the first is than the other (e.g. a model
/// `ganscope compress` made, against its original).
pub fn report_against(
    bytes: &[u8],
    name: &str,
    other: &[u8],
    other_name: &str,
    batches: &[usize],
    min_time: Duration,
) -> Result<String> {
    let gpu = Gpu::new_blocking()?;
    let adapter = gpu.describe();
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let mine = bench(bytes, gpu.clone(), batches, min_time)?;
    let theirs = bench(other, gpu, batches, min_time)?;
    let mut s = format!(
        "model:   {name}\nagainst: {other_name}\nwgpu:    {adapter}\ncandle:  CPU, {threads} threads available\n\
         (median seconds per forward, upload + forward + readback of the images)\n\n\
         {name}:\n{}\n{other_name}:\n{}\n\
         | batch | candle: speed-up of {name} | wgpu: speed-up of {name} |\n| ---: | ---: | ---: |\n",
        table(&mine),
        table(&theirs)
    );
    for (a, b) in mine.iter().zip(&theirs) {
        s.push_str(&format!(
            "| {} | {:.2}x | {:.2}x |\n",
            a.batch,
            b.cpu / a.cpu,
            b.gpu / a.gpu
        ));
    }
    Ok(s)
}

/// The table `ganscope bench` prints.
pub fn table(rows: &[BenchRow]) -> String {
    let mut s = String::from(
        "| batch | candle CPU ms/forward | wgpu ms/forward | candle img/s | wgpu img/s | wgpu vs candle |\n\
         | ---: | ---: | ---: | ---: | ---: | ---: |\n",
    );
    for r in rows {
        let n = r.batch as f64;
        s.push_str(&format!(
            "| {} | {:.2} | {:.2} | {:.0} | {:.0} | {:.2}x |\n",
            r.batch,
            r.cpu * 1e3,
            r.gpu * 1e3,
            n / r.cpu,
            n / r.gpu,
            r.ratio()
        ));
    }
    s
}

/// The options of `bench`.
#[derive(Args)]
pub struct BenchArgs {
    /// The model file.
    model: PathBuf,
    /// Batch sizes.
    #[arg(long, value_delimiter = ',', default_values_t = [1usize, 64, 256])]
    batches: Vec<usize>,
    /// Seconds to keep repeating each measurement (the median is printed).
    #[arg(long, default_value_t = 2.0)]
    min_time: f64,
    /// Also time this model file in the same run and print the speed-up of MODEL over
    /// it (e.g. a compressed model against its original).
    #[arg(long)]
    against: Option<PathBuf>,
}

/// Runs `ganscope bench`.
pub fn run(a: &BenchArgs) -> Result<()> {
    let (batches, min_time) = (&a.batches, a.min_time);
    if batches.is_empty() || batches.contains(&0) {
        bail!("--batches needs positive batch sizes, e.g. 1,64,256");
    }
    if !(min_time.is_finite() && (0.0..=600.0).contains(&min_time)) {
        bail!("--min-time must be a number of seconds in 0..=600");
    }
    let bytes = super::read(&a.model)?;
    let time = Duration::from_secs_f64(min_time);
    let name = a.model.display().to_string();
    let report = match &a.against {
        None => report(&bytes, &name, batches, time)?,
        Some(other) => {
            let o = super::read(other)?;
            let other_name = other.display().to_string();
            report_against(&bytes, &name, &o, &other_name, batches, time)?
        }
    };
    print!("{report}");
    Ok(())
}
