//! Channel analyses of `ganscope analyze`: influence maps, modules, concept groups.

use ganscope_analysis::groups::{concept_groups, exchange, Groups};
use ganscope_analysis::influence::{influence_maps, module_hybrids, modules};
use ganscope_analysis::locality::{consistency, locality, CONSISTENT, REGION};
use ganscope_analysis::renderer::block_on;
use ganscope_model::generator::site_name;

use super::figures::normalise_maps;
use super::steps::png;
use super::Job;
use anyhow::Result;

pub(super) fn influence(job: &mut Job, cluster: bool) -> Result<()> {
    let g = job.meta.generator.clone();
    let c = ganscope_model::generator::site_shapes(&g)[job.site].1[0];
    if cluster {
        ganscope_analysis::influence::check_rank(job.args.k, c, g.image_size)?;
    }
    let pb = job.bar("influence", c as u64);
    let t = std::time::Instant::now();
    let maps = block_on(influence_maps(
        job.r.as_mut(),
        job.site,
        job.args.pairs,
        job.args.seed,
        &mut |d, _| pb.set_position(d as u64),
    ))?;
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
    let mut sizes: Vec<String> = (0..m.k).map(|j| m.members(j).len().to_string()).collect();
    let flat = m.labels.iter().filter(|l| l.is_none()).count();
    if flat > 0 {
        sizes.push(format!("and {flat} without influence"));
    }
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
    let y = block_on(module_hybrids(
        job.r.as_mut(),
        job.site,
        &m,
        pairs,
        job.args.seed.wrapping_add(7),
    ))?;
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

pub(super) fn groups(job: &mut Job) -> Result<()> {
    let g = job.meta.generator.clone();
    let n = job.args.samples.min(256);
    let learned = learned_groups(&job.meta, job.site);
    let gr = match &learned {
        Some(labels) => Groups {
            site: job.site,
            k: labels.iter().copied().max().map_or(0, |m| m + 1),
            labels: labels.clone(),
            inertia: f64::NAN,
            samples: 0,
        },
        None => block_on(concept_groups(
            job.r.as_mut(),
            job.site,
            job.args.k,
            n,
            job.args.seed,
        ))?,
    };
    let pairs = job.args.pairs;
    let loc = block_on(locality(
        job.r.as_mut(),
        job.site,
        &gr.labels,
        pairs,
        job.args.seed,
        REGION,
    ))?;
    let con = block_on(consistency(
        job.r.as_mut(),
        job.site,
        n,
        job.args.seed,
        REGION,
        CONSISTENT,
    ))?;
    job.save(
        "groups",
        &serde_json::json!({
            "site": gr.site, "k": gr.k, "labels": gr.labels, "learned": learned.is_some(),
            "samples": gr.samples, "locality": loc, "consistency": con,
        }),
    )?;
    let mut tiles = Vec::new();
    for k in (0..gr.k).filter(|&k| !gr.members(k).is_empty()) {
        tiles.extend(block_on(exchange(
            job.r.as_mut(),
            job.site,
            &gr.members(k),
            None,
            job.args.seed,
            job.args.seed.wrapping_add(1),
        ))?);
    }
    job.report.heading(&format!(
        "Concept groups of {} (Li et al.)",
        site_name(job.site)
    ));
    let sizes: Vec<String> = (0..gr.k).map(|j| gr.members(j).len().to_string()).collect();
    let how = if learned.is_some() {
        "learned in training (interpretable GAN), read from the model file".to_string()
    } else {
        format!("by k-means of their activation profiles over {n} samples")
    };
    job.report.text(&format!(
        "{} filters in {} groups {how} (sizes {}). Exchanging a group between {pairs} sample \
         pairs changes the image by {:.4} (mean squared) outside the group's region (the top \
         {:.0}% of its map in either sample) and {:.4} inside it. {:.1}% of the filters fire in \
         a consistent place (mean IoU of their top-{:.0}% region with their mean region at \
         least {CONSISTENT}, over {n} samples); the mean IoU over filters is {:.3}.",
        gr.labels.len(),
        gr.k,
        sizes.join(", "),
        loc.mean_outside,
        100.0 * REGION,
        loc.mean_inside,
        100.0 * con.share,
        100.0 * REGION,
        con.mean_iou,
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

/// The groups an interpretable training learned for `site`, from the file's metadata.
pub(crate) fn learned_groups(
    meta: &ganscope_model::format::ModelMeta,
    site: usize,
) -> Option<Vec<usize>> {
    let lg = meta.analysis.as_ref()?.get("learned_groups")?;
    if lg.get("site")?.as_str()? != site_name(site) {
        return None;
    }
    let labels: Vec<usize> = serde_json::from_value(lg.get("labels")?.clone()).ok()?;
    let c = ganscope_model::generator::site_shapes(&meta.generator)
        .get(site)?
        .1[0];
    // the metadata is untrusted: one small group index per filter
    (labels.len() == c && labels.iter().all(|&l| l < c)).then_some(labels)
}
