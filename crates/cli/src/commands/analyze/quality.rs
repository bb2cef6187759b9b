//! Sample quality: the Fréchet distance and precision/recall of classifier features against
//! real test images, and, per class subset (`--subset 0-6 --subset 7-9`), the share of
//! samples the classifier puts in the subset and their distance to the subset's real images
//! (the incremental-learning evaluation of the RPGAN paper, sec. 4.3).

use ganscope_analysis::dissect::sample;
use ganscope_analysis::metrics::{frechet, pixel_diversity, precision_recall, Features};
use ganscope_analysis::renderer::block_on;
use ganscope_model::intervention::Interventions;

use super::steps::{real_images, real_test_data};
use super::{need_features, Job};
use anyhow::Result;
use ganscope_train::options::parse_classes;

/// Fewest samples of a subset its distance is measured on.
const MIN_SUBSET: usize = 16;

pub(super) fn quality(job: &mut Job) -> Result<()> {
    let f = need_features(job)?;
    let n = job.args.samples;
    let s = block_on(sample(
        job.r.as_mut(),
        job.site,
        n,
        job.args.seed,
        &Interventions::default(),
    ))?;
    let fake = f.features(&s.frames.images, n)?;
    let (real_images, m, name) = real_images(job, n)?;
    let real = f.features(&real_images, m)?;
    let d = f.dim();
    let fd = frechet(&real, &fake, d)?;
    let (precision, recall) = precision_recall(&real, &fake, d, 3)?;
    // collapse shows in pixel space too: spread and nearest-neighbour distance against the
    // same number of real test images
    let per = job.meta.generator.channels * job.meta.generator.image_size.pow(2);
    let real_div = pixel_diversity(&real_images, m, per)?;
    let fake_div = pixel_diversity(&s.frames.images, n, per)?;
    let mut out = serde_json::json!({
        "fd": fd, "precision": precision, "recall": recall, "generated": n, "real": m,
        "real_data": name, "features": f.describe(), "k": 3,
        "diversity": { "generated": fake_div, "real": real_div, "real_images": m },
    });
    job.report.heading("Quality");
    job.report.text(&format!(
        "Fréchet distance {fd:.3}, precision {precision:.3}, recall {recall:.3} (k = 3) between {n} generated \
         and {m} real test images ({}), in the features of {}.",
        name,
        f.describe()
    ));
    job.report.text(&format!(
        "Diversity in pixels (values in [0, 1]): per-pixel standard deviation {:.3} against {:.3} for {m} real \
         test images ({:.2} of theirs), mean distance to the nearest other sample {:.2} against {:.2} ({:.2} of theirs).",
        fake_div.pixel_std,
        real_div.pixel_std,
        fake_div.pixel_std / real_div.pixel_std,
        fake_div.nearest,
        real_div.nearest,
        fake_div.nearest / real_div.nearest,
    ));
    if !job.args.subset.is_empty() {
        let predicted = f.0.predict(&s.frames.images, n)?;
        let real_data = real_test_data(job, None)?;
        let mut rows = Vec::new();
        let mut table = Vec::new();
        for spec in &job.args.subset {
            let classes = parse_classes(spec).map_err(anyhow::Error::msg)?;
            let fake_idx: Vec<usize> = (0..n)
                .filter(|&i| classes.contains(&(predicted[i] as u32)))
                .collect();
            let real_idx: Vec<usize> = (0..real_data.len())
                .filter(|&i| classes.contains(&real_data.labels[i]))
                .take(n)
                .collect();
            let pick = |feats: &[f32], idx: &[usize]| -> Vec<f32> {
                idx.iter()
                    .flat_map(|&i| feats[i * d..(i + 1) * d].iter().copied())
                    .collect()
            };
            let real_sub = f.features(&real_data.batch(&real_idx), real_idx.len())?;
            let fd = if fake_idx.len() >= MIN_SUBSET && real_idx.len() >= MIN_SUBSET {
                Some(frechet(&real_sub, &pick(&fake, &fake_idx), d)?)
            } else {
                None
            };
            let share = fake_idx.len() as f64 / n as f64;
            table.push(vec![
                spec.clone(),
                format!("{:.1}%", 100.0 * share),
                fd.map_or("-".into(), |v| format!("{v:.3}")),
                real_idx.len().to_string(),
            ]);
            rows.push(serde_json::json!({
                "classes": classes, "share": share, "samples": fake_idx.len(),
                "fd": fd, "real": real_idx.len(),
            }));
        }
        job.report.table(
            &[
                "classes",
                "share of samples",
                "Fréchet distance",
                "real images",
            ],
            &table,
        );
        out["subsets"] = serde_json::Value::Array(rows);
    }
    job.save("quality", &out)?;
    Ok(())
}
