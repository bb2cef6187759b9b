//! The steps of `ganscope analyze`, one function per analysis: run it, save its JSON, draw
//! its figure and add both to the report.

use ganscope_analysis::artifacts::inject_noise;
use ganscope_analysis::buckets::{responsibility, BucketOptions};
use ganscope_analysis::metrics::Features;
use ganscope_analysis::renderer::{block_on, image_len, CpuRenderer};
use ganscope_model::intervention::{Interventions, Resolved};
use ganscope_model::sample::{random_paths, Batch};

use super::figures::{bar_chart, Series};
use super::{Job, What};
use anyhow::Result;
use ganscope_train::images::{grid, save_png};

/// Runs one analysis.
pub fn run(job: &mut Job, what: What) -> Result<()> {
    match what {
        What::Paths => paths(job),
        What::Buckets => buckets(job),
        What::Quality => super::quality::quality(job),
        What::Dissect => super::units::dissection(job),
        What::Ace => super::units::ace(job),
        What::Artifacts => super::units::artifacts(job),
        What::Influence => super::channels::influence(job, false),
        What::Modules => super::channels::influence(job, true),
        What::Groups => super::channels::groups(job),
        What::Directions => super::directions::directions(job),
        What::All => Ok(()),
    }
}

pub(super) fn png(
    job: &mut Job,
    name: &str,
    data: &[f32],
    n: usize,
    c: usize,
    nrow: usize,
    alt: &str,
) -> Result<()> {
    let s = job.meta.generator.image_size;
    let path = job.path(name);
    save_png(&grid(data, n, c, s, nrow), &path)?;
    job.report.png(&path, alt)
}

pub(super) fn svg(job: &mut Job, name: &str, svg: &str, alt: &str) -> Result<()> {
    ganscope_model::format::write_atomic(&job.path(name), svg.as_bytes())?;
    job.report.svg(svg, alt);
    Ok(())
}

fn paths(job: &mut Job) -> Result<()> {
    let cfg = job.meta.generator.clone();
    if !cfg.is_rpgan() {
        return noise_grid(job);
    }
    job.report.heading("Path grids (RPGAN Figure 3)");
    for k in 0..3 {
        let seed = job.args.seed.wrapping_add(k);
        let base = random_paths(seed, 1, &cfg.blocks()).remove(0);
        let (batch, cols) = Batch::vary_buckets(&cfg, seed, &base)?;
        let f = block_on(job.r.render(&batch, &Resolved::default_for(&cfg), &[]))?;
        let alt = format!("path {base:?}; row i varies bucket i over its blocks");
        png(
            job,
            &format!("paths-seed{seed}.png"),
            &f.images,
            batch.n,
            cfg.channels,
            cols,
            &alt,
        )?;
    }
    Ok(())
}

/// The RPGAN paper's baseline for a standard generator (appendix B): row i renders the same
/// latent with Gaussian noise in layer group i's weights, one noise draw per column (the
/// first column has none).
fn noise_grid(job: &mut Job) -> Result<()> {
    let cfg = job.meta.generator.clone();
    let batch = Batch::new(&cfg, job.args.seed, 1, &Interventions::default())?;
    let resolved = Resolved::default_for(&cfg);
    let cols = 8;
    let mut images = Vec::with_capacity(cfg.buckets.len() * cols * image_len(&cfg));
    // every column on candle, the noisy models as the plain one
    let plain = CpuRenderer::load(&job.bytes)?
        .render_now(&batch, &resolved, &[])?
        .images;
    for layer in 0..cfg.buckets.len() {
        images.extend_from_slice(&plain);
        for k in 1..cols as u64 {
            let noisy = inject_noise(
                &job.bytes,
                layer,
                job.args.noise,
                job.args.seed.wrapping_mul(1000).wrapping_add(k),
            )?;
            images.extend(
                CpuRenderer::load(&noisy)?
                    .render_now(&batch, &resolved, &[])?
                    .images,
            );
        }
    }
    job.report.heading("Noise injection (RPGAN appendix B)");
    let alt = format!(
        "row i: Gaussian noise of {} times each weight's std in layer group {{i}}; first column without noise",
        job.args.noise
    );
    png(
        job,
        &format!("noise-seed{}.png", job.args.seed),
        &images,
        cfg.buckets.len() * cols,
        cfg.channels,
        cols,
        &alt,
    )
}

/// Classifier features of up to `n` real test images (`--data`, default the bundled MNIST,
/// colored when the model was trained on colored MNIST); and the data's name.
/// The real test images the quality is measured against (`--data`, default the bundled
/// MNIST; coloured like the model's data), at most `limit`.
pub(super) fn real_test_data(job: &Job, limit: Option<usize>) -> Result<ganscope_data::Dataset> {
    let g = &job.meta.generator;
    let spec = job
        .args
        .data
        .clone()
        .unwrap_or_else(ganscope_train::options::bundled_mnist);
    let source: ganscope_data::Source = spec.parse()?;
    let colored = job
        .meta
        .dataset
        .as_ref()
        .is_some_and(|d| d.name.contains("colored"));
    let opts = ganscope_data::LoadOptions {
        size: g.image_size,
        channels: g.channels,
        colored,
        split: ganscope_data::Split::Test,
        limit,
        seed: job.args.seed ^ 0x5eed,
    };
    Ok(ganscope_data::load(&source, &opts)?)
}

/// The first `n` (or fewer) real test images `[m, C, S, S]`, their count `m` and the data's
/// name.
pub(super) fn real_images(job: &Job, n: usize) -> Result<(Vec<f32>, usize, String)> {
    let data = real_test_data(job, Some(n))?;
    let m = data.len().min(n);
    Ok((data.batch(&(0..m).collect::<Vec<_>>()), m, data.name))
}

/// [`real_images`]' features.
pub(super) fn real_features(
    job: &Job,
    f: &dyn Features,
    n: usize,
) -> Result<(Vec<f32>, usize, String)> {
    let (images, m, name) = real_images(job, n)?;
    Ok((f.features(&images, m)?, m, name))
}

fn buckets(job: &mut Job) -> Result<()> {
    let features = job.features()?;
    let o = BucketOptions {
        evaluations: job.args.evaluations,
        images: 4,
        seed: job.args.seed,
    };
    let rows = (o.evaluations * 4 * job.meta.generator.buckets.len()) as u64;
    let pb = job.bar("buckets", rows);
    let f: Option<&dyn ganscope_analysis::metrics::Features> = features.as_deref().map(|f| f as _);
    let res = block_on(responsibility(job.r.as_mut(), f, &o, &mut |d, _| {
        pb.set_position(d as u64)
    }))?;
    pb.finish_and_clear();
    job.save("buckets", &res)?;
    job.report.heading("Bucket responsibility (RPGAN sec. 4.1)");
    job.report.text(&format!(
        "D(l) / D(1) over {} evaluations ({} skipped where bucket 1 changed nothing), four images per \
         bucket; colour: Hellinger distance of 25-bin channel histograms; semantic: L2 distance of {}.",
        res.evaluations,
        res.skipped,
        res.features.as_deref().unwrap_or("(no classifier given)")
    ));
    let cats: Vec<String> = res
        .buckets
        .iter()
        .map(|b| format!("B{}", b.bucket))
        .collect();
    let names = if job.meta.generator.channels == 3 {
        vec!["red", "green", "blue"]
    } else {
        vec!["grey"]
    };
    let mut series: Vec<Series> = names
        .iter()
        .enumerate()
        .map(|(c, n)| Series {
            name: format!("colour ({n})"),
            values: res
                .buckets
                .iter()
                .map(|b| (b.colour[c].mean, b.colour[c].std))
                .collect(),
        })
        .collect();
    if res.buckets.iter().all(|b| b.semantic.is_some()) {
        series.push(Series {
            name: "semantic".into(),
            values: res
                .buckets
                .iter()
                .filter_map(|b| b.semantic.map(|s| (s.mean, s.std)))
                .collect(),
        });
    }
    let chart = bar_chart(
        "Relative diversity per bucket",
        "varying bucket",
        "D(l) / D(1)",
        &cats,
        &series,
    )?;
    svg(
        job,
        "buckets.svg",
        &chart,
        "bar chart of each bucket's colour and semantic diversity relative to bucket 1",
    )?;
    let table: Vec<Vec<String>> = res
        .buckets
        .iter()
        .map(|b| {
            vec![
                format!("B{}", b.bucket),
                format!("{:.3} ± {:.3}", b.colour_mean.mean, b.colour_mean.std),
                b.semantic
                    .map_or("-".into(), |s| format!("{:.3} ± {:.3}", s.mean, s.std)),
                format!("{:.4}", b.colour_absolute.mean),
                b.semantic_absolute
                    .map_or("-".into(), |s| format!("{:.3}", s.mean)),
            ]
        })
        .collect();
    job.report.table(
        &[
            "bucket",
            "colour D(l)/D(1)",
            "semantic D(l)/D(1)",
            "colour D(l)",
            "semantic D(l)",
        ],
        &table,
    );
    Ok(())
}
