//! Gradient checks of the custom training layers against central finite differences, in f64.

use candle_core::{Device, Tensor, Var};
use ganscope_train::diversity::{full_term, pair_term};
use ganscope_train::spectral::spectral_norm;

fn randn(shape: &[usize], seed: u64) -> Tensor {
    let v: Vec<f64> = ganscope_model::sample::latents(seed, shape.iter().product(), 1)
        .into_iter()
        .map(f64::from)
        .collect();
    Tensor::from_vec(v, shape, &Device::Cpu).expect("tensor")
}

fn scalar(t: &Tensor) -> f64 {
    t.to_scalar::<f64>().expect("scalar")
}

/// The spectral norm of `w` by running power iteration to convergence from a fixed start.
fn converged_sn(w: &Tensor, u: &Var) -> Tensor {
    for _ in 0..500 {
        spectral_norm(w, u, true).expect("iteration");
    }
    spectral_norm(w, u, false).expect("sn")
}

/// At convergence of the power iteration, the gradient that holds u and v constant is the
/// exact gradient of W / sigma_max(W); checked against finite differences of the true
/// spectral norm (power iteration rerun to convergence at each perturbed W).
#[test]
fn spectral_norm_gradient_matches_finite_differences() {
    let w0 = randn(&[5, 3, 2, 2], 1);
    let r = randn(&[5, 3, 2, 2], 2);
    let w = Var::from_tensor(&w0).expect("var");
    let u = Var::from_tensor(&randn(&[5], 3)).expect("u");
    let f = |wt: &Tensor, u: &Var| {
        scalar(
            &(converged_sn(wt, u) * &r)
                .expect("mul")
                .sum_all()
                .expect("sum"),
        )
    };
    converged_sn(w.as_tensor(), &u);
    let out = (spectral_norm(w.as_tensor(), &u, false).expect("sn") * &r)
        .expect("mul")
        .sum_all()
        .expect("sum");
    let grad = out
        .backward()
        .expect("backward")
        .get(w.as_tensor())
        .expect("grad")
        .flatten_all()
        .expect("flat")
        .to_vec1::<f64>()
        .expect("vec");
    let base = w0
        .flatten_all()
        .expect("flat")
        .to_vec1::<f64>()
        .expect("vec");
    let h = 1e-6;
    for i in [0, 3, 7, 11, 19, 31, 42, 59] {
        let shifted = |d: f64| {
            let mut v = base.clone();
            v[i] += d;
            let t = Tensor::from_vec(v, w0.shape(), &Device::Cpu).expect("t");
            let uu = Var::from_tensor(&randn(&[5], 3)).expect("u");
            f(&t, &uu)
        };
        let fd = (shifted(h) - shifted(-h)) / (2.0 * h);
        assert!(
            (fd - grad[i]).abs() < 1e-6 * (1.0 + fd.abs()),
            "element {i}: fd {fd} vs autograd {}",
            grad[i]
        );
    }
    // and the normalised weight has spectral norm 1: sigma(sn) = |sn| / |sn / sigma(sn)|
    let sn = converged_sn(w.as_tensor(), &u);
    let u2 = Var::from_tensor(&randn(&[5], 9)).expect("u");
    let fro = |t: &Tensor| scalar(&t.sqr().expect("sq").sum_all().expect("s")).sqrt();
    let sigma = fro(&sn) / fro(&converged_sn(&sn, &u2));
    assert!((sigma - 1.0).abs() < 1e-9, "sigma(W / sigma(W)) = {sigma}");
}

fn check_grad(ws: &[Var], f: &dyn Fn(&[Tensor]) -> Tensor) {
    let ts: Vec<Tensor> = ws.iter().map(|w| w.as_tensor().clone()).collect();
    let grads = f(&ts).backward().expect("backward");
    let h = 1e-6;
    for (k, w) in ws.iter().enumerate() {
        let g = grads
            .get(w.as_tensor())
            .expect("grad")
            .flatten_all()
            .expect("f")
            .to_vec1::<f64>()
            .expect("v");
        let base = w
            .as_tensor()
            .flatten_all()
            .expect("f")
            .to_vec1::<f64>()
            .expect("v");
        for i in 0..base.len().min(6) {
            let at = |d: f64| {
                let mut v = base.clone();
                v[i] += d;
                let mut t2 = ts.clone();
                t2[k] = Tensor::from_vec(v, w.shape(), &Device::Cpu).expect("t");
                scalar(&f(&t2))
            };
            let fd = (at(h) - at(-h)) / (2.0 * h);
            assert!(
                (fd - g[i]).abs() < 1e-6 * (1.0 + fd.abs()),
                "tensor {k} element {i}: fd {fd} vs autograd {}",
                g[i]
            );
        }
    }
}

#[test]
fn diversity_terms_gradients_match_finite_differences() {
    let a = Var::from_tensor(&randn(&[4, 3], 5)).expect("a");
    // b close to a so the pair is under the margin and counts
    let b = Var::from_tensor(&(a.as_tensor() + (randn(&[4, 3], 6) * 0.3).expect("s")).expect("b"))
        .expect("b");
    let pair = |t: &[Tensor]| pair_term(&t[0], &t[1]).expect("pair");
    assert!(
        scalar(&pair(&[a.as_tensor().clone(), b.as_tensor().clone()])) > 0.0,
        "under the margin"
    );
    check_grad(&[a.clone(), b.clone()], &pair);
    let c = Var::from_tensor(&randn(&[4, 3], 7)).expect("c");
    check_grad(&[a, b, c], &|t: &[Tensor]| full_term(t).expect("full"));
}

#[test]
fn diversity_pair_above_the_margin_does_not_count() {
    let a = randn(&[50], 8);
    let b = (a.neg().expect("neg") * 1.0).expect("b"); // anti-correlated: standardised MSE near 4
    assert_eq!(scalar(&pair_term(&a, &b).expect("pair")), 0.0);
    assert!(
        scalar(&pair_term(&a, &a).expect("same")).abs() < 1e-12,
        "identical blocks have zero diversity"
    );
}

/// The WGAN-GP surrogate's parameter gradient equals the finite-difference gradient of the
/// penalty itself (computed by first-order autograd at each perturbed parameter).
#[test]
fn gradient_penalty_surrogate_matches_finite_differences() {
    use ganscope_model::backend::{Init, ParamSource};
    use ganscope_model::config::{DiscriminatorConfig, Family};
    use ganscope_model::discriminator::Discriminator;
    use ganscope_train::trainer::gp_surrogate;
    use std::collections::BTreeMap;

    struct Src<'a>(&'a BTreeMap<String, Tensor>);
    impl ParamSource<Tensor> for Src<'_> {
        fn param(&mut self, name: &str, _: &[usize], _: Init) -> ganscope_model::Result<Tensor> {
            Ok(self.0[name].clone())
        }
    }
    let cfg = DiscriminatorConfig::new(Family::Dcgan, 28, 1, 3).expect("config");
    let shapes = ganscope_model::format::expected_tensors(&GEN, Some(&cfg)).expect("shapes");
    let mut params: BTreeMap<String, Tensor> = BTreeMap::new();
    for (i, (name, shape)) in shapes
        .iter()
        .filter(|(n, _)| n.starts_with("d."))
        .enumerate()
    {
        let t = (randn(shape, 100 + i as u64) * 0.3).expect("scale");
        params.insert(
            name.clone(),
            Var::from_tensor(&t).expect("var").as_tensor().clone(),
        );
    }
    let (real, fake) = (randn(&[3, 1, 28, 28], 7), randn(&[3, 1, 28, 28], 8));
    let d = Discriminator::new(&cfg, &mut Src(&params)).expect("d");
    let (sur, gp) = gp_surrogate(&d, &real, &fake, 11, 1e-7).expect("gp");
    assert!(gp > 0.0);
    let grads = sur.backward().expect("backward");
    for name in [
        "d.conv1.weight",
        "d.conv2.weight",
        "d.linear.weight",
        "d.conv1.bias",
    ] {
        let g = grads
            .get(&params[name])
            .expect("grad")
            .flatten_all()
            .expect("f")
            .to_vec1::<f64>()
            .expect("v");
        let base = params[name]
            .flatten_all()
            .expect("f")
            .to_vec1::<f64>()
            .expect("v");
        for i in [0, base.len() / 2, base.len() - 1] {
            let at = |h: f64| {
                let mut v = base.clone();
                v[i] += h;
                let mut p2 = params.clone();
                p2.insert(
                    name.into(),
                    Tensor::from_vec(v, params[name].shape(), &Device::Cpu).expect("t"),
                );
                let d2 = Discriminator::new(&cfg, &mut Src(&p2)).expect("d");
                gp_surrogate(&d2, &real, &fake, 11, 1e-7).expect("gp").1
            };
            let h = 1e-5;
            let fd = (at(h) - at(-h)) / (2.0 * h);
            assert!(
                (fd - g[i]).abs() < 1e-3 * (1.0 + fd.abs()),
                "{name}[{i}]: fd {fd} vs surrogate {}",
                g[i]
            );
        }
    }
}

/// Any generator config; only the discriminator's tensors are used above.
static GEN: std::sync::LazyLock<ganscope_model::config::GeneratorConfig> =
    std::sync::LazyLock::new(|| {
        ganscope_model::config::GeneratorConfig::new(
            ganscope_model::config::Family::Dcgan,
            28,
            1,
            2,
            None,
        )
        .expect("g")
    });
