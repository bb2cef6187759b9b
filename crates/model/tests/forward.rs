//! The shared forward on the candle backend: shapes for every family and size, and RPGAN
//! grouping (gather, run, scatter) equal to running each sample alone.

mod common;
use candle_core::{Device, Tensor};
use common::{max_abs_diff, random_model, to_vec};
use ganscope_model::candle_backend::CandleBackend;
use ganscope_model::config::{Family, Rpgan};
use ganscope_model::intervention::{Interventions, Resolved};
use ganscope_model::sample::{latents, random_paths, render, Batch};

#[test]
fn every_family_and_size_has_the_right_shapes() {
    let be = CandleBackend::cpu();
    for family in [Family::Dcgan, Family::SnResnet, Family::Linear] {
        for size in [28, 32, 64] {
            for channels in [1, 3] {
                let m = random_model(family, size, channels, None, 1);
                let z = Tensor::from_vec(latents(3, 2 * 8, 1), (2, 8), &Device::Cpu).expect("z");
                let mut seen = Vec::new();
                let y = m.g.forward(
                    &be,
                    Some(&z),
                    &vec![vec![0; m.g.buckets.len()]; 2],
                    &mut |i, x| {
                        seen.push((i, x.dims().to_vec()));
                        Ok(x)
                    },
                );
                let y = y.expect("forward");
                assert_eq!(y.dims(), [2, channels, size, size], "{family:?} {size}");
                let sites = m.g.sites();
                assert_eq!(seen.len(), sites.len());
                for ((i, dims), (_, shape)) in seen.iter().zip(&sites) {
                    assert_eq!(&dims[1..], shape, "site {i} of {family:?} {size}");
                }
                let v = to_vec(&y);
                assert!(v.iter().all(|x| x.abs() <= 1.0), "tanh output");
                let (logits, feats) = m.d.forward(&be, &y).expect("discriminator");
                assert_eq!(logits.dims(), [2, 1]);
                assert_eq!(feats.dims()[0], 2);
            }
        }
    }
}

#[test]
fn rpgan_batch_equals_each_sample_alone() {
    let be = CandleBackend::cpu();
    for family in [Family::Dcgan, Family::SnResnet] {
        let m = random_model(family, 32, 3, Some(Rpgan::new(3, 5)), 7);
        let blocks = m.g.config.blocks();
        let paths = random_paths(11, 13, &blocks);
        let all = to_vec(
            &m.g.forward(&be, None, &paths, &mut |_, x| Ok(x))
                .expect("batch"),
        );
        let per = all.len() / paths.len();
        for (n, p) in paths.iter().enumerate() {
            let one = to_vec(
                &m.g.forward(&be, None, std::slice::from_ref(p), &mut |_, x| Ok(x))
                    .expect("one"),
            );
            assert!(
                max_abs_diff(&one, &all[n * per..(n + 1) * per]) < 1e-5,
                "{family:?} sample {n}"
            );
        }
        // different paths give different images, the same path the same image
        let a = to_vec(
            &m.g.forward(
                &be,
                None,
                &[vec![0, 1, 2], vec![0, 1, 2], vec![0, 1, 3]],
                &mut |_, x| Ok(x),
            )
            .expect("f"),
        );
        assert_eq!(a[..per], a[per..2 * per]);
        assert!(max_abs_diff(&a[..per], &a[2 * per..]) > 1e-3);
    }
}

#[test]
fn bad_paths_are_refused_with_a_message() {
    let be = CandleBackend::cpu();
    let m = random_model(Family::Dcgan, 32, 1, Some(Rpgan::new(4, 3)), 2);
    let err =
        m.g.forward(&be, None, &[vec![0, 0, 3, 0]], &mut |_, x| Ok(x))
            .expect_err("block 3 of 3");
    assert!(
        err.to_string()
            .contains("block 3 does not exist in bucket 3"),
        "{err}"
    );
    let err =
        m.g.forward(&be, None, &[vec![0, 0]], &mut |_, x| Ok(x))
            .expect_err("short path");
    assert!(err.to_string().contains("has 2 entries"), "{err}");
}

#[test]
fn render_is_deterministic_for_a_seed() {
    let be = CandleBackend::cpu();
    let m = random_model(Family::Dcgan, 28, 1, None, 3);
    let iv = Interventions::default();
    let r = Resolved::new(&m.g.config, &iv).expect("resolve");
    let run = |seed| {
        let b = Batch::new(&m.g.config, seed, 4, &iv).expect("batch");
        to_vec(&render(&m.g, &be, &b, &r, &mut |_, _| Ok(())).expect("render"))
    };
    assert_eq!(run(5), run(5));
    assert!(max_abs_diff(&run(5), &run(6)) > 1e-3);
    // sample i of a seed does not depend on the batch size (up to GEMM rounding)
    let b1 = Batch::new(&m.g.config, 5, 1, &iv).expect("batch");
    let one = to_vec(&render(&m.g, &be, &b1, &r, &mut |_, _| Ok(())).expect("render"));
    assert!(max_abs_diff(&one, &run(5)[..one.len()]) < 1e-5);
}
