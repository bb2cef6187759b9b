//! Channel analyses of `ganscope analyze`: influence maps, modules, concept groups.

use ganscope_analysis::groups::{concept_groups, exchange};
use ganscope_analysis::influence::{influence_maps, module_hybrids, modules};
use ganscope_model::generator::site_name;

use super::png;
use crate::analyze::Job;
use crate::figures::normalise_maps;
use crate::Result;

pub(super) fn influence(job: &mut Job, cluster: bool) -> Result<()> {
    let g = job.meta.generator.clone();
    let c = ganscope_model::generator::site_shapes(&g)[job.site].1[0];
    if cluster {
        ganscope_analysis::influence::check_rank(job.args.k, c, g.image_size)?;
    }
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
    let y = module_hybrids(
        job.r.as_mut(),
        job.site,
        &m,
        pairs,
        job.args.seed.wrapping_add(7),
    )?;
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
    let gr = concept_groups(job.r.as_mut(), job.site, job.args.k, n, job.args.seed)?;
    job.save("groups", &gr)?;
    let mut tiles = Vec::new();
    for k in (0..gr.k).filter(|&k| !gr.members(k).is_empty()) {
        tiles.extend(exchange(
            job.r.as_mut(),
            job.site,
            &gr.members(k),
            None,
            job.args.seed,
            job.args.seed.wrapping_add(1),
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
