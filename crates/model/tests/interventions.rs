//! Every intervention on the candle backend against a direct computation of docs/design.md's
//! formula, and the identities the design promises.
#![allow(clippy::needless_range_loop)] // the reference loops spell the formula out index by index

mod common;
use candle_core::{Device, Tensor};
use common::{max_abs_diff, random_model, to_vec};
use ganscope_model::backend::Backend;
use ganscope_model::candle_backend::CandleBackend;
use ganscope_model::config::{Family, Rpgan};
use ganscope_model::intervention::{
    region_mask, Hybrid, Interventions, PerUnit, Region, Resolved, UnitEdit,
};
use ganscope_model::sample::{latents, render, Batch};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

fn rand_vec(rng: &mut StdRng, n: usize, lo: f32, hi: f32) -> Vec<f32> {
    (0..n).map(|_| rng.random_range(lo..hi)).collect()
}

#[test]
fn unit_edit_matches_the_formula() {
    let be = CandleBackend::cpu();
    let mut rng = StdRng::seed_from_u64(1);
    for (n, c, h, w) in [(3, 5, 7, 9), (1, 1, 1, 1), (2, 13, 4, 3)] {
        let x = latents(rng.random(), n * c * h * w, 1);
        let alpha = rand_vec(&mut rng, c, 0.0, 1.0);
        let value = rand_vec(&mut rng, c, -2.0, 2.0);
        let mask = rand_vec(&mut rng, h * w, 0.0, 1.0);
        let xt = Tensor::from_vec(x.clone(), (n, c, h, w), &Device::Cpu).expect("x");
        let got = to_vec(&be.unit_edit(&xt, &alpha, &value, &mask).expect("edit"));
        let mut want = x.clone();
        for i in 0..n {
            for u in 0..c {
                for p in 0..h * w {
                    let k = (i * c + u) * h * w + p;
                    let am = alpha[u] * mask[p];
                    want[k] = (1.0 - am) * x[k] + am * value[u];
                }
            }
        }
        assert!(max_abs_diff(&got, &want) < 1e-5, "{n} {c} {h} {w}");
    }
}

#[test]
fn mix_matches_the_formula() {
    let be = CandleBackend::cpu();
    let mut rng = StdRng::seed_from_u64(2);
    let (n, c, h, w) = (4, 6, 5, 3);
    let x = latents(9, n * c * h * w, 1);
    let donor = vec![2, 3, 0, 3];
    let ch = rand_vec(&mut rng, c, 0.0, 1.0);
    let mask = rand_vec(&mut rng, h * w, 0.0, 1.0);
    let xt = Tensor::from_vec(x.clone(), (n, c, h, w), &Device::Cpu).expect("x");
    let got = to_vec(&be.mix(&xt, &donor, &ch, &mask).expect("mix"));
    let mut want = x.clone();
    for i in 0..n {
        for u in 0..c {
            for p in 0..h * w {
                let m = ch[u] * mask[p];
                want[(i * c + u) * h * w + p] =
                    (1.0 - m) * x[(i * c + u) * h * w + p] + m * x[(donor[i] * c + u) * h * w + p];
            }
        }
    }
    assert!(max_abs_diff(&got, &want) < 1e-6);
    assert!(
        be.mix(&xt, &[0, 1, 2, 4], &ch, &mask).is_err(),
        "donor outside the batch"
    );
}

fn render_with(
    m: &common::RandomModel,
    seed: u64,
    n: usize,
    iv: &Interventions,
    hook_zero: Option<usize>,
) -> Vec<f32> {
    let be = CandleBackend::cpu();
    let b = Batch::new(&m.g.config, seed, n, iv).expect("batch");
    let r = Resolved::new(&m.g.config, iv).expect("resolve");
    if let Some(site) = hook_zero {
        let z = b.z.as_ref().map(|z| {
            Tensor::from_vec(z.clone(), (b.rows(), m.g.config.latent_dim), &Device::Cpu).expect("z")
        });
        let y = m.g.forward(&be, z.as_ref(), &b.paths, &mut |i, x| {
            if i == site {
                Ok(x.zeros_like()?)
            } else {
                Ok(x)
            }
        });
        return to_vec(&y.expect("forward"));
    }
    to_vec(&render(&m.g, &be, &b, &r, &mut |_, _| Ok(())).expect("render"))
}

#[test]
fn ablating_every_unit_equals_zeroing_the_site() {
    for (family, rpgan) in [
        (Family::Dcgan, None),
        (Family::SnResnet, Some(Rpgan::new(4, 3))),
        (Family::Linear, Some(Rpgan::new(4, 3))),
    ] {
        let m = random_model(family, 32, 3, rpgan, 5);
        for (si, (site, shape)) in m.g.sites().into_iter().enumerate().take(3) {
            let iv = Interventions {
                edits: vec![UnitEdit {
                    site,
                    units: (0..shape[0]).collect(),
                    strength: PerUnit::All(1.0),
                    value: PerUnit::All(0.0),
                    region: None,
                }],
                ..Interventions::default()
            };
            let ablated = render_with(&m, 3, 4, &iv, None);
            let zeroed = render_with(&m, 3, 4, &Interventions::default(), Some(si));
            assert!(ablated == zeroed, "{family:?} site {si}");
            assert!(
                max_abs_diff(
                    &ablated,
                    &render_with(&m, 3, 4, &Interventions::default(), None)
                ) > 1e-4
            );
        }
    }
}

#[test]
fn hybrid_with_all_channels_equals_the_second_sample() {
    for (family, rpgan) in [
        (Family::Dcgan, None),
        (Family::Dcgan, Some(Rpgan::new(3, 5))),
        (Family::SnResnet, None),
        (Family::Linear, Some(Rpgan::new(3, 5))),
    ] {
        let m = random_model(family, 28, 1, rpgan, 6);
        let (site, shape) = m.g.sites()[1].clone();
        let donor_path = rpgan.map(|_| vec![1, 2, 3]);
        // below the site every sample follows its own path: give the sample the donor's
        // block in the last bucket so that only the part above the site differs
        let iv = Interventions {
            path: rpgan.map(|_| vec![0, 0, 3]),
            hybrid: Some(Hybrid {
                site,
                channels: (0..shape[0]).collect(),
                region: None,
                donor_seed: Some(40),
                donor_path: donor_path.clone(),
            }),
            ..Interventions::default()
        };
        let hybrid = render_with(&m, 3, 2, &iv, None);
        let donor = render_with(
            &m,
            40,
            2,
            &Interventions {
                path: donor_path,
                ..Interventions::default()
            },
            None,
        );
        // equal up to GEMM rounding (the hybrid batch has twice the rows)
        assert!(
            max_abs_diff(&hybrid, &donor) < 1e-5,
            "{family:?} {}",
            max_abs_diff(&hybrid, &donor)
        );
        // a hybrid of no effective channel change is the first sample; of some channels, neither
        let first = render_with(
            &m,
            3,
            2,
            &Interventions {
                path: iv.path.clone(),
                ..Interventions::default()
            },
            None,
        );
        let mut some = iv.clone();
        if let Some(h) = &mut some.hybrid {
            h.channels = vec![0];
        }
        let partial = render_with(&m, 3, 2, &some, None);
        assert!(max_abs_diff(&partial, &first) > 1e-6 && max_abs_diff(&partial, &donor) > 1e-6);
    }
}

#[test]
fn edit_region_limits_the_change_to_the_site_cells() {
    let be = CandleBackend::cpu();
    let m = random_model(Family::Dcgan, 32, 1, None, 8);
    let (site, [c, h, w]) = m.g.sites()[1].clone();
    let region = Region::Rect {
        top: 0.0,
        left: 0.0,
        bottom: 0.5,
        right: 0.25,
    };
    let iv = Interventions {
        edits: vec![UnitEdit {
            site,
            units: vec![0, 2],
            strength: PerUnit::Each(vec![1.0, 0.5]),
            value: PerUnit::Each(vec![3.0, -1.0]),
            region: Some(region.clone()),
        }],
        ..Interventions::default()
    };
    let mask = region_mask(Some(&region), h, w).expect("mask");
    assert_eq!(
        mask.iter().filter(|&&v| v == 1.0).count(),
        (h / 2) * (w / 4)
    );
    let b = Batch::new(&m.g.config, 1, 2, &iv).expect("batch");
    let r = Resolved::new(&m.g.config, &iv).expect("resolve");
    let (mut plain, mut edited) = (Vec::new(), Vec::new());
    render(
        &m.g,
        &be,
        &b,
        &Resolved::default_for(&m.g.config),
        &mut |i, x| {
            if i == 1 {
                plain = to_vec(x)
            }
            Ok(())
        },
    )
    .expect("render");
    render(&m.g, &be, &b, &r, &mut |i, x| {
        if i == 1 {
            edited = to_vec(x)
        }
        Ok(())
    })
    .expect("render");
    for n in 0..2 {
        for u in 0..c {
            for p in 0..h * w {
                let k = (n * c + u) * h * w + p;
                let want = match (u, mask[p] > 0.0) {
                    (0, true) => 3.0,
                    (2, true) => 0.5 * plain[k] - 0.5,
                    _ => plain[k],
                };
                assert!(
                    (edited[k] - want).abs() < 1e-5,
                    "sample {n} unit {u} cell {p}"
                );
            }
        }
    }
}

#[test]
fn bad_interventions_get_clear_errors() {
    let m = random_model(Family::Dcgan, 32, 1, Some(Rpgan::new(4, 3)), 9);
    let cfg = &m.g.config;
    let cases = [
        (
            r#"{"edits":[{"site":"b7","units":[0]}]}"#,
            "unknown site `b7`",
        ),
        (
            r#"{"edits":[{"site":"b2","units":[999]}]}"#,
            "unit 999 does not exist at site b2",
        ),
        (r#"{"edits":[{"site":"b2","units":[]}]}"#, "no units"),
        (
            r#"{"edits":[{"site":"b2","units":[1],"strength":1.5}]}"#,
            "outside [0, 1]",
        ),
        (
            r#"{"edits":[{"site":"b2","units":[1,2],"value":[1.0]}]}"#,
            "1 values for 2 units",
        ),
        (
            r#"{"edits":[{"site":"b2","units":[1],"region":{"kind":"mask","height":2,"width":2,"data":[1,1,1,1]}}]}"#,
            "the site is 8x8",
        ),
        (
            r#"{"edits":[{"site":"b2","units":[1],"region":{"kind":"rect","top":-1,"left":0,"bottom":1,"right":1}}]}"#,
            "rect edges",
        ),
        (
            r#"{"hybrid":{"site":"b1","channels":[4096]}}"#,
            "unit 4096 does not exist",
        ),
    ];
    for (json, want) in cases {
        let iv = Interventions::from_json(json).expect("parses");
        let err = Resolved::new(cfg, &iv).expect_err(json).to_string();
        assert!(err.contains(want), "{json}: {err}");
    }
    for json in [
        r#"{"edits":[{"site":"b2","units":[1],"colour":3}]}"#,
        r#"{"pathh":[1]}"#,
        "[",
        r#"{"edits":[{"site":"b2","units":[-1]}]}"#,
    ] {
        assert!(Interventions::from_json(json).is_err(), "{json}");
    }
    let big = format!("{{\"edits\":[{}]}}", "x".repeat(5 << 20));
    assert!(Interventions::from_json(&big)
        .expect_err("too big")
        .to_string()
        .contains("allowed"));
    let iv = Interventions {
        path: Some(vec![0, 0, 3, 0]),
        ..Interventions::default()
    };
    let b = Batch::new(cfg, 0, 1, &iv).expect("batch");
    let err = render(
        &m.g,
        &CandleBackend::cpu(),
        &b,
        &Resolved::new(cfg, &iv).expect("ok"),
        &mut |_, _| Ok(()),
    )
    .expect_err("bad path");
    assert!(
        err.to_string()
            .contains("block 3 does not exist in bucket 3"),
        "{err}"
    );
}
