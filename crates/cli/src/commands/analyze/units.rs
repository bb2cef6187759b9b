//! Unit analyses of `ganscope analyze`: dissection, causal effects, artifact units.

use ganscope_analysis::ace::{causal_effect, concept_means, rank_units};
use ganscope_analysis::alpha::{optimise_alpha, AlphaOptions, SoftConcept};
use ganscope_analysis::artifacts::{artifact_units, Critic};
use ganscope_analysis::dissect::{dissect, sample, upsample, RuleSegmenter, Segmenter};
use ganscope_analysis::renderer::{block_on, CpuRenderer};
use ganscope_model::generator::site_name;
use ganscope_model::intervention::Interventions;

use super::steps::{png, real_features, svg};

use super::figures::{bar_chart, overlay, Series};
use super::{need_features, Job};
use anyhow::{anyhow, Result};

fn segmenter_concept(name: &str, channels: usize) -> Result<(RuleSegmenter, usize)> {
    let seg = RuleSegmenter::default();
    let mut c = seg.concepts();
    if channels != 3 {
        c.truncate(2); // hues need colour images
    }
    let k = c.iter().position(|x| x == name).ok_or_else(|| {
        anyhow!(
            "no concept `{}`; the rule segmenter knows {}",
            name.chars().take(32).collect::<String>(),
            c.join(", ")
        )
    })?;
    Ok((seg, k))
}

pub(super) fn dissection(job: &mut Job) -> Result<()> {
    let g = job.meta.generator.clone();
    let (seg, _) = segmenter_concept("stroke", g.channels)?;
    let pb = job.bar("dissect", 1);
    let s = block_on(sample(
        job.r.as_mut(),
        job.site,
        job.args.samples,
        job.args.seed,
        &Interventions::default(),
    ))?;
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
        d.units.first().map_or(1, |u| u.top.len().max(1)),
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

pub(super) fn ace(job: &mut Job) -> Result<()> {
    let g = job.meta.generator.clone();
    let (seg, concept) = segmenter_concept(&job.args.concept, g.channels)?;
    let n = job.args.samples.min(200);
    let s = block_on(sample(
        job.r.as_mut(),
        job.site,
        n,
        job.args.seed,
        &Interventions::default(),
    ))?;
    let values = concept_means(&s, &seg, g.channels, g.image_size, concept);
    let c = values.len();
    let pb = job.bar("ace", (c + job.args.top) as u64);
    let (single, sets) = block_on(rank_units(
        job.r.as_mut(),
        &seg,
        job.site,
        &values,
        concept,
        job.args.top,
        n,
        job.args.seed,
        &mut |d, _| pb.set_position(d as u64),
    ))?;
    pb.finish_and_clear();
    // eq. 6: optimised strengths (candle, soft stroke mask), then the ACE of the top units
    let soft = match job.args.concept.as_str() {
        "stroke" => Some(SoftConcept::Stroke),
        "background" => Some(SoftConcept::Background),
        _ => None,
    };
    let optimised = match soft {
        Some(sc) => {
            let cpu = CpuRenderer::load(&job.bytes)?;
            let o = AlphaOptions {
                seed: job.args.seed,
                ..Default::default()
            };
            let res = optimise_alpha(cpu.generator(), job.site, &values, sc, &o)?;
            let mut order: Vec<usize> = (0..c).collect();
            order.sort_by(|&a, &b| res.alpha[b].total_cmp(&res.alpha[a]));
            // units the optimisation left at 0 are not part of its answer
            let top: Vec<usize> = order
                .into_iter()
                .filter(|&u| res.alpha[u] > 1e-3)
                .take(job.args.top)
                .collect();
            if top.is_empty() {
                return Err(anyhow!(
                    "the alpha optimisation set every unit to 0: no unit set inserts this concept",
                ));
            }
            let vals: Vec<f32> = top.iter().map(|&u| values[u]).collect();
            let e = block_on(causal_effect(
                job.r.as_mut(),
                &seg,
                job.site,
                &top,
                &vals,
                None,
                concept,
                n,
                job.args.seed,
            ))?;
            Some(serde_json::json!({ "alpha": res.alpha, "delta": res.delta, "top": e }))
        }
        None => None,
    };
    job.save(
        "ace",
        &serde_json::json!({ "concept": job.args.concept, "samples": n, "single": single,
                             "greedy": sets, "optimised": optimised }),
    )?;
    job.report.heading(&format!(
        "Causal effect on `{}` at {} (Bau et al. sec. 3.2)",
        job.args.concept,
        site_name(job.site)
    ));
    job.report.text(&format!(
        "ACE = (E[s(x_insert)] - E[s(x_ablate)]) / E[s(x)] over {n} samples; insertion sets each unit to its mean \
         where the concept is; ablation to 0; the whole site."
    ));
    if let (Some(o), Some(g)) = (&optimised, sets.last()) {
        job.report.text(&format!(
            "Eq. 6 (alpha optimised with Adam on a soft {} mask, L2 penalty 0.01): the {} units with \
             alpha > 0, {}, have ACE {:.3}; the greedy set of {} units {:.3}.",
            job.args.concept,
            o["top"]["units"].as_array().map_or(0, Vec::len),
            o["top"]["units"],
            o["top"]["ace"].as_f64().unwrap_or(f64::NAN),
            sets.len(),
            g.ace
        ));
    }
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

pub(super) fn artifacts(job: &mut Job) -> Result<()> {
    ganscope_analysis::artifacts::check_ablate(&job.meta.generator, job.site, job.args.ablate)?;
    let f = need_features(job)?;
    let critic = Critic::load(&job.bytes)?.ok_or_else(|| {
        anyhow!(
            "artifact units are scored by the discriminator, and this model file has none \
             (export without --no-disc)",
        )
    })?;
    let n = job.args.samples;
    let (real, m, name) = real_features(job, f.as_ref(), n)?;
    let a = block_on(artifact_units(
        job.r.as_mut(),
        &critic,
        f.as_ref(),
        &real,
        job.site,
        job.args.ablate,
        n,
        job.args.seed,
    ))?;
    job.save("artifacts", &a)?;
    job.report.heading(&format!(
        "Artifact units of {} (Bau et al. sec. 4.2)",
        site_name(job.site)
    ));
    job.report.text(&format!(
        "Units scored by the discriminator's mean score on their top-activating tenth of {n} samples. \
         FD against {m} real images ({name}): {:.2} without ablation, {:.2} with the {} lowest-scoring units \
         ablated ({:?}), {:.2} with {} random units ablated.",
        a.fd_base,
        a.fd_worst,
        a.worst.len(),
        a.worst,
        a.fd_random,
        a.random.len()
    ));
    Ok(())
}
