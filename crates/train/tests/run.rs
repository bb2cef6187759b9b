//! Training runs on real MNIST (a few hundred images, tiny widths): resume equals an
//! uninterrupted run bit for bit, every loss trains, faults stop cleanly.

use candle_core::Device;
use ganscope_model::config::{DNorm, Family, Rpgan};
use ganscope_train::checkpoint;
use ganscope_train::export::{export_bytes, ExportOptions};
use ganscope_train::options::{Loss, TrainOptions};
use ganscope_train::run::{open, train};
use ganscope_train::TrainError;
use std::path::Path;

fn opts(steps: u64) -> TrainOptions {
    TrainOptions {
        limit: Some(256),
        width: 4,
        d_width: 4,
        latent_dim: 16,
        rpgan: Some(Rpgan::new(4, 3)),
        steps,
        batch: 8,
        d_steps: 2,
        seed: 5,
        checkpoint_every: 3,
        sample_every: 3,
        log_every: 1,
        ..TrainOptions::default()
    }
}

fn run(o: TrainOptions, dir: &Path, resume: bool) -> ganscope_train::Result<()> {
    let steps = o.steps;
    let mut tr = open(o, dir, resume, Some(steps))?;
    train(&mut tr, dir, &mut |_| {})
}

fn tensors(dir: &Path) -> std::collections::BTreeMap<String, Vec<u32>> {
    ganscope_train::checkpoint::load_bits(dir)
        .expect("the checkpoint loads")
        .1
}

#[test]
fn resumed_run_equals_uninterrupted_run_bit_for_bit() {
    for (rpgan, ema, d_norm) in [
        (Some(Rpgan::new(4, 3)), None, DNorm::Spectral),
        (None, Some(0.9), DNorm::Spectral),
        (None, None, DNorm::Batch),
    ] {
        let (a, b) = (
            tempfile::tempdir().expect("tmp"),
            tempfile::tempdir().expect("tmp"),
        );
        let mut o = opts(6);
        o.rpgan = rpgan;
        o.ema = ema;
        o.d_norm = d_norm;
        run(o.clone(), a.path(), false).expect("straight run");
        run(
            TrainOptions {
                steps: 3,
                ..o.clone()
            },
            b.path(),
            false,
        )
        .expect("first half");
        run(o, b.path(), true).expect("resumed half");
        let (ta, tb) = (tensors(a.path()), tensors(b.path()));
        assert_eq!(ta.len(), tb.len());
        for ((na, va), (nb, vb)) in ta.iter().zip(&tb) {
            assert_eq!(na, nb);
            assert!(va == vb, "{na} differs after resume");
        }
        let log = |d: &Path| std::fs::read_to_string(d.join("metrics.jsonl")).expect("metrics");
        assert_eq!(log(a.path()).lines().count(), 6);
        let strip = |s: String| {
            s.lines()
                .map(|l| l.split("\"seconds\"").next().unwrap_or("").to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            strip(log(a.path())),
            strip(log(b.path())),
            "same losses step by step"
        );
        assert!(
            b.path().join("samples/step_0000003.png").exists()
                && b.path().join("samples.png").exists()
        );
    }
}

#[test]
fn every_loss_trains_with_finite_numbers() {
    for (loss, family) in [
        (Loss::Hinge, Family::SnResnet),
        (Loss::Ns, Family::Dcgan),
        (Loss::WganGp, Family::Dcgan),
    ] {
        let dir = tempfile::tempdir().expect("tmp");
        let mut o = opts(2);
        o.loss = loss;
        o.arch = family;
        o.rpgan = None;
        let mut tr = open(o, dir.path(), false, None).expect("open");
        let s = tr.train_step().expect("step");
        assert!(s.d_loss.is_finite() && s.g_loss.is_finite(), "{loss:?}");
        if loss == Loss::WganGp {
            assert!(s.gp > 0.0, "gradient penalty measured");
        }
    }
}

#[test]
fn a_non_finite_loss_stops_the_run_and_keeps_the_last_good_checkpoint() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut o = opts(40);
    o.lr = 1e25;
    o.checkpoint_every = 1;
    let err = run(o, dir.path(), false).expect_err("diverges");
    let TrainError::NonFinite { step, .. } = err else {
        panic!("expected NonFinite, got {err}")
    };
    assert!(err.to_string().contains("last good checkpoint is kept"));
    let (meta, _) = checkpoint::load(dir.path(), &Device::Cpu).expect("checkpoint still readable");
    assert_eq!(
        meta.step,
        step - 1,
        "the checkpoint is the last finished step"
    );
    // the kept checkpoint may hold huge weights but it is whole: export either succeeds or
    // refuses non-finite values with a typed error
    match export_bytes(
        dir.path(),
        ExportOptions {
            f16: false,
            ema: true,
            discriminator: true,
        },
    ) {
        Ok(_) => {}
        Err(TrainError::Model(ganscope_model::Error::InvalidFile(e))) => {
            assert!(e.to_string().contains("NaN or infinite"))
        }
        Err(e) => panic!("unexpected export error {e}"),
    }
}

#[test]
fn unusable_run_folders_fail_before_training() {
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"x").expect("write");
    let err = open(opts(1), &file.join("run"), false, None)
        .err()
        .expect("under a file");
    assert!(
        matches!(err, TrainError::Io { .. }) && err.to_string().contains("a-file"),
        "{err}"
    );
    let err = open(opts(1), dir.path(), true, None)
        .err()
        .expect("nothing to resume");
    assert!(err.to_string().contains("no checkpoint to resume"), "{err}");
    run(opts(1), dir.path(), false).expect("one step");
    let err = open(opts(1), dir.path(), false, None)
        .err()
        .expect("already a run");
    assert!(err.to_string().contains("--resume"), "{err}");
    let mut bad = opts(1);
    bad.data = "mnist:/nonexistent/mnist".into();
    let err = open(bad, &dir.path().join("other"), false, None)
        .err()
        .expect("no data");
    assert!(err.to_string().contains("/nonexistent/mnist"), "{err}");
}

#[test]
fn export_uses_the_ema_and_folds_spectral_norm() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut o = opts(3);
    o.ema = Some(0.5);
    run(o, dir.path(), false).expect("run");
    let eo = ExportOptions {
        f16: false,
        ema: true,
        discriminator: true,
    };
    let (meta, ema) = export_bytes(dir.path(), eo).expect("export");
    let (_, raw) = export_bytes(dir.path(), ExportOptions { ema: false, ..eo }).expect("export");
    assert!(meta
        .training
        .as_ref()
        .is_some_and(|t| t.ema && t.steps == 3));
    let (fe, fr) = (
        ganscope_model::format::ModelFile::parse(&ema).expect("parse"),
        ganscope_model::format::ModelFile::parse(&raw).expect("parse"),
    );
    let w = "g.bucket2.block0.layer2.conv.weight";
    assert_ne!(
        fe.data(w).expect("ema"),
        fr.data(w).expect("raw"),
        "the EMA weights differ from the raw ones"
    );
    // the exported discriminator weight is W / sigma computed with the run's u
    let (_, ck) = ganscope_train::checkpoint::load(dir.path(), &Device::Cpu).expect("checkpoint");
    let u = candle_core::Var::from_tensor(&ck["d.conv2.weight_u"]).expect("u");
    let folded =
        ganscope_train::spectral::spectral_norm(&ck["d.conv2.weight"], &u, false).expect("sn");
    let folded = folded
        .flatten_all()
        .and_then(|t| t.to_vec1::<f32>())
        .expect("values");
    assert_eq!(fe.data("d.conv2.weight").expect("d"), folded);
    let file = ganscope_model::format::ModelFile::parse(&ema).expect("parse");
    assert!(!file
        .tensors
        .keys()
        .any(|k| k.ends_with("_u") || k.starts_with("adam") || k.starts_with("ema")));
    let (_, no_d) = export_bytes(
        dir.path(),
        ExportOptions {
            discriminator: false,
            ..eo
        },
    )
    .expect("export");
    let file = ganscope_model::format::ModelFile::parse(&no_d).expect("parse");
    assert!(file.meta.discriminator.is_none() && !file.tensors.keys().any(|k| k.starts_with("d.")));
}

#[test]
fn a_batch_norm_discriminator_trains_exports_unfolded_and_refuses_what_it_cannot_do() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut o = opts(3);
    o.rpgan = None;
    o.d_norm = DNorm::Batch;
    run(o.clone(), dir.path(), false).expect("run");
    let (_, ck) = ganscope_train::checkpoint::load(dir.path(), &Device::Cpu).expect("checkpoint");
    let values = |k: &str| {
        ck[k]
            .flatten_all()
            .and_then(|t| t.to_vec1::<f32>())
            .expect("values")
    };
    assert!(
        !ck.contains_key("d.conv1.bn.weight"),
        "no BatchNorm after the first conv"
    );
    assert!(!ck.keys().any(|k| k.starts_with("d.") && k.ends_with("_u")));
    let tr = open(o.clone(), dir.path(), true, None).expect("resume");
    assert!(
        tr.store
            .trainable_with("d.")
            .iter()
            .all(|(n, _)| !n.contains("running_")),
        "the running statistics are state, not trained"
    );
    assert!(
        values("d.conv2.bn.running_mean").iter().any(|&m| m != 0.0),
        "training moved the discriminator's running statistics"
    );
    let eo = ExportOptions {
        f16: false,
        ema: false,
        discriminator: true,
    };
    let (meta, bytes) = export_bytes(dir.path(), eo).expect("export");
    assert_eq!(meta.discriminator.map(|d| d.norm), Some(DNorm::Batch));
    let file = ganscope_model::format::ModelFile::parse(&bytes).expect("parse");
    for k in [
        "d.conv2.weight",
        "d.conv2.bn.running_var",
        "d.linear.weight",
    ] {
        assert_eq!(
            file.data(k).expect(k),
            values(k),
            "{k} is stored as trained"
        );
    }
    for (loss, arch, what) in [
        (Loss::WganGp, Family::Dcgan, "gradient penalty"),
        (Loss::Hinge, Family::SnResnet, "dcgan only"),
    ] {
        let o = TrainOptions {
            loss,
            arch,
            ..o.clone()
        };
        let err = open(o, tempfile::tempdir().expect("tmp").path(), false, None)
            .err()
            .expect("refused")
            .to_string();
        assert!(err.contains(what), "{err}");
    }
}
