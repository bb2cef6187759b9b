//! Latent directions with known answers: SeFa returns the planted right singular vectors of
//! a first layer in order, PCA the planted axes of a covariance, the transposed-convolution
//! latent matrix is what the convolution does; directions are unit and orthogonal; a move
//! by 0 renders bit for bit; bad requests get a message.

use candle_core::{Device, Tensor};
use ganscope_analysis::directions::{
    conv_transpose_latent_matrix, ganspace, pca, sefa, sefa_model, Directions,
};
use ganscope_analysis::renderer::{block_on, CpuRenderer, Renderer};
use ganscope_model::config::{Family, GeneratorConfig, Rpgan};
use ganscope_model::format::{seeded_model_bytes, ModelFile};
use ganscope_model::intervention::{Interventions, Resolved};
use ganscope_model::sample::Batch;
use nalgebra::DMatrix;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::StandardNormal;

/// A random `rows x cols` matrix with orthonormal columns (QR of a Gaussian matrix).
fn orthonormal(rows: usize, cols: usize, seed: u64) -> DMatrix<f64> {
    let mut rng = StdRng::seed_from_u64(seed);
    let g = DMatrix::from_fn(rows, cols, |_, _| rng.sample::<f64, _>(StandardNormal));
    g.qr().q().columns(0, cols).into_owned()
}

fn cos(a: &[f32], b: &[f64]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(&x, &y)| f64::from(x) * y).sum();
    let na = a.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>().sqrt();
    let nb = b.iter().map(|y| y * y).sum::<f64>().sqrt();
    dot / (na * nb)
}

fn assert_orthonormal(d: &Directions) {
    for (i, a) in d.directions.iter().enumerate() {
        for (j, b) in d.directions.iter().enumerate() {
            let dot: f64 = a
                .vector
                .iter()
                .zip(&b.vector)
                .map(|(&x, &y)| f64::from(x) * f64::from(y))
                .sum();
            let want = if i == j { 1.0 } else { 0.0 };
            assert!((dot - want).abs() < 1e-5, "directions {i}, {j}: {dot}");
        }
    }
}

#[test]
fn sefa_returns_the_planted_singular_vectors_in_order() {
    let (m, d) = (24, 10);
    let u = orthonormal(m, d, 1);
    let v = orthonormal(d, d, 2);
    let s = DMatrix::from_diagonal(&nalgebra::DVector::from_fn(d, |i, _| 10.0 - i as f64));
    let a = &u * s * v.transpose(); // [m, d] with right singular vectors v
    let flat: Vec<f32> = (0..m)
        .flat_map(|r| (0..d).map(move |c| (r, c)))
        .map(|(r, c)| a[(r, c)] as f32)
        .collect();
    let dirs = sefa(&flat, m, d, 5).expect("sefa");
    assert_eq!(dirs.directions.len(), 5);
    for (i, dir) in dirs.directions.iter().enumerate() {
        let planted: Vec<f64> = v.column(i).iter().copied().collect();
        let c = cos(&dir.vector, &planted).abs();
        assert!(c > 0.999, "direction {i}: cosine {c}");
        let want = (10.0 - i as f64).powi(2);
        assert!(
            (dir.value - want).abs() < 1e-3 * want,
            "eigenvalue {}",
            dir.value
        );
    }
    assert_orthonormal(&dirs);
}

#[test]
fn pca_returns_the_planted_axes_of_a_covariance() {
    // both routes: the d x d covariance (n > d) and the n x n Gram matrix (n < d)
    for (n, d, k) in [(4000, 6, 3), (60, 200, 3)] {
        let q = orthonormal(d, k, 7);
        let sd = [5.0, 3.0, 1.5];
        let mut rng = StdRng::seed_from_u64(9);
        let mut x = Vec::with_capacity(n * d);
        for _ in 0..n {
            let c: Vec<f64> = sd
                .iter()
                .map(|s| s * rng.sample::<f64, _>(StandardNormal))
                .collect();
            for r in 0..d {
                let noise: f64 = 0.05 * rng.sample::<f64, _>(StandardNormal);
                let v: f64 = (0..k).map(|j| q[(r, j)] * c[j]).sum::<f64>() + noise + 2.0;
                x.push(v as f32);
            }
        }
        let p = pca(&x, n, d, k).expect("pca");
        for (j, axis) in p.axes.iter().enumerate() {
            let planted: Vec<f64> = q.column(j).iter().copied().collect();
            let a: Vec<f32> = axis.iter().map(|&v| v as f32).collect();
            let c = cos(&a, &planted).abs();
            let need = if n > d { 0.999 } else { 0.98 };
            assert!(c > need, "n {n} d {d} axis {j}: cosine {c}");
            let var = p.variances[j];
            assert!((var / (sd[j] * sd[j]) - 1.0).abs() < 0.35, "variance {var}");
        }
        assert!(p.mean.iter().all(|m| (m - 2.0).abs() < 1.0));
    }
}

#[test]
fn the_transposed_convolution_latent_matrix_is_the_convolution() {
    let (d, c, k) = (5, 3, 4);
    let mut rng = StdRng::seed_from_u64(3);
    let w: Vec<f32> = (0..d * c * k * k)
        .map(|_| rng.random_range(-1.0..1.0))
        .collect();
    let z: Vec<f32> = (0..d).map(|_| rng.random_range(-1.0..1.0)).collect();
    let wt = Tensor::from_vec(w.clone(), (d, c, k, k), &Device::Cpu).expect("w");
    let zt = Tensor::from_vec(z.clone(), (1, d, 1, 1), &Device::Cpu).expect("z");
    let y = zt
        .conv_transpose2d(&wt, 0, 0, 1, 1)
        .and_then(|y| y.flatten_all())
        .and_then(|y| y.to_vec1::<f32>())
        .expect("conv"); // [C*k*k]
    let a = conv_transpose_latent_matrix(&w, d, c, k); // [C*k*k, D]
    for (t, &yt) in y.iter().enumerate() {
        let az: f32 = (0..d).map(|i| a[t * d + i] * z[i]).sum();
        assert!((az - yt).abs() < 1e-5, "tap {t}: {az} vs {yt}");
    }
}

fn model(rpgan: Option<Rpgan>) -> Vec<u8> {
    let mut g = GeneratorConfig::new(Family::Dcgan, 32, 3, 4, rpgan).expect("config");
    g.latent_dim = 12;
    seeded_model_bytes(&g, 0.5).expect("bytes")
}

fn images(r: &mut CpuRenderer, iv: &Interventions) -> Vec<f32> {
    let cfg = r.config().clone();
    let batch = Batch::new(&cfg, 4, 3, iv).expect("batch");
    let resolved = Resolved::new(&cfg, iv).expect("resolved");
    r.render_now(&batch, &resolved, &[]).expect("render").images
}

#[test]
fn directions_are_orthonormal_and_a_move_by_zero_changes_nothing() {
    let bytes = model(None);
    let file = ModelFile::parse(&bytes).expect("parse");
    let mut r = CpuRenderer::load(&bytes).expect("load");
    let plain = images(&mut r, &Interventions::default());
    let s = sefa_model(&file, 6).expect("sefa");
    let z_pca = block_on(ganspace(&mut r, None, 300, 4, 1)).expect("ganspace z");
    let at_site = block_on(ganspace(&mut r, Some(1), 200, 4, 1)).expect("ganspace b2");
    assert_eq!(
        (at_site.site.as_str(), at_site.source.as_str()),
        ("z", "b2")
    );
    for d in [&s, &z_pca, &at_site] {
        assert_orthonormal(d);
        let zero = Interventions {
            shifts: vec![d.shift(0, 0.0).expect("shift")],
            ..Interventions::default()
        };
        let moved = Interventions {
            shifts: vec![d.shift(0, 2.0).expect("shift")],
            ..Interventions::default()
        };
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&images(&mut r, &zero)), bits(&plain), "{:?}", d.method);
        assert_ne!(images(&mut r, &moved), plain, "a move of 2 sigma shows");
    }
    let shares: f64 = at_site.directions.iter().map(|d| d.value).sum();
    assert!(shares > 0.0 && shares <= 1.0 + 1e-9, "{shares}");
}

#[test]
fn an_rpgan_moves_a_site_and_bad_requests_are_refused() {
    let bytes = model(Some(Rpgan::new(4, 3)));
    let file = ModelFile::parse(&bytes).expect("parse");
    let err = sefa_model(&file, 4).expect_err("no z").to_string();
    assert!(
        err.contains("learned constant") && err.contains("ganspace"),
        "{err}"
    );
    let mut r = CpuRenderer::load(&bytes).expect("load");
    let err = block_on(ganspace(&mut r, None, 50, 3, 0))
        .expect_err("no z")
        .to_string();
    assert!(err.contains("site"), "{err}");
    let d = block_on(ganspace(&mut r, Some(2), 64, 3, 0)).expect("site b3");
    assert_eq!((d.site.as_str(), d.source.as_str()), ("b3", "b3"));
    assert_orthonormal(&d);
    let plain = images(&mut r, &Interventions::default());
    let zero = Interventions {
        shifts: vec![d.shift(1, 0.0).expect("shift")],
        ..Interventions::default()
    };
    assert_eq!(images(&mut r, &zero), plain);
    let err = d.shift(3, 1.0).expect_err("past the list").to_string();
    assert!(err.contains("direction 3 does not exist"), "{err}");
    let err = d.shift(0, f32::NAN).expect_err("nan").to_string();
    assert!(err.contains("must be a number"), "{err}");
    // a latent shift on a constant-input model, and a NaN amount in JSON data
    let mut z = d.shift(0, 1.0).expect("shift");
    z.site = "z".into();
    z.vector = vec![0.0; 12];
    let iv = Interventions {
        shifts: vec![z],
        ..Interventions::default()
    };
    let err = Resolved::new(r.config(), &iv)
        .expect_err("no z")
        .to_string();
    assert!(err.contains("learned constant"), "{err}");
    let json = r#"{"shifts": [{"site": "b1", "vector": [1], "amount": 1}]}"#;
    let iv = Interventions::from_json(json).expect("parses");
    let err = Resolved::new(r.config(), &iv)
        .expect_err("length")
        .to_string();
    assert!(err.contains("it needs"), "{err}");
}
