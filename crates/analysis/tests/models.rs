//! The analyses on the bundled models (www/models): real generators, candle backend.

use ganscope_analysis::ace::{causal_effect, concept_means};
use ganscope_analysis::dissect::{dissect, sample, RuleSegmenter, Segmenter};
use ganscope_analysis::groups::{concept_groups, exchange};
use ganscope_analysis::influence::{influence_maps, modules};
use ganscope_analysis::renderer::{block_on, CpuRenderer, Renderer};
use ganscope_model::intervention::Interventions;

fn model(name: &str) -> CpuRenderer {
    let path = format!("{}/../../www/models/{name}", env!("CARGO_MANIFEST_DIR"));
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    CpuRenderer::load(&bytes).expect("load")
}

#[test]
fn exchanging_every_group_gives_the_second_sample() {
    let mut r = model("gan-colored-mnist.safetensors");
    let g = block_on(concept_groups(&mut r, 1, 4, 32, 0)).expect("groups");
    assert_eq!(g.labels.len(), r.config().widths[1]);
    assert!((0..4).all(|k| !g.members(k).is_empty()), "{:?}", g.labels);
    let all: Vec<usize> = (0..g.k).flat_map(|k| g.members(k)).collect();
    let y = block_on(exchange(&mut r, 1, &all, None, 3, 4)).expect("exchange");
    let per = y.len() / 3;
    let (second, mixed) = (&y[per..2 * per], &y[2 * per..]);
    let diff = second
        .iter()
        .zip(mixed)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max);
    assert!(
        diff < 1e-5,
        "all groups exchanged differs from the second sample by {diff}"
    );
    // one group alone changes the first sample but is not the second
    let y = block_on(exchange(&mut r, 1, &g.members(0), None, 3, 4)).expect("exchange");
    let d1 = y[..per]
        .iter()
        .zip(&y[2 * per..])
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max);
    assert!(d1 > 1e-3);
}

#[test]
fn ablating_every_unit_of_a_site_removes_the_whole_share_of_its_concept() {
    let mut r = model("gan-colored-mnist.safetensors");
    let seg = RuleSegmenter::default();
    let site = r.config().buckets.len() - 2;
    let c = r.config().widths[site];
    let s = block_on(sample(&mut r, site, 64, 0, &Interventions::default())).expect("sample");
    // with every unit at 0 the image is one colour (the output layer's bias), so it holds
    // only one of the two concepts: the other's share is wholly removed
    let all: Vec<usize> = (0..c).collect();
    let mut gone = Vec::new();
    for concept in [0, 1] {
        let k = concept_means(&s, &seg, 3, 32, concept);
        let e = block_on(causal_effect(
            &mut r, &seg, site, &all, &k, None, concept, 64, 0,
        ))
        .expect("ace");
        assert!(e.base > 0.0 && e.base < 1.0, "the samples draw both: {e:?}");
        if e.ablated == 0.0 {
            assert!((e.ablation_effect - 1.0).abs() < 1e-12, "{e:?}");
            assert!(
                e.inserted > e.base,
                "inserting the concept's mean at every unit draws more of it: {e:?}"
            );
            gone.push(concept);
        }
    }
    assert_eq!(gone.len(), 1, "exactly one concept is gone: {gone:?}");
}

#[test]
fn dissection_labels_every_unit_of_a_real_site() {
    let mut r = model("gan-colored-mnist.safetensors");
    let seg = RuleSegmenter::default();
    let s = block_on(sample(&mut r, 2, 200, 1, &Interventions::default())).expect("sample");
    // the top 1% of a unit is far smaller than the stroke: threshold at the top 20% here
    let d = dissect(&s, &seg, 3, 32, 8, 0.8).expect("dissect");
    assert_eq!(d.iou.len(), r.config().widths[2]);
    assert_eq!(d.concepts, seg.concepts());
    assert!(d.iou.iter().flatten().all(|v| (0.0..=1.0).contains(v)));
    assert!(d
        .units
        .iter()
        .all(|u| u.top.len() == 8 && u.quantiles[0] <= u.quantiles[2]));
    // some unit follows the stroke better than chance
    let stroke = d.iou.iter().map(|row| row[1]).fold(0.0, f64::max);
    assert!(stroke > 0.2, "best stroke IoU {stroke}");
}

#[test]
fn influence_modules_of_the_bundled_rpgan() {
    let mut r = model("rpgan-colored-mnist.safetensors");
    let t = std::time::Instant::now();
    let maps = block_on(influence_maps(&mut r, 1, 64, 0, &mut |_, _| {})).expect("influence");
    let m = modules(&maps, 3, 3, 0.75, 0).expect("modules");
    eprintln!(
        "influence maps of {} channels over 64 pairs and 3 modules: {:.2} s",
        maps.channels,
        t.elapsed().as_secs_f64()
    );
    assert!(maps.maps.iter().all(|v| v.is_finite() && *v >= 0.0));
    assert!(maps.maps.iter().any(|&v| v > 0.0));
    assert_eq!(m.labels.len(), maps.channels);
    assert_eq!(m.templates.len(), 3 * 32 * 32);
}

#[test]
fn noise_reaches_only_the_chosen_layer_and_zero_noise_changes_nothing() {
    use ganscope_analysis::artifacts::inject_noise;
    use ganscope_model::format::ModelFile;
    let path = format!(
        "{}/../../www/models/gan-colored-mnist.safetensors",
        env!("CARGO_MANIFEST_DIR")
    );
    let bytes = std::fs::read(path).expect("model");
    let orig = ModelFile::parse(&bytes).expect("parse");
    let same = inject_noise(&bytes, 1, 0.0, 1).expect("noise 0");
    let noisy = inject_noise(&bytes, 1, 0.5, 1).expect("noise");
    let (a, b) = (
        ModelFile::parse(&same).expect("parse"),
        ModelFile::parse(&noisy).expect("parse"),
    );
    let mut changed = Vec::new();
    for name in orig.tensors.keys() {
        let o = orig.data(name).expect("data");
        assert_eq!(a.data(name).expect("data"), o, "{name} with zero noise");
        if b.data(name).expect("data") != o {
            changed.push(name.clone());
        }
    }
    assert!(!changed.is_empty());
    assert!(
        changed
            .iter()
            .all(|n| n.starts_with("g.bucket2.") && n.ends_with(".weight") && !n.contains(".bn")),
        "{changed:?}"
    );
    assert!(inject_noise(&bytes, 9, 0.5, 1).is_err());
    assert!(inject_noise(&bytes, 1, f32::NAN, 1).is_err());
}

#[test]
fn optimised_alpha_raises_the_soft_share_and_picks_units_that_insert_the_concept() {
    use ganscope_analysis::alpha::{optimise_alpha, AlphaOptions, SoftConcept};
    let mut r = model("gan-colored-mnist.safetensors");
    let seg = RuleSegmenter::default();
    let (site, stroke) = (2, 1);
    let s = block_on(sample(&mut r, site, 64, 0, &Interventions::default())).expect("sample");
    let k = concept_means(&s, &seg, 3, 32, stroke);
    let o = AlphaOptions {
        steps: 30,
        batch: 8,
        ..Default::default()
    };
    let t = std::time::Instant::now();
    let res = optimise_alpha(r.generator(), site, &k, SoftConcept::Stroke, &o).expect("alpha");
    eprintln!(
        "30 steps of eq. 6: {:.1} s; delta {:?}",
        t.elapsed().as_secs_f64(),
        res.delta
    );
    assert!(res.alpha.iter().all(|a| (0.0..=1.0).contains(a)));
    let first: f32 = res.delta[..5].iter().sum();
    let last: f32 = res.delta[25..].iter().sum();
    assert!(last > first, "the objective improves: {:?}", res.delta);
    // the 4 units with the largest alpha insert more stroke than the 4 with the smallest
    let mut order: Vec<usize> = (0..k.len()).collect();
    order.sort_by(|&a, &b| res.alpha[b].total_cmp(&res.alpha[a]));
    let ace = |units: &[usize], r: &mut CpuRenderer| {
        let vals: Vec<f32> = units.iter().map(|&u| k[u]).collect();
        block_on(causal_effect(
            r, &seg, site, units, &vals, None, stroke, 64, 5,
        ))
        .expect("ace")
        .ace
    };
    let (best, worst) = (
        ace(&order[..4], &mut r),
        ace(&order[order.len() - 4..], &mut r),
    );
    assert!(
        best > worst,
        "top-alpha units {best} vs bottom-alpha units {worst}"
    );
}
