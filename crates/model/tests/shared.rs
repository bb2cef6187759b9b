//! Prefix reuse (`render_shared`) against the plain render on candle: the RPGAN path grid,
//! random paths, and a hybrid with edits, for both families, with site activations.

mod common;

use common::{max_abs_diff, random_model, to_vec};
use ganscope_model::candle_backend::CandleBackend;
use ganscope_model::config::{Family, Rpgan};
use ganscope_model::intervention::{Hybrid, Interventions, PerUnit, Region, Resolved, UnitEdit};
use ganscope_model::sample::{render, Batch};
use ganscope_model::shared::{render_hybrid_sets, render_shared};

#[test]
fn shared_render_equals_the_plain_render() {
    let b = CandleBackend::cpu();
    for (family, rpgan) in [
        (Family::Dcgan, Some(Rpgan::new(4, 3))),
        (Family::Dcgan, None),
        (Family::SnResnet, Some(Rpgan::new(4, 2))),
        (Family::Linear, Some(Rpgan::new(4, 3))),
    ] {
        let m = random_model(family, 32, 3, rpgan, 7);
        let cfg = m.g.config.clone();
        let iv = Interventions {
            edits: vec![UnitEdit {
                site: "b2".into(),
                units: vec![0, 1],
                strength: PerUnit::All(0.5),
                value: PerUnit::All(2.0),
                region: None,
            }],
            hybrid: Some(Hybrid {
                site: "b3".into(),
                channels: vec![1],
                region: None,
                donor_seed: Some(3),
                donor_path: None,
            }),
            ..Default::default()
        };
        let mut batches = vec![
            (
                Batch::new(&cfg, 1, 7, &Interventions::default()).expect("batch"),
                Interventions::default(),
            ),
            (Batch::new(&cfg, 2, 5, &iv).expect("batch"), iv.clone()),
        ];
        if rpgan.is_some() {
            batches.push((
                Batch::vary_buckets(&cfg, 4, &[1, 0, 1, 1]).expect("grid").0,
                iv,
            ));
        }
        for (batch, iv) in batches {
            let resolved = Resolved::new(&cfg, &iv).expect("resolve");
            let mut seen = vec![None; 4];
            let plain = render(&m.g, &b, &batch, &resolved, &mut |s, x| {
                seen[s] = Some(to_vec(&x.narrow(0, 0, batch.n)?));
                Ok(())
            })
            .expect("render");
            let (y, acts) = render_shared(&m.g, &b, &batch, &resolved, &[1, 3]).expect("shared");
            let what = format!("{family:?} {rpgan:?} {} rows", batch.rows());
            assert!(
                max_abs_diff(&to_vec(&y), &to_vec(&plain)) < 1e-5,
                "{what}: images"
            );
            for (a, s) in acts.iter().zip([1, 3]) {
                let want = seen[s].as_ref().expect("site");
                assert!(
                    max_abs_diff(&to_vec(a), want) < 1e-5,
                    "{what}: site b{}",
                    s + 1
                );
            }
        }
    }
}

#[test]
fn hybrid_sets_equal_one_hybrid_render_per_set() {
    let b = CandleBackend::cpu();
    for (family, rpgan) in [
        (Family::Dcgan, Some(Rpgan::new(4, 3))),
        (Family::SnResnet, None),
    ] {
        let m = random_model(family, 32, 3, rpgan, 11);
        let cfg = m.g.config.clone();
        let edits = vec![UnitEdit {
            site: "b3".into(),
            units: vec![2],
            strength: PerUnit::All(1.0),
            value: PerUnit::All(0.0),
            region: None,
        }];
        let sets: Vec<(Vec<usize>, Option<Region>)> = vec![
            (vec![0], None),
            (vec![1, 3], None),
            (
                vec![2],
                Some(Region::Rect {
                    top: 0.0,
                    left: 0.0,
                    bottom: 1.0,
                    right: 0.5,
                }),
            ),
        ];
        let mixes: Vec<_> = sets
            .iter()
            .map(|(ch, region)| {
                let iv = Interventions {
                    hybrid: Some(Hybrid {
                        site: "b2".into(),
                        channels: ch.clone(),
                        region: region.clone(),
                        donor_seed: Some(9),
                        donor_path: None,
                    }),
                    edits: edits.clone(),
                    ..Default::default()
                };
                let r = Resolved::new(&cfg, &iv).expect("resolve");
                (iv, r.mix[1].clone().expect("mix"), r)
            })
            .collect();
        let n = 3;
        let batch = Batch::new(&cfg, 5, n, &mixes[0].0).expect("batch");
        let plain_iv = Interventions {
            edits: edits.clone(),
            ..Default::default()
        };
        let only_edits = Resolved::new(&cfg, &plain_iv).expect("resolve");
        let vecs: Vec<_> = mixes.iter().map(|m| m.1.clone()).collect();
        let y = render_hybrid_sets(&m.g, &b, &batch, &only_edits, 1, &vecs).expect("sets");
        let y = to_vec(&y);
        let per = y.len() / (sets.len() * n);
        for (s, (_, _, resolved)) in mixes.iter().enumerate() {
            let want = render(&m.g, &b, &batch, resolved, &mut |_, _| Ok(())).expect("render");
            let got = &y[s * n * per..(s + 1) * n * per];
            assert!(
                max_abs_diff(got, &to_vec(&want)) < 1e-5,
                "{family:?}: set {s}"
            );
        }
        // a hybrid in `resolved` or a set of the wrong size is refused
        assert!(render_hybrid_sets(&m.g, &b, &batch, &mixes[0].2, 1, &vecs).is_err());
        let mut bad = vecs[0].clone();
        bad.channels.pop();
        assert!(render_hybrid_sets(&m.g, &b, &batch, &only_edits, 1, &[bad]).is_err());
    }
}
