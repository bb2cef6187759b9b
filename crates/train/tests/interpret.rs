//! Interpretable training on real MNIST (tiny widths): the group loss is on, the learned
//! partition travels in the exported file, and an interrupted run resumes bit for bit
//! (the partition in use is part of the checkpoint).

use ganscope_train::export::{export_bytes, ExportOptions};
use ganscope_train::interpret::InterpretOptions;
use ganscope_train::options::TrainOptions;
use ganscope_train::run::{open, train};
use std::path::Path;

fn opts(steps: u64) -> TrainOptions {
    TrainOptions {
        limit: Some(256),
        width: 4,
        d_width: 4,
        latent_dim: 16,
        steps,
        batch: 8,
        seed: 3,
        checkpoint_every: 1,
        sample_every: 10,
        log_every: 1,
        interpret: Some(InterpretOptions {
            site: 1,
            groups: 3,
            weight: 1.0,
            exclusive: 1.0,
            every: 2,
        }),
        ..TrainOptions::default()
    }
}

fn bits(dir: &Path) -> std::collections::BTreeMap<String, Vec<u32>> {
    ganscope_train::checkpoint::load_bits(dir)
        .expect("the checkpoint loads")
        .1
}

#[test]
fn group_loss_trains_travels_and_resumes() {
    let (a, b) = (
        tempfile::tempdir().expect("tmp"),
        tempfile::tempdir().expect("tmp"),
    );
    let mut tr = open(opts(5), a.path(), false, None).expect("open");
    let mut seen = Vec::new();
    train(&mut tr, a.path(), &mut |s| seen.push(*s)).expect("train");
    assert!(seen
        .iter()
        .all(|s| s.group_pull.is_finite() && s.group_pull > 0.0 && s.group_push >= 0.0));
    let labels = tr.groups.clone().expect("a partition");
    assert_eq!(labels.len(), 8, "b2 of a width-4 dcgan has 8 filters");
    assert!(labels.iter().all(|&l| l < 3));
    let (meta, _) = export_bytes(
        a.path(),
        ExportOptions {
            f16: true,
            ema: true,
            discriminator: false,
        },
    )
    .expect("export");
    let learned = &meta.analysis.as_ref().expect("analysis")["learned_groups"];
    assert_eq!(learned["site"], "b2");
    assert_eq!(learned["k"], 3);
    let stored: Vec<usize> = serde_json::from_value(learned["labels"].clone()).expect("labels");
    assert_eq!(stored, labels);
    // stop at step 3 (between re-partitions at 2 and 4), resume to 5
    let mut tr = open(opts(3), b.path(), false, None).expect("open");
    train(&mut tr, b.path(), &mut |_| {}).expect("train");
    drop(tr);
    let mut tr = open(opts(5), b.path(), true, Some(5)).expect("resume");
    train(&mut tr, b.path(), &mut |_| {}).expect("train");
    assert_eq!(
        bits(a.path()),
        bits(b.path()),
        "resumed equals uninterrupted"
    );
}

#[test]
fn impossible_groups_are_refused() {
    let dir = tempfile::tempdir().expect("tmp");
    let with = |io: InterpretOptions| {
        open(
            TrainOptions {
                interpret: Some(io),
                ..opts(1)
            },
            dir.path(),
            false,
            None,
        )
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default()
    };
    let base = opts(1).interpret.expect("io");
    let e = with(InterpretOptions {
        site: 7,
        ..base.clone()
    });
    assert!(e.contains("site b8 does not exist"), "{e}");
    let e = with(InterpretOptions {
        groups: 9,
        ..base.clone()
    });
    assert!(
        e.contains("9 groups of site b2, which has 8 filters"),
        "{e}"
    );
    let e = with(InterpretOptions { groups: 1, ..base });
    assert!(e.contains("at least 2"), "{e}");
}
