//! Classifier training: the loss is the softmax cross-entropy, a short run learns digits,
//! train and test colours have their own seeds, and the bundled classifier recognises
//! colored digits.

use candle_core::{Device, Tensor};
use ganscope_data::Split;
use ganscope_model::classifier::Classifier;
use ganscope_train::classifier::{
    accuracy, colour_seed, cross_entropy, finish, load_split, ClassifierTrainer,
};
use ganscope_train::options::ClassifierOptions;

fn mnist() -> String {
    format!("mnist:{}/../../data/mnist", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn cross_entropy_is_the_mean_negative_log_softmax() {
    let logits = [1.0f32, 2.0, 0.5, -3.0, 0.0, 40.0];
    let t = Tensor::from_slice(&logits, (2, 3), &Device::Cpu).expect("t");
    let got = cross_entropy(&t, &[1, 0])
        .expect("ce")
        .to_scalar::<f32>()
        .expect("scalar");
    let nll = |row: &[f32], k: usize| {
        let m = row.iter().copied().fold(f32::MIN, f32::max);
        let lse = m + row.iter().map(|v| (v - m).exp()).sum::<f32>().ln();
        lse - row[k]
    };
    let want = (nll(&logits[..3], 1) + nll(&logits[3..], 0)) / 2.0;
    assert!(
        (got - want).abs() < 1e-4 * want.abs().max(1.0),
        "{got} vs {want}"
    );
    assert!(
        want > 20.0,
        "the second row is confidently wrong; no overflow"
    );
}

#[test]
fn a_short_run_learns_digits() {
    let opts = ClassifierOptions {
        data: Some(mnist()),
        limit: Some(2000),
        test_limit: Some(500),
        width: 8,
        steps: 120,
        batch: 32,
        lr: 3e-3,
        ..ClassifierOptions::default()
    };
    let data = load_split(&opts, Split::Train).expect("train");
    let test = load_split(&opts, Split::Test).expect("test");
    let mut tr = ClassifierTrainer::new(opts, data).expect("trainer");
    let before = accuracy(
        &Classifier::load(&finish(&tr, &test, 0.0, false).expect("file").1).expect("load"),
        &test,
    )
    .expect("accuracy");
    let mut last = 0.0;
    while tr.step < 120 {
        last = tr.train_step().expect("step").loss;
    }
    let (meta, _) = finish(&tr, &test, last, false).expect("file");
    let after = meta.test_accuracy.expect("accuracy");
    assert!(
        after > 0.7 && after > before + 0.4,
        "test accuracy {before} -> {after}"
    );
    assert!(tr.lr_at(0) > tr.lr_at(60) && tr.lr_at(60) > tr.lr_at(119));
}

#[test]
fn colours_of_train_and_test_images_have_their_own_seeds() {
    let seeds = [
        colour_seed(0, Split::Train),
        colour_seed(0, Split::Test),
        colour_seed(1, Split::Train),
    ];
    assert!(!seeds.contains(&0), "not the GANs' default colour seed");
    assert!(seeds[0] != seeds[1] && seeds[0] != seeds[2] && seeds[1] != seeds[2]);
}

#[test]
fn the_bundled_classifier_recognises_colored_digits() {
    let path = format!(
        "{}/../../www/models/classifier-colored-mnist.safetensors",
        env!("CARGO_MANIFEST_DIR")
    );
    let bytes = std::fs::read(&path).expect("the bundled classifier");
    assert!(bytes.len() < 1 << 20, "under 1 MB");
    let c = Classifier::load(&bytes).expect("loads");
    assert_eq!(c.input_shape(), [3, 32, 32]);
    assert!(c.meta().test_accuracy.is_some_and(|a| a >= 0.97));
    // test images in colours of another seed than the stored run's
    let opts = ClassifierOptions {
        data: Some(mnist()),
        colored: true,
        test_limit: Some(500),
        seed: 77,
        ..ClassifierOptions::default()
    };
    let test = load_split(&opts, Split::Test).expect("test");
    let acc = accuracy(&c, &test).expect("accuracy");
    assert!(acc > 0.95, "{acc}");
}
