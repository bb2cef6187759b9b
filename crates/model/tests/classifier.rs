//! The classifier file: seeded round trips (f32 bit-exact, f16 close), features and logits
//! equal to the network's own forward, and refusals: a generator model read as a classifier
//! (and the reverse), corrupted bytes, inputs of the wrong size.

mod common;
use candle_core::{Device, Tensor};
use common::{random_model, to_vec, RandomSource};
use ganscope_model::candle_backend::{load_candle, CandleBackend};
use ganscope_model::classifier::{
    classifier_to_bytes, parse_classifier, Classifier, ClassifierMeta, FEATURE_BATCH,
};
use ganscope_model::config::{DiscriminatorConfig, Family};
use ganscope_model::discriminator::Discriminator;
use ganscope_model::format::{to_bytes, ModelFile, NamedTensor};
use ganscope_model::sample::latents;
use ganscope_model::{Error, FileError};

struct Seeded {
    net: Discriminator<Tensor>,
    meta: ClassifierMeta,
    tensors: Vec<NamedTensor>,
}

fn seeded(family: Family, size: usize, channels: usize) -> Seeded {
    let mut cfg = DiscriminatorConfig::new(family, size, channels, 4).expect("config");
    cfg.outputs = 10;
    let mut src = RandomSource {
        seed: 11,
        recorded: Vec::new(),
    };
    let net = Discriminator::new(&cfg, &mut src).expect("network");
    let mut meta = ClassifierMeta::new(cfg, (0..10).map(|i| i.to_string()).collect());
    meta.test_accuracy = Some(0.5);
    meta.training = Some(serde_json::json!({"steps": 3}));
    Seeded {
        net,
        meta,
        tensors: src.recorded,
    }
}

/// `n` seeded images in [-1, 1].
fn images(n: usize, c: usize, s: usize) -> Vec<f32> {
    latents(5, n * c * s * s, 1)
        .into_iter()
        .map(|v| (v * 0.5).tanh())
        .collect()
}

fn forward(net: &Discriminator<Tensor>, x: &[f32], shape: [usize; 4]) -> (Vec<f32>, Vec<f32>) {
    let x = Tensor::from_slice(x, &shape, &Device::Cpu).expect("tensor");
    let (y, f) = net.forward(&CandleBackend::cpu(), &x).expect("forward");
    (to_vec(&y), to_vec(&f))
}

fn close(a: &[f32], b: &[f32], tol: f32) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| (x - y).abs() <= tol * (1.0 + y.abs()))
}

#[test]
fn f32_round_trip_is_bit_exact_and_features_match_the_network() {
    for (family, size, channels) in [(Family::Dcgan, 32, 3), (Family::SnResnet, 28, 1)] {
        let m = seeded(family, size, channels);
        let bytes = classifier_to_bytes(&m.meta, &m.tensors, false).expect("serialise");
        let file = parse_classifier(&bytes).expect("parse");
        assert_eq!(file.meta, m.meta);
        for (name, shape, values) in &m.tensors {
            assert!(name.starts_with("d."), "{name}");
            assert_eq!(&file.tensors[name].shape, shape);
            let back = file.data(name).expect("data");
            assert!(back
                .iter()
                .zip(values)
                .all(|(a, b)| a.to_bits() == b.to_bits()));
        }
        let c = Classifier::load(&bytes).expect("load");
        assert_eq!(c.meta(), &m.meta);
        assert_eq!(c.num_classes(), 10);
        assert_eq!(c.input_shape(), [channels, size, size]);
        let n = 5;
        let x = images(n, channels, size);
        let (want_logits, want_feats) = forward(&m.net, &x, [n, channels, size, size]);
        let feats = c.features(&x, n).expect("features");
        assert_eq!(feats.len(), n * c.feature_dim(), "[n, F]");
        assert_eq!(want_feats.len(), n * c.feature_dim());
        assert!(
            feats == want_feats,
            "the loaded network computes other features"
        );
        let logits = c.logits(&x, n).expect("logits");
        assert_eq!(logits.len(), n * 10, "[n, K]");
        assert!(logits == want_logits);
        let pred = c.predict(&x, n).expect("predict");
        for (row, &p) in logits.chunks(10).zip(&pred) {
            assert!(row.iter().all(|&v| v <= row[p]), "{row:?} -> {p}");
        }
    }
}

#[test]
fn dcgan_feature_dim_and_batches_larger_than_one_forward() {
    let m = seeded(Family::Dcgan, 32, 3);
    let bytes = classifier_to_bytes(&m.meta, &m.tensors, false).expect("serialise");
    let c = Classifier::load(&bytes).expect("load");
    assert_eq!(
        c.feature_dim(),
        16 * 4 * 4,
        "widths 4, 8, 16 leave 16 x 4 x 4"
    );
    let n = FEATURE_BATCH + 3;
    let x = images(n, 3, 32);
    let feats = c.features(&x, n).expect("features");
    assert_eq!(feats.len(), n * c.feature_dim());
    let per = 3 * 32 * 32;
    let tail = c.features(&x[(n - 3) * per..], 3).expect("tail");
    assert!(
        close(&feats[(n - 3) * c.feature_dim()..], &tail, 1e-5),
        "the second internal batch gives the same rows"
    );
    assert!(c.features(&[], 0).expect("empty").is_empty());
    for (len, n) in [(per * 2 - 1, 2), (per * 2, 3)] {
        let err = c.features(&vec![0.0; len], n).expect_err("wrong size");
        assert!(matches!(err, Error::Shape(_)), "{err}");
    }
}

#[test]
fn f16_storage_halves_the_file_and_stays_close() {
    let m = seeded(Family::Dcgan, 32, 3);
    let full = classifier_to_bytes(&m.meta, &m.tensors, false).expect("f32");
    let half = classifier_to_bytes(&m.meta, &m.tensors, true).expect("f16");
    assert!(
        half.len() < full.len() * 6 / 10,
        "{} vs {}",
        half.len(),
        full.len()
    );
    let (a, b) = (
        Classifier::load(&full).expect("f32"),
        Classifier::load(&half).expect("f16"),
    );
    assert_eq!(a.meta(), b.meta());
    let x = images(4, 3, 32);
    let (fa, fb) = (a.features(&x, 4).expect("f"), b.features(&x, 4).expect("f"));
    assert!(fa != fb, "f16 rounds the weights");
    assert!(
        close(&fb, &fa, 2e-2),
        "f16 features stay within f16 precision"
    );
}

#[test]
fn a_generator_file_is_not_a_classifier_and_the_reverse() {
    let g = random_model(Family::Dcgan, 32, 3, None, 4);
    let gbytes = to_bytes(&g.meta, &g.tensors, false).expect("model");
    let err = Classifier::load(&gbytes).expect_err("a model is not a classifier");
    assert!(
        matches!(err, Error::InvalidFile(FileError::WrongKind { .. })),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains("generator model") && msg.contains("`ganscope_classifier`"),
        "{msg}"
    );
    let m = seeded(Family::Dcgan, 32, 3);
    let cbytes = classifier_to_bytes(&m.meta, &m.tensors, false).expect("classifier");
    for err in [
        ModelFile::parse(&cbytes).expect_err("a classifier is not a model"),
        load_candle(&cbytes, &Device::Cpu).expect_err("not a model"),
    ] {
        let msg = err.to_string();
        assert!(
            msg.contains("this file is a ganscope classifier") && msg.contains("generator model"),
            "{msg}"
        );
    }
}

#[test]
fn corrupted_or_inconsistent_files_are_refused() {
    let m = seeded(Family::Dcgan, 32, 3);
    let bytes = classifier_to_bytes(&m.meta, &m.tensors, false).expect("serialise");
    let refused = |b: &[u8]| match Classifier::load(b) {
        Err(Error::InvalidFile(e)) => e,
        other => panic!("accepted or wrong error: {other:?}"),
    };
    assert_eq!(refused(&bytes[..5]), FileError::TooShort(5));
    let mut truncated = bytes.clone();
    truncated.truncate(bytes.len() - 4);
    assert!(matches!(refused(&truncated), FileError::BadOffsets { .. }));
    let mut huge = bytes.clone();
    huge[..8].copy_from_slice(&u64::MAX.to_le_bytes());
    assert!(matches!(refused(&huge), FileError::HeaderTooLarge(_)));
    let mut nan = bytes.clone();
    let n = nan.len();
    nan[n - 4..].copy_from_slice(&f32::NAN.to_le_bytes());
    assert!(matches!(refused(&nan), FileError::NonFinite(_)));
    let mut garbled = bytes.clone();
    garbled[9] = b'!';
    assert!(matches!(refused(&garbled), FileError::BadHeaderJson(_)));

    // metadata that disagrees with the tensors or with itself
    let mut wrong_classes = m.meta.clone();
    wrong_classes.classes.pop();
    assert!(classifier_to_bytes(&wrong_classes, &m.tensors, false).is_err());
    let mut wider = m.meta.clone();
    wider.network.outputs = 11;
    wider.classes.push("10".into());
    assert!(classifier_to_bytes(&wider, &m.tensors, false).is_err());
    let mut missing = m.tensors.clone();
    missing.pop();
    let err = classifier_to_bytes(&m.meta, &missing, false).expect_err("missing tensor");
    assert!(
        matches!(err, Error::InvalidFile(FileError::MissingTensor(_))),
        "{err:?}"
    );
    let mut bad_acc = m.meta.clone();
    bad_acc.test_accuracy = Some(1.5);
    assert!(classifier_to_bytes(&bad_acc, &m.tensors, false).is_err());
}
