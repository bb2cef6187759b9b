//! Each kernel against the candle backend (the CPU reference) on seeded random inputs of odd
//! sizes (not multiples of the 64x64 tiles), with outputs poisoned with NaN first.
//! Tolerance: rel 1e-4 / abs 1e-5 (f32).

mod common;

use common::{assert_close, gpu, poisoned, rand_vec, read, rng};
use ganscope_gpu::kernels::Params;
use ganscope_gpu::params::CopyParams;
use ganscope_gpu::recorder::Dispatch;
use ganscope_model::backend::{Activation, Backend, BatchNormParams};
use ganscope_model::candle_backend::CandleBackend;

type Inputs = Vec<(Vec<f32>, Vec<usize>)>;

/// Runs `$body` with `$b` bound to each backend and `$x` to the uploaded inputs; compares.
macro_rules! check {
    ($gpu:expr, $name:expr, $inputs:expr, |$b:ident, $x:ident| $body:expr) => {{
        let inputs: Inputs = $inputs;
        let want = {
            let $b = &CandleBackend::cpu();
            let $x: Vec<_> = inputs
                .iter()
                .map(|(d, s)| $b.tensor(d.clone(), s).expect("tensor"))
                .collect();
            let t = $body.expect("candle op");
            t.flatten_all()
                .expect("flat")
                .to_vec1::<f32>()
                .expect("vec")
        };
        let got = {
            let $b = &poisoned($gpu);
            let $x: Vec<_> = inputs
                .iter()
                .map(|(d, s)| $b.tensor(d.clone(), s).expect("tensor"))
                .collect();
            let t = $body.expect("gpu op");
            read($b, &t)
        };
        assert_close($name, &got, &want, 1e-4, 1e-5);
    }};
}

fn input(seed: u64, shape: &[usize], scale: f32) -> (Vec<f32>, Vec<usize>) {
    let n = shape.iter().product();
    (rand_vec(&mut rng(seed), n, scale), shape.to_vec())
}

#[test]
fn linear_matches_cpu() {
    let Some(g) = gpu() else { return };
    // tiles: 8x1 (few samples), 1x8 (few outputs), 8x1, 2x8, 4x4
    let cases = [
        (5, 37, 71),
        (67, 19, 3),
        (1, 128, 131),
        (40, 19, 31),
        (40, 19, 33),
    ];
    for (s, (n, i, o)) in cases.into_iter().enumerate() {
        let s = s as u64 * 10;
        let ins = vec![
            input(s, &[n, i], 1.0),
            input(s + 1, &[o, i], 0.3),
            input(s + 2, &[o], 0.5),
        ];
        check!(&g, "linear", ins.clone(), |b, x| b.linear(
            &x[0],
            &x[1],
            Some(&x[2])
        ));
        check!(&g, "linear without bias", ins, |b, x| b
            .linear(&x[0], &x[1], None));
    }
}

#[test]
fn conv2d_matches_cpu() {
    let Some(g) = gpu() else { return };
    // (N, I, H, W, O, K, stride, pad): 3x3 same, 1x1 shortcut, 4x4 s2 discriminator, 5x5 s2
    let cases = [
        (3, 5, 9, 11, 7, 3, 1, 1),
        (2, 13, 7, 5, 67, 1, 1, 0),
        (2, 3, 13, 13, 9, 4, 2, 1),
        (1, 4, 11, 9, 5, 5, 2, 2),
        (5, 17, 6, 6, 65, 3, 1, 1),
        (1, 6, 2, 2, 40, 3, 1, 1),
        (2, 5, 5, 7, 29, 3, 1, 1),
    ];
    for (s, (n, i, h, w, o, k, st, p)) in cases.into_iter().enumerate() {
        let s = s as u64 * 10;
        let ins = vec![
            input(s, &[n, i, h, w], 1.0),
            input(s + 1, &[o, i, k, k], 0.3),
            input(s + 2, &[o], 0.5),
        ];
        check!(&g, "conv2d", ins.clone(), |b, x| b.conv2d(
            &x[0],
            &x[1],
            Some(&x[2]),
            st,
            p
        ));
        check!(&g, "conv2d without bias", ins, |b, x| b
            .conv2d(&x[0], &x[1], None, st, p));
    }
}

#[test]
fn conv_transpose2d_matches_cpu() {
    let Some(g) = gpu() else { return };
    // (N, I, H, W, O, K, stride, pad): the generators' 4x4 s2 p1, and other geometries
    let cases = [
        (3, 7, 5, 6, 9, 4, 2, 1),
        (2, 67, 3, 3, 65, 4, 2, 1),
        (2, 5, 4, 7, 3, 3, 2, 1),
        (1, 6, 5, 5, 4, 4, 1, 0),
        (2, 3, 3, 4, 5, 3, 3, 0),
        (1, 4, 4, 4, 3, 2, 3, 0),
        (3, 9, 4, 5, 31, 4, 2, 1),
    ];
    for (s, (n, i, h, w, o, k, st, p)) in cases.into_iter().enumerate() {
        let s = s as u64 * 10;
        let ins = vec![
            input(s, &[n, i, h, w], 1.0),
            input(s + 1, &[i, o, k, k], 0.3),
            input(s + 2, &[o], 0.5),
        ];
        check!(&g, "conv_transpose2d", ins.clone(), |b, x| b
            .conv_transpose2d(&x[0], &x[1], Some(&x[2]), st, p));
        check!(&g, "conv_transpose2d without bias", ins, |b, x| b
            .conv_transpose2d(&x[0], &x[1], None, st, p));
    }
}

fn params<T: Clone>(x: &[T]) -> BatchNormParams<T> {
    BatchNormParams {
        weight: x[1].clone(),
        bias: x[2].clone(),
        running_mean: x[3].clone(),
        running_var: x[4].clone(),
    }
}

#[test]
fn batch_norm_matches_cpu() {
    let Some(g) = gpu() else { return };
    let c = 7;
    let mut var = input(4, &[c], 1.0);
    var.0.iter_mut().for_each(|v| *v = v.abs() + 0.1);
    let ins = vec![
        input(1, &[3, c, 5, 3], 2.0),
        input(2, &[c], 1.0),
        input(3, &[c], 1.0),
        input(5, &[c], 1.0),
        var,
    ];
    check!(&g, "batch_norm", ins.clone(), |b, x| b
        .batch_norm(&x[0], &params(&x)));
    for act in [
        Activation::Relu,
        Activation::LeakyRelu(0.1),
        Activation::Tanh,
        Activation::Sigmoid,
    ] {
        let name = format!("batch_norm + {act:?}");
        check!(&g, &name, ins.clone(), |b, x| b.batch_norm_act(
            &x[0],
            &params(&x),
            act
        ));
    }
}

#[test]
fn elementwise_kernels_match_cpu() {
    let Some(g) = gpu() else { return };
    let x = input(7, &[3, 5, 7, 9], 30.0);
    for act in [
        Activation::Relu,
        Activation::LeakyRelu(0.2),
        Activation::Tanh,
        Activation::Sigmoid,
    ] {
        check!(&g, &format!("{act:?}"), vec![x.clone()], |b, t| b
            .activation(&t[0], act));
    }
    let small = input(8, &[3, 5, 7, 9], 1.0);
    check!(&g, "tanh near 0", vec![small.clone()], |b, t| b
        .activation(&t[0], Activation::Tanh));
    check!(&g, "add", vec![x.clone(), small.clone()], |b, t| b
        .add(&t[0], &t[1]));
    check!(&g, "upsample2x", vec![small.clone()], |b, t| b
        .upsample2x(&t[0]));
    check!(&g, "upsample2x_bilinear", vec![small.clone()], |b, t| b
        .upsample2x_bilinear(&t[0]));
    check!(
        &g,
        "upsample2x_bilinear 1x1",
        vec![input(9, &[2, 3, 1, 1], 1.0)],
        |b, t| b.upsample2x_bilinear(&t[0])
    );
    check!(&g, "avg_pool2x", vec![small.clone()], |b, t| b
        .avg_pool2x(&t[0]));
    check!(&g, "sum_spatial", vec![small.clone()], |b, t| b
        .sum_spatial(&t[0]));
}

#[test]
fn batch_and_intervention_kernels_match_cpu() {
    let Some(g) = gpu() else { return };
    let x = input(9, &[5, 3, 7, 5], 1.0);
    let idx = [4, 0, 0, 2, 1, 3, 4];
    check!(&g, "select_batch", vec![x.clone()], |b, t| b
        .select_batch(&t[0], &idx));
    check!(
        &g,
        "repeat_batch",
        vec![input(10, &[1, 3, 5], 1.0)],
        |b, t| b.repeat_batch(&t[0], 9)
    );
    let parts = vec![
        x.clone(),
        input(11, &[2, 3, 7, 5], 1.0),
        input(12, &[1, 3, 7, 5], 1.0),
    ];
    check!(&g, "concat_batch", parts, |b, t| b.concat_batch(&t));
    let alpha = [0.0, 1.0, 0.5];
    let value = [0.0, 3.0, -2.0];
    let mask: Vec<f32> = rand_vec(&mut rng(13), 35, 1.0)
        .iter()
        .map(|v| v.abs())
        .collect();
    check!(&g, "unit_edit", vec![x.clone()], |b, t| b
        .unit_edit(&t[0], &alpha, &value, &mask));
    let donor = [3, 3, 0, 1, 4];
    let channels = [1.0, 0.0, 1.0];
    check!(&g, "mix", vec![x.clone()], |b, t| b
        .mix(&t[0], &donor, &channels, &mask));
    let (base, donor) = ([4, 0, 2, 2, 1, 0], [3, 3, 0, 4, 1, 2]);
    check!(&g, "mix_pairs", vec![x], |b, t| b
        .mix_pairs(&t[0], &base, &donor, &channels, &mask));
}

#[test]
fn rgba_matches_the_cpu_conversion() {
    let Some(g) = gpu() else { return };
    for c in [1, 3] {
        let (data, shape) = input(14, &[3, c, 5, 7], 1.3);
        let b = poisoned(&g);
        let t = b.tensor(data.clone(), &shape).expect("tensor");
        let px = read(&b, &b.to_rgba(&t).expect("rgba"));
        let bytes = ganscope_model::sample::to_u8(&data);
        for (i, word) in px.iter().enumerate() {
            let w = word.to_bits().to_le_bytes();
            let (n, q) = (i / 35, i % 35);
            for ch in 0..3 {
                let want = bytes[(n * c + ch.min(c - 1)) * 35 + q];
                assert_eq!(w[ch], want, "pixel {i} channel {ch} (C = {c})");
            }
            assert_eq!(w[3], 255);
        }
    }
}

#[test]
fn bad_shapes_are_errors_not_gpu_failures() {
    let Some(g) = gpu() else { return };
    let b = poisoned(&g);
    let x = b
        .tensor(vec![0.0; 2 * 3 * 4 * 4], &[2, 3, 4, 4])
        .expect("tensor");
    let w = b
        .tensor(vec![0.0; 5 * 2 * 3 * 3], &[5, 2, 3, 3])
        .expect("tensor");
    assert!(b.conv2d(&x, &w, None, 1, 1).is_err());
    assert!(b.select_batch(&x, &[2]).is_err());
    assert!(b.mix(&x, &[0, 2], &[1.0; 3], &[1.0; 16]).is_err());
    assert!(b.unit_edit(&x, &[1.0; 3], &[0.0; 3], &[1.0; 15]).is_err());
    assert!(b.tensor(vec![0.0; 3], &[2, 2]).is_err());
    assert!(g.check().is_ok(), "no GPU error may have been raised");
}

#[test]
fn poisoning_makes_an_unwritten_output_fail() {
    let Some(g) = gpu() else { return };
    let b = poisoned(&g);
    let x = b.tensor(vec![1.0; 10], &[10]).expect("tensor");
    let y = b.tensor(vec![0.0; 10], &[10]).expect("tensor");
    // a copy of zero elements writes nothing: every element must read back as the poison
    let params = Params::Copy(CopyParams { n: 0, offset: 0 });
    b.rec
        .record(Dispatch::new(params, &[&x.buf], &y.buf, [1, 1, 1]));
    let got = read(&b, &y);
    assert!(got.iter().all(|v| v.is_nan()), "{got:?}");
    let r = std::panic::catch_unwind(|| assert_close("unwritten", &got, &[0.0; 10], 1e-4, 1e-5));
    assert!(r.is_err(), "a NaN element must fail the comparison");
}
