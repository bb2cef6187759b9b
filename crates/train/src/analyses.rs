//! The steps of `ganscope analyze`, one function per analysis: run it, save its JSON, draw
//! its figure and add both to the report.

use ganscope_analysis::buckets::{responsibility, BucketOptions};
use ganscope_analysis::dissect::{
    concept_means, dissect, rank_units, sample, upsample, RuleSegmenter, Segmenter,
};
use ganscope_analysis::groups::{concept_groups, exchange};
use ganscope_analysis::influence::{influence_maps, module_hybrids, modules};
use ganscope_analysis::metrics::{frechet, precision_recall};
use ganscope_model::generator::site_name;
use ganscope_model::intervention::{Interventions, Resolved};
use ganscope_model::sample::{random_paths, Batch};

use crate::analyze::{need_features, Job, What};
use crate::figures::{bar_chart, normalise_maps, overlay, Series};
use crate::images::{grid, save_png};
use crate::{Result, TrainError};

/// Runs one analysis.
pub fn run(job: &mut Job, what: What) -> Result<()> {
    match what {
        What::Paths => paths(job),
        What::Buckets => buckets(job),
        What::Quality => quality(job),
        What::Dissect => dissection(job),
        What::Ace => ace(job),
        What::Influence => influence(job, false),
        What::Modules => influence(job, true),
        What::Groups => groups(job),
        What::All => Ok(()),
    }
}

fn png(
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

fn svg(job: &mut Job, name: &str, svg: &str, alt: &str) -> Result<()> {
    ganscope_model::format::write_atomic(&job.path(name), svg.as_bytes())?;
    job.report.svg(svg, alt);
    Ok(())
}

fn paths(job: &mut Job) -> Result<()> {
    let cfg = job.meta.generator.clone();
    job.report.heading("Path grids (RPGAN Figure 3)");
    for k in 0..3 {
        let seed = job.args.seed + k;
        let base = random_paths(seed, 1, &cfg.blocks()).remove(0);
        let (batch, cols) = Batch::vary_buckets(&cfg, seed, &base)?;
        let f = job.r.render(&batch, &Resolved::default_for(&cfg), &[])?;
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

fn buckets(job: &mut Job) -> Result<()> {
    let features = job.features()?;
    let o = BucketOptions {
        evaluations: job.args.evaluations,
        images: 4,
        seed: job.args.seed,
    };
    let rows = (o.evaluations * 4 * job.meta.generator.buckets.len()) as u64;
    let pb = job.bar("buckets", rows);
    let f: Option<&dyn ganscope_analysis::metrics::Features> = features.as_ref().map(|f| f as _);
    let res = responsibility(job.r.as_mut(), f, &o, &mut |d, _| pb.set_position(d as u64))?;
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

fn quality(job: &mut Job) -> Result<()> {
    let f = need_features(job)?;
    let g = job.meta.generator.clone();
    let n = job.args.samples;
    let s = sample(
        job.r.as_mut(),
        job.site,
        n,
        job.args.seed,
        &Interventions::default(),
    )?;
    let fake = f.features(&s.frames.images, n)?;
    let spec = job
        .args
        .data
        .clone()
        .unwrap_or_else(crate::options::bundled_mnist);
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
        limit: Some(n),
        seed: job.args.seed ^ 0x5eed,
    };
    let data = ganscope_data::load(&source, &opts)?;
    let m = data.len().min(n);
    let real = f.features(&data.batch(&(0..m).collect::<Vec<_>>()), m)?;
    let d = f.dim();
    let fd = frechet(&real, &fake, d)?;
    let (precision, recall) = precision_recall(&real, &fake, d, 3)?;
    let out = serde_json::json!({
        "fd": fd, "precision": precision, "recall": recall, "generated": n, "real": m,
        "real_data": data.name, "features": f.describe(), "k": 3,
    });
    job.save("quality", &out)?;
    job.report.heading("Quality");
    job.report.text(&format!(
        "Fréchet distance {fd:.3}, precision {precision:.3}, recall {recall:.3} (k = 3) between {n} generated \
         and {m} real test images ({}), in the features of {}.",
        data.name,
        f.describe()
    ));
    Ok(())
}

fn segmenter_concept(name: &str) -> Result<(RuleSegmenter, usize)> {
    let seg = RuleSegmenter::default();
    let c = seg.concepts();
    let k = c.iter().position(|x| x == name).ok_or_else(|| {
        TrainError::Options(format!(
            "no concept `{}`; the rule segmenter knows {}",
            name.chars().take(32).collect::<String>(),
            c.join(", ")
        ))
    })?;
    Ok((seg, k))
}

fn dissection(job: &mut Job) -> Result<()> {
    let g = job.meta.generator.clone();
    let (seg, _) = segmenter_concept("stroke")?;
    let pb = job.bar("dissect", 1);
    let s = sample(
        job.r.as_mut(),
        job.site,
        job.args.samples,
        job.args.seed,
        &Interventions::default(),
    )?;
    let d = dissect(&s, &seg, g.channels, g.image_size, 8, job.args.quantile)?;
    pb.finish_and_clear();
    job.save("dissect", &d)?;
    // the 16 units with the best IoU, each with its top 8 samples and their active region
    let mut order: Vec<usize> = (0..d.labels.len()).collect();
    order.sort_by(|&a, &b| d.labels[b].1.total_cmp(&d.labels[a].1));
    order.truncate(16);
    let [c, h, w] = s.shape;
    let (px, per) = (
        g.image_size * g.image_size,
        g.channels * g.image_size * g.image_size,
    );
    let mut tiles = Vec::new();
    for &u in &order {
        for &i in &d.units[u].top {
            let up = upsample(
                &s.frames.sites[0][(i * c + u) * h * w..][..h * w],
                h,
                w,
                g.image_size,
            );
            let t = d.units[u].threshold;
            let mask: Vec<bool> = up.iter().map(|&v| v >= t && v > d.units[u].min).collect();
            tiles.extend(overlay(
                &s.frames.images[i * per..(i + 1) * per],
                g.channels,
                &mask,
            ));
        }
    }
    job.report.heading(&format!(
        "Dissection of {} (Bau et al. sec. 3.1)",
        site_name(job.site)
    ));
    job.report.text(&format!(
        "{} samples; each unit thresholded at its {} quantile; concepts from the rule segmenter ({}).",
        d.samples,
        job.args.quantile,
        d.concepts.join(", ")
    ));
    let alt = "rows: the units with the best IoU; columns: their top samples, active region in red";
    png(
        job,
        "dissect.png",
        &tiles,
        tiles.len() / (3 * px),
        3,
        8,
        alt,
    )?;
    let rows: Vec<Vec<String>> = order
        .iter()
        .map(|&u| {
            vec![
                u.to_string(),
                d.labels[u].0.clone(),
                format!("{:.3}", d.labels[u].1),
                format!("{:.3}", d.units[u].threshold),
            ]
        })
        .collect();
    job.report
        .table(&["unit", "concept", "IoU", "threshold"], &rows);
    Ok(())
}

fn ace(job: &mut Job) -> Result<()> {
    let g = job.meta.generator.clone();
    let (seg, concept) = segmenter_concept(&job.args.concept)?;
    let n = job.args.samples.min(200);
    let s = sample(
        job.r.as_mut(),
        job.site,
        n,
        job.args.seed,
        &Interventions::default(),
    )?;
    let values = concept_means(&s, &seg, g.channels, g.image_size, concept);
    let c = values.len();
    let pb = job.bar("ace", (c + job.args.top) as u64);
    let (single, sets) = rank_units(
        job.r.as_mut(),
        &seg,
        job.site,
        &values,
        concept,
        job.args.top,
        n,
        job.args.seed,
        &mut |d, _| pb.set_position(d as u64),
    )?;
    pb.finish_and_clear();
    job.save("ace", &serde_json::json!({ "concept": job.args.concept, "samples": n, "single": single, "greedy": sets }))?;
    job.report.heading(&format!(
        "Causal effect on `{}` at {} (Bau et al. sec. 3.2)",
        job.args.concept,
        site_name(job.site)
    ));
    job.report.text(&format!(
        "ACE = (E[s(x_insert)] - E[s(x_ablate)]) / E[s(x)] over {n} samples; insertion sets each unit to its mean \
         where the concept is; ablation to 0; the whole site."
    ));
    let cats: Vec<String> = (1..=sets.len()).map(|t| t.to_string()).collect();
    let series = [
        Series {
            name: "ACE".into(),
            values: sets.iter().map(|e| (e.ace, 0.0)).collect(),
        },
        Series {
            name: "ablation effect".into(),
            values: sets
                .iter()
                .map(|e| (e.ablation_effect.max(0.0), 0.0))
                .collect(),
        },
    ];
    let chart = bar_chart(
        "Greedy unit sets",
        "units in the set (best single-unit ACE first)",
        "effect",
        &cats,
        &series,
    )?;
    svg(
        job,
        "ace.svg",
        &chart,
        "bar chart of the ACE of the top 1 to n units",
    )
}

fn influence(job: &mut Job, cluster: bool) -> Result<()> {
    let g = job.meta.generator.clone();
    let c = ganscope_model::generator::site_shapes(&g)[job.site].1[0];
    let pb = job.bar("influence", c as u64);
    let t = std::time::Instant::now();
    let maps = influence_maps(
        job.r.as_mut(),
        job.site,
        job.args.pairs,
        job.args.seed,
        &mut |d, _| pb.set_position(d as u64),
    )?;
    pb.finish_and_clear();
    let secs = t.elapsed().as_secs_f64();
    let px = g.image_size * g.image_size;
    job.report.heading(&format!(
        "Influence maps of {} (Besserve et al. sec. 3.2)",
        site_name(job.site)
    ));
    job.report.text(&format!(
        "Per channel: the per-pixel variance over {} pairs of hybrid minus original, averaged over colour ({secs:.1} s on {}).",
        maps.pairs,
        job.r.describe()
    ));
    png(
        job,
        "influence.png",
        &normalise_maps(&maps.maps, c, px),
        c,
        1,
        16,
        "one influence map per channel, each scaled to its maximum",
    )?;
    job.save("influence", &maps)?;
    if !cluster {
        return Ok(());
    }
    let m = modules(&maps, job.args.k, 3, 0.75, job.args.seed)?;
    job.save("modules", &m)?;
    job.report.heading(&format!("Modules (NMF rank {})", m.k));
    let sizes: Vec<String> = (0..m.k).map(|j| m.members(j).len().to_string()).collect();
    job.report.text(&format!(
        "Maps box-smoothed (3x3), thresholded at their 75th percentile, factorised (relative error {:.3}); channels per module: {}.",
        m.error,
        sizes.join(", ")
    ));
    png(
        job,
        "modules.png",
        &normalise_maps(&m.templates, m.k, px),
        m.k,
        1,
        m.k,
        "module templates (rows of H)",
    )?;
    let pairs = 6;
    let y = module_hybrids(job.r.as_mut(), job.site, &m, pairs, job.args.seed + 7)?;
    let alt = "rows: sample pairs; columns: original 1, original 2, then the hybrid of each module";
    png(
        job,
        "module-hybrids.png",
        &y,
        pairs * (2 + m.k),
        g.channels,
        2 + m.k,
        alt,
    )
}

fn groups(job: &mut Job) -> Result<()> {
    let g = job.meta.generator.clone();
    let n = job.args.samples.min(256);
    let gr = concept_groups(job.r.as_mut(), job.site, job.args.k, n, job.args.seed)?;
    job.save("groups", &gr)?;
    let mut tiles = Vec::new();
    for k in 0..gr.k {
        tiles.extend(exchange(
            job.r.as_mut(),
            job.site,
            &gr.members(k),
            None,
            job.args.seed,
            job.args.seed + 1,
        )?);
    }
    job.report.heading(&format!(
        "Concept groups of {} (Li et al.)",
        site_name(job.site)
    ));
    let sizes: Vec<String> = (0..gr.k).map(|j| gr.members(j).len().to_string()).collect();
    job.report.text(&format!(
        "{} filters in {} groups by k-means of their activation profiles over {n} samples (sizes {}).",
        gr.labels.len(),
        gr.k,
        sizes.join(", ")
    ));
    png(
        job,
        "groups.png",
        &tiles,
        3 * gr.k,
        g.channels,
        3,
        "rows: groups; columns: sample 1, sample 2, sample 1 with the group from sample 2",
    )
}
